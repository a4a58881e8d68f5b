"""Durable workflows (fastn.step): replay, sleeps, events, retries, controls — on a real worker,
the real database and Redis, real V8."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time

import pytest

from apps.datastore.state import StateScope, state_get
from apps.executions.models import Execution, ExecutionStep, Status, StepStatus
from apps.executions.services import (
    ControlConflict,
    execution_control,
    execution_create,
    execution_dispatch,
    execution_reap,
    instance_event_send,
)
from apps.spaces.audit import Actor
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")


def start(workflow, input=None, *, dispatch=True) -> Execution:
    execution = execution_create(
        workflow, version=None, code=None, input=input or {}, headers={},
        triggered_by="api", actor=None,
    )  # fmt: skip
    if dispatch:
        execution_dispatch(execution)
    return execution


def wait_status(execution, statuses, timeout=20.0, reap=False) -> Execution:
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution.refresh_from_db()
        if execution.status in statuses:
            return execution
        if reap:
            execution_reap()
        time.sleep(0.05)
    raise AssertionError(f"run {execution.id} is {execution.status}, not {statuses}: "
                         f"{execution.error}")  # fmt: skip


def counter(workflow, key) -> int:
    scope = StateScope(space_id=workflow.space_id, customer_id=None,
                       workflow_key=str(workflow.id), invocation_id="")  # fmt: skip
    return state_get(scope, key) or 0


def steps_of(execution) -> list[ExecutionStep]:
    return list(ExecutionStep.objects.filter(execution=execution))


REPLAY = """
export default async function (ctx) {
  const one = await ctx.step.do("one", async () => {
    await fastn.state.incr("one");
    return { n: 1 };
  });
  await fastn.state.incr("outside");
  await ctx.step.sleep("nap", "1 second");
  const two = await fastn.step.do("two", async () => {
    await fastn.state.incr("two");
    return one.n + 1;
  });
  return { one, two };
}
"""


def test_a_sleep_ends_the_attempt_and_the_replay_returns_stored_results(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="replay", code=REPLAY, tier="standard")
    execution = start(workflow)
    wait_status(execution, Status.WAITING)
    assert execution.instance_status == "waiting"
    nap = ExecutionStep.objects.get(execution=execution, name="nap")
    assert nap.status == StepStatus.SLEEPING and nap.kind == "sleep"
    assert execution.due_at == nap.wake_at
    # The countdown message wakes it without any sweep.
    wait_status(execution, Status.COMPLETED, timeout=15)
    assert execution.output == {"one": {"n": 1}, "two": 2}
    assert execution.replays == 1
    # Each step's side effect happened once; code outside steps ran in both attempts.
    assert (counter(workflow, "one"), counter(workflow, "two"), counter(workflow, "outside")) == (
        1, 1, 2,
    )  # fmt: skip
    assert [(s.name, s.status) for s in steps_of(execution)] == [
        ("one", "complete"), ("nap", "complete"), ("two", "complete"),
    ]  # fmt: skip
    statuses = list(execution.attempt_set.values_list("status", flat=True))
    assert statuses == ["waiting", "completed"]


WAIT = """
export default async function (ctx, step) {
  await step.do("prepare", async () => "ready");
  try {
    const options = { type: "approved", timeout: ctx.input.timeout };
    const ev = await step.waitForEvent("approval", options);
    return { by: ev.payload.by, type: ev.type, at: typeof ev.timestamp };
  } catch (e) {
    return { timedOut: e.message, name: e.name };
  }
}
"""


def test_wait_for_event_delivered_after_the_wait_started(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="approve", code=WAIT, tier="standard")
    execution = start(workflow, {"timeout": "1 hour"})
    wait_status(execution, Status.WAITING)
    step = ExecutionStep.objects.get(execution=execution, name="approval")
    assert step.status == StepStatus.WAITING and step.event_type == "approved"
    instance_event_send(execution, type="other", payload={"x": 1})  # not what it waits for
    instance_event_send(execution, type="approved", payload={"by": "ana"})
    wait_status(execution, Status.COMPLETED)
    assert execution.output == {"by": "ana", "type": "approved", "at": "string"}
    # The event of another type is kept for a wait that may ask for it.
    assert execution.event_set.get(type="other").taken_by == ""


def test_wait_for_event_delivered_before_the_wait_started(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="approve", code=WAIT, tier="standard")
    execution = start(workflow, {"timeout": "1 hour"}, dispatch=False)
    instance_event_send(execution, type="approved", payload={"by": "early"})
    execution_dispatch(execution)
    wait_status(execution, Status.COMPLETED)
    assert execution.output["by"] == "early"
    assert execution.replays == 0  # it never had to wait


def test_wait_for_event_timeout_throws_a_catchable_error(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="approve", code=WAIT, tier="standard")
    execution = start(workflow, {"timeout": "1 second"})
    wait_status(execution, Status.COMPLETED, timeout=15)
    assert execution.output["name"] == "WaitForEventTimeoutError"
    assert 'No "approved" event arrived' in execution.output["timedOut"]
    with pytest.raises(ControlConflict) as exc:
        instance_event_send(execution, type="approved", payload={})
    assert exc.value.status == "complete"


RETRIES = """
export default async function (ctx) {
  let tries = 0;
  const value = await fastn.step.do("flaky", { retries: { limit: 3, delay: ctx.input.delay,
      backoff: ctx.input.backoff } }, async () => {
    tries++;
    if (await fastn.state.incr("tries") < 3) throw new Error("not yet");
    return "ok";
  });
  return value;
}
"""


@pytest.mark.parametrize(
    ("backoff", "delay", "gaps"),
    [
        ("constant", 300, (300, 300)),
        ("linear", 300, (300, 600)),
        ("exponential", 300, (300, 600)),
        ("constant", 1500, (1500, 1500)),  # longer than a second: the attempt ends between
    ],
)
def test_step_retry_timing_for_each_backoff(cast, celery_worker, backoff, delay, gaps):
    workflow = make_workflow(cast.space, slug=f"flaky-{backoff}-{delay}", code=RETRIES,
                             tier="standard", timeout=30)  # fmt: skip
    execution = start(workflow, {"delay": delay, "backoff": backoff})
    wait_status(execution, Status.COMPLETED, timeout=30)
    assert execution.output == "ok"
    (step,) = steps_of(execution)
    starts = [dt.datetime.fromisoformat(a["start"].replace("Z", "+00:00")) for a in step.attempts]
    assert [a["success"] for a in step.attempts] == [False, False, True]
    assert step.attempts[0]["error"] == {"name": "Error", "message": "not yet"}
    measured = [(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(starts)]
    for got, expected in zip(measured, gaps, strict=True):
        assert expected - 5 <= got <= expected + 1500, (measured, gaps)
    assert execution.replays == (2 if delay > 1000 else 0)


EXHAUSTED = """
export default async function () {
  try {
    await fastn.step.do("always fails", { retries: { limit: 1, delay: 10 } }, async () => {
      throw new TypeError("broken input");
    });
  } catch (e) {
    return { caught: e.message, name: e.name, code: e.code };
  }
}
"""


def test_a_step_whose_retries_are_exhausted_throws_into_the_workflow(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="exhausted", code=EXHAUSTED, tier="standard")
    execution = wait_status(start(workflow), Status.COMPLETED)
    assert execution.output == {"caught": "broken input", "name": "TypeError",
                                "code": "STEP_FAILED"}  # fmt: skip
    (step,) = steps_of(execution)
    assert step.status == StepStatus.ERRORED and len(step.attempts) == 2


def test_the_instant_tier_refuses_sleeps_and_waits_at_the_call(cast, celery_worker):
    code = """export default async function (ctx) {
  const a = await ctx.step.do("fine", async () => 1);
  await ctx.step.sleep("nap", "1 second");
  return a;
}"""
    workflow = make_workflow(cast.space, slug="quick", code=code, tier="instant")
    execution = wait_status(start(workflow), Status.FAILED)
    assert execution.error["code"] == "RUNTIME_ERROR"
    assert "step.sleep is not available in the instant tier" in execution.error["message"]
    assert execution.error["line"] == 3


def test_duplicate_step_names_are_an_error_naming_the_line(cast, celery_worker):
    code = """export default async function (ctx) {
  for (const i of [1, 2]) {
    await ctx.step.do("same", async () => i);
  }
}"""
    workflow = make_workflow(cast.space, slug="dup", code=code, tier="standard")
    execution = wait_status(start(workflow), Status.FAILED)
    assert (
        'Step name "same" at line 3 is already used by the step at line 3'
        in (execution.error["message"])
    )


def test_an_oversized_step_result_is_a_clear_error_and_nothing_is_stored(cast, celery_worker):
    code = """export default async function (ctx) {
  try {
    await ctx.step.do("big", { retries: { limit: 0 } }, async () => "x".repeat(1100000));
  } catch (e) { return e.message; }
}"""
    workflow = make_workflow(cast.space, slug="big", code=code, tier="standard")
    execution = wait_status(start(workflow), Status.COMPLETED)
    assert "must be at most 1 MiB" in execution.output
    (step,) = steps_of(execution)
    assert step.status == StepStatus.ERRORED and step.output is None


MANY_STEPS = """
export default async function (ctx) {
  const done = [];
  for (let i = 0; i < 12; i++) {
    done.push(await ctx.step.do(`step ${i}`, async () => {
      await fastn.state.incr("runs");
      await new Promise((resolve) => setTimeout(resolve, 150));
      return i;
    }));
  }
  return done.length;
}
"""


def wait_for_steps(execution, count, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ExecutionStep.objects.filter(execution=execution, status=StepStatus.COMPLETE)
        if done.count() >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} steps done")


def test_pause_takes_effect_at_a_step_boundary_and_resume_finishes(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="many", code=MANY_STEPS, tier="standard", timeout=30)
    execution = start(workflow)
    wait_for_steps(execution, 2)
    paused = execution_control(execution, "pause", actor=SYSTEM)
    assert paused.instance_status in ("waitingForPause", "paused")
    wait_status(execution, Status.PAUSED)
    assert execution.instance_status == "paused"
    done_when_paused = ExecutionStep.objects.filter(execution=execution).count()
    assert done_when_paused < 12
    time.sleep(0.5)
    assert ExecutionStep.objects.filter(execution=execution).count() == done_when_paused
    with pytest.raises(ControlConflict):
        execution_control(execution, "pause", actor=SYSTEM)
    execution_control(execution, "resume", actor=SYSTEM)
    wait_status(execution, Status.COMPLETED, timeout=30)
    assert execution.output == 12
    assert counter(workflow, "runs") == 12  # no step ran twice


def test_terminate_stops_a_running_instance_for_good(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="many", code=MANY_STEPS, tier="standard", timeout=30)
    execution = start(workflow)
    wait_for_steps(execution, 1)
    execution_control(execution, "terminate", actor=SYSTEM)
    wait_status(execution, Status.CANCELLED)
    assert execution.instance_status == "terminated"
    ran = counter(workflow, "runs")
    time.sleep(0.5)
    assert counter(workflow, "runs") == ran < 12
    with pytest.raises(ControlConflict) as exc:
        execution_control(execution, "resume", actor=SYSTEM)
    assert exc.value.status == "terminated"


def test_restart_while_running_stops_the_attempt_and_starts_over(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="many", code=MANY_STEPS, tier="standard", timeout=30)
    execution = start(workflow)
    wait_for_steps(execution, 2)
    execution_control(execution, "restart", actor=SYSTEM)
    wait_status(execution, Status.COMPLETED, timeout=40)
    assert execution.output == 12
    before_restart = counter(workflow, "runs") - 12
    assert 2 <= before_restart < 12  # the stored results were discarded: every step ran again
    assert execution.attempts == 1 and execution.replays == 0


def test_a_waiting_instance_can_be_paused_resumed_and_terminated(cast, celery_worker):
    workflow = make_workflow(cast.space, slug="approve", code=WAIT, tier="standard")
    execution = start(workflow, {"timeout": "1 hour"})
    wait_status(execution, Status.WAITING)
    assert execution_control(execution, "pause", actor=SYSTEM).status == Status.PAUSED
    # An event for a paused instance is kept, delivered once it resumes.
    instance_event_send(execution, type="approved", payload={"by": "later"})
    time.sleep(0.3)
    assert Execution.objects.get(pk=execution.pk).status == Status.PAUSED
    execution_control(execution, "resume", actor=SYSTEM)
    wait_status(execution, Status.COMPLETED)
    assert execution.output["by"] == "later"

    second = start(workflow, {"timeout": "1 hour"})
    wait_status(second, Status.WAITING)
    execution_control(second, "terminate", actor=SYSTEM)
    second.refresh_from_db()
    assert second.status == Status.CANCELLED and second.error["code"] == "TERMINATED"


def test_pure_steps_are_stored_and_replayed_with_their_first_result(cast, celery_worker):
    """Steps that make no host call are written in batches (before any other call and when
    the attempt ends): the replay returns exactly what they returned the first time."""
    code = """export default async function (ctx) {
  const values = [];
  for (let i = 0; i < 30; i++) {
    values.push(await ctx.step.do(`random ${i}`, async () => Math.random()));
  }
  await ctx.step.sleep("nap", "1 second");
  return values;
}"""
    workflow = make_workflow(cast.space, slug="pure", code=code, tier="standard")
    execution = start(workflow)
    wait_status(execution, Status.WAITING)
    stored = [s.output for s in steps_of(execution) if s.kind == "do"]
    assert len(stored) == 30 and all(s.status == "complete" for s in steps_of(execution)[:30])
    wait_status(execution, Status.COMPLETED, timeout=15)
    assert execution.output == stored


def test_a_default_config_step_retried_after_a_long_delay_resumes_its_retry(cast, celery_worker):
    """The first retry of the default config waits 10 s: the attempt ends, and the replay
    finds the step waiting to retry (not a new step)."""
    code = """export default async function (ctx) {
  return await ctx.step.do("eventually", async () => {
    if (await fastn.state.incr("tries") < 2) throw new Error("not yet");
    return "ok";
  });
}"""
    workflow = make_workflow(cast.space, slug="slow-retry", code=code, tier="standard")
    execution = start(workflow)
    wait_status(execution, Status.WAITING)
    (step,) = steps_of(execution)
    assert step.status == StepStatus.RETRYING
    assert 9.5 <= (step.wake_at - step.started_at).total_seconds() <= 11
    # Due now: the sweep (the reaper) wakes it as it would in 10 s.
    ExecutionStep.objects.filter(pk=step.pk).update(wake_at=dt.datetime.now(dt.UTC))
    Execution.objects.filter(pk=execution.pk).update(due_at=dt.datetime.now(dt.UTC))
    wait_status(execution, Status.COMPLETED, reap=True)
    assert execution.output == "ok"
    (step,) = steps_of(execution)
    assert [a["success"] for a in step.attempts] == [False, True]


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_kept_back_steps_are_written_in_one_batch_on_either_database(cast, monkeypatch, vendor):
    """The batch INSERT of finished steps (PostgreSQL: one statement from a JSON array; other
    databases: bulk_create) writes rows the timeline and a replay read back alike."""
    import threading
    import types

    from apps.executions import steps as steps_module
    from apps.executions.steps import DurableSteps

    if vendor != "postgresql":
        monkeypatch.setattr(steps_module, "connection", types.SimpleNamespace(vendor=vendor))
    workflow = make_workflow(cast.space, slug="batch", tier="standard")
    execution = start(workflow, dispatch=False)
    store = DurableSteps(execution.id, instant=False, pause=threading.Event())
    store.step_preload()
    started = time.time() * 1000
    for n, output in enumerate([{"a": [1, 2]}, "text", None, 3.5]):
        begun = {"name": f"s{n}", "line": 4 + n, "start": started, "options": None}
        assert store.step_end(f"s{n}", json.dumps(output), begun) == {"state": "done"}
    assert not ExecutionStep.objects.filter(execution=execution).exists()  # kept back
    store.flush()
    rows = steps_of(execution)
    assert [(r.name, r.status, r.position, r.line, r.output) for r in rows] == [
        ("s0", "complete", 0, 4, {"a": [1, 2]}), ("s1", "complete", 1, 5, "text"),
        ("s2", "complete", 2, 6, None), ("s3", "complete", 3, 7, 3.5),
    ]  # fmt: skip
    assert rows[0].config == {"retries": {"limit": 5, "delay": 10000, "backoff": "exponential"},
                              "timeout": 600000}  # fmt: skip
    assert rows[0].attempts[0]["success"] is True and rows[0].finished_at >= rows[0].started_at
    replay = DurableSteps(execution.id, instant=False, pause=threading.Event())
    assert replay.step_preload()["s1"] == {"kind": "do", "status": "complete", "output": "text",
                                           "error": None}  # fmt: skip


def test_a_first_attempt_reads_no_stored_steps_and_every_later_one_does(cast):
    """The first attempt (attempts == 1 once claimed) of a run cannot have stored steps, so
    it does not look for them; a replay reads them in one query."""
    import threading

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.executions.services.running import claim
    from apps.executions.steps import DurableSteps

    workflow = make_workflow(cast.space, slug="first", tier="standard")
    execution = start(workflow, dispatch=False)
    assert claim(str(execution.id)).execution.attempts == 1
    first = DurableSteps(execution.id, instant=False, pause=threading.Event(), first=True)
    with CaptureQueriesContext(connection) as queries:
        assert first.step_preload() == {}
        begun = {"name": "a", "line": 2, "start": time.time() * 1000, "options": None}
        assert first.step_end("a", "1", begun) == {"state": "done"}
    assert not [q for q in queries.captured_queries if "executions_executionstep" in q["sql"]]
    first.flush()
    replay = DurableSteps(execution.id, instant=False, pause=threading.Event())
    assert replay.step_preload()["a"]["output"] == 1


def test_a_test_tab_run_that_sleeps_answers_with_its_waiting_state(client, cast, celery_worker):
    from django.urls import reverse

    from tests.conftest import login

    code = """export default async function (ctx) {
  await ctx.step.do("first", async () => 1);
  await ctx.step.sleep("later", "1 hour");
}"""
    workflow = make_workflow(cast.space, slug="sleeper", code=code, tier="standard")
    login(client, cast.developer)
    test_url = reverse("workflow_test", kwargs={"space_slug": cast.space.slug,
                                                "workflow_id": workflow.id})  # fmt: skip
    response = client.post(test_url, {"input": "{}", "code": code}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-status="waiting"' in body and ">Waiting<" in body
    assert "A step sleeps or waits for an event (until" in body
    assert "the run goes on in the background; follow it on its" in body
    execution = Execution.objects.get(workflow=workflow)
    assert execution.status == Status.WAITING and execution.triggered_by == "manual"
