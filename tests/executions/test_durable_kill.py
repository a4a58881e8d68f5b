"""Durable runs survive anything: SIGKILL a worker in the middle of a step, stop every process
(and lose Redis's messages) while a run sleeps. Real worker processes, beat and housekeeping."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer

import pytest
from django.conf import settings

from apps.datastore.state import StateScope, state_get
from apps.executions.models import Execution, ExecutionStep, Status
from fastn_console import taskmessage
from tests.executions.factories import make_workflow
from tests.executions.test_worker_kill import (
    KillOnRequest,
    enqueue,
    kill,
    start_housekeeping,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def count(workflow, key) -> int:
    scope = StateScope(space_id=workflow.space_id, customer_id=None,
                       workflow_key=str(workflow.id), invocation_id="")  # fmt: skip
    return state_get(scope, key) or 0


def test_a_worker_killed_in_step_9_resumes_at_step_9(cast, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), KillOnRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/kill"
    code = f"""export default async function (ctx) {{
  const results = [];
  for (let i = 1; i <= 10; i++) {{
    results.push(await ctx.step.do(`step ${{i}}`, {{ retries: {{ limit: 2, delay: 100 }} }},
      async () => {{
        if (i === 9 && (await fastn.state.incr("kills")) === 1) {{
          await fastn.connector.http.request({{ url: "{url}" }});
        }}
        await fastn.state.incr(`done ${{i}}`);
        return i * 10;
      }}));
  }}
  return results;
}}"""
    workflow = make_workflow(cast.space, slug="ten-steps", tier="standard", timeout=30, code=code)
    housekeeping = start_housekeeping(tmp_path)
    worker = start_worker("durable1")
    KillOnRequest.worker_pid = worker.pid
    second = None
    try:
        [execution] = enqueue(workflow, 1)
        wait_until(lambda: worker.poll() is not None, timeout=60)
        second = start_worker("durable2")  # what supervisord does
        row = Execution.objects.filter(pk=execution.pk)
        wait_until(lambda: row.get().status == Status.COMPLETED, timeout=60)
    finally:
        server.shutdown()
        for process in [worker, second, *housekeeping]:
            if process is not None and process.poll() is None:
                kill(process)
    execution.refresh_from_db()
    assert execution.output == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    # Steps 1-8 never ran twice; step 9's side effect (after the kill) happened once.
    assert [count(workflow, f"done {i}") for i in range(1, 11)] == [1] * 10
    step9 = ExecutionStep.objects.get(execution=execution, name="step 9")
    assert [a["success"] for a in step9.attempts] == [False, True]
    assert step9.attempts[0]["error"]["name"] == "WorkerLost"
    assert execution.replays == 1


def test_a_sleep_survives_stopping_every_process_and_losing_the_queue(cast, tmp_path):
    code = """export default async function (ctx) {
  const before = await ctx.step.do("before", async () => fastn.state.incr("before"));
  await ctx.step.sleep("nap", "2 seconds");
  const after = await ctx.step.do("after", async () => fastn.state.incr("after"));
  return { before, after };
}"""
    workflow = make_workflow(cast.space, slug="napper", tier="standard", timeout=30, code=code)
    processes = [*start_housekeeping(tmp_path), start_worker("sleeper1")]
    try:
        [execution] = enqueue(workflow, 1)
        row = Execution.objects.filter(pk=execution.pk)
        wait_until(lambda: row.get().status == Status.WAITING, timeout=60)
        for process in processes:
            kill(process)
        # Whatever the broker held for it (the countdown wake-up) is gone too.
        redis = taskmessage.client(settings.CELERY_BROKER_URL)
        for key in redis.keys("standard*") + redis.keys("unacked*"):
            redis.delete(key)
        time.sleep(3)  # the sleep ends while nothing runs
        assert row.get().status == Status.WAITING
        processes = [*start_housekeeping(tmp_path), start_worker("sleeper2")]
        wait_until(lambda: row.get().status == Status.COMPLETED, timeout=60)
    finally:
        for process in processes:
            if process.poll() is None:
                kill(process)
    execution.refresh_from_db()
    assert execution.output == {"before": 1, "after": 1}
    assert (count(workflow, "before"), count(workflow, "after")) == (1, 1)


def test_a_worker_killed_inside_a_step_without_host_calls_resumes_there(cast, tmp_path):
    """A step with no host call is not recorded until it ends: a worker dying inside it finds
    no running step, and the run resumes on the strength of its stored steps (a run lost that
    way three times in a row stops resuming)."""
    code = """export default async function (ctx) {
  for (let i = 1; i <= 4; i++) {
    await ctx.step.do(`count ${i}`, async () => fastn.state.incr(`done ${i}`));
  }
  const spun = await ctx.step.do("spin", async () => {
    const until = Date.now() + 4000;
    while (Date.now() < until) {}
    return "spun";
  });
  return spun;
}"""
    workflow = make_workflow(cast.space, slug="spinner", tier="standard", timeout=30, code=code)
    housekeeping = start_housekeeping(tmp_path)
    worker = start_worker("spin1")
    second = None
    try:
        [execution] = enqueue(workflow, 1)
        done = ExecutionStep.objects.filter(execution_id=execution.pk, name="count 4")
        wait_until(lambda: done.filter(status="complete").exists(), timeout=60)
        time.sleep(0.5)  # inside "spin"
        kill(worker)
        second = start_worker("spin2")
        row = Execution.objects.filter(pk=execution.pk)
        wait_until(lambda: row.get().status == Status.COMPLETED, timeout=60)
    finally:
        for process in [worker, second, *housekeeping]:
            if process is not None and process.poll() is None:
                kill(process)
    execution.refresh_from_db()
    assert execution.output == "spun"
    assert [count(workflow, f"done {i}") for i in range(1, 5)] == [1, 1, 1, 1]
    assert execution.attempt_set.filter(error__code="WORKER_LOST").count() == 1
