"""Executions end to end: a real Celery worker, real sandboxes, real PostgreSQL."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from apps.executions.models import Execution, ExecutionAttempt
from apps.executions.services import (
    execution_cancel,
    execution_create,
    execution_dispatch,
    execution_run_sync,
)
from apps.spaces.audit import Actor
from tests.conftest import login
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def wait_terminal(execution, timeout=20.0) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution.refresh_from_db()
        if execution.is_terminal:
            return execution
        time.sleep(0.05)
    raise AssertionError(f"execution still {execution.status} after {timeout}s")


def test_draft_run_completes_and_is_recorded(celery_worker, cast):
    workflow = make_workflow(cast.space)
    execution = execution_run_sync(
        workflow,
        code=workflow.draft_code,
        input={"name": "Ada"},
        headers={"x-trace": "1"},
        actor=Actor.for_user(cast.owner),
    )
    assert execution.status == "completed"
    assert execution.output == {"ok": True, "input": {"name": "Ada"}}
    assert execution.attempts == 1 and execution.version_number is None
    assert execution.triggered_by == "manual" and execution.duration_ms > 0
    assert execution.started_at and execution.finished_at
    assert ExecutionAttempt.objects.get(execution=execution).status == "completed"


def test_syntax_error_is_not_retried(celery_worker, cast):
    workflow = make_workflow(cast.space, code="export default async function (ctx) {\n  return {\n")
    execution = execution_run_sync(workflow, code=workflow.draft_code, input={}, headers={})
    assert execution.status == "failed"
    assert execution.error["code"] == "SYNTAX_ERROR"
    assert execution.attempts == 1


def test_failed_attempts_are_retried_with_the_policy(celery_worker, cast):
    # Only transient failures are retried; the code marks this one so.
    workflow = make_workflow(
        cast.space,
        tier="standard",
        timeout=10,
        code=(
            "export default async (ctx) => "
            "{ throw fastn.retryable(new Error('boom ' + ctx.execution.attempt)) }"
        ),
        retry_enabled=True,
        retry_max_attempts=3,
        retry_initial_interval_ms=100,
        retry_backoff_coefficient=2,
        retry_max_interval_ms=1000,
    )
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    started = time.monotonic()
    execution_dispatch(execution)
    execution = wait_terminal(execution)
    assert execution.status == "failed"
    assert execution.attempts == 3
    attempts = list(ExecutionAttempt.objects.filter(execution=execution))
    assert [a.number for a in attempts] == [1, 2, 3]
    assert [a.error["message"] for a in attempts] == [
        "Error: boom 1",
        "Error: boom 2",
        "Error: boom 3",
    ]
    # 100 ms then 200 ms between attempts.
    assert time.monotonic() - started >= 0.3
    gap = (attempts[2].started_at - attempts[1].finished_at).total_seconds()
    assert gap >= 0.19


def test_a_thrown_code_error_is_not_retried_even_with_the_policy_on(celery_worker, cast):
    workflow = make_workflow(
        cast.space,
        tier="standard",
        timeout=10,
        code="export default async (ctx) => { throw new TypeError('bad input') }",
        retry_enabled=True,
        retry_max_attempts=3,
        retry_initial_interval_ms=100,
    )
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(execution)
    execution = wait_terminal(execution)
    assert execution.status == "failed"
    assert execution.error["message"] == "TypeError: bad input"
    assert execution.attempts == 1


def test_state_is_durable_between_runs_and_scoped_to_the_workflow(celery_worker, cast):
    code = """
    export default async function (ctx) {
      const seen = (await fastn.state.get("count")) ?? 0;
      await fastn.state.set("count", seen + 1);
      await fastn.state.set("tmp", 1, { scope: "invocation" });
      return { seen };
    }"""
    workflow = make_workflow(cast.space, code=code)
    outputs = [
        execution_run_sync(workflow, code=code, input={}, headers={}).output["seen"]
        for _ in range(3)
    ]
    assert outputs == [0, 1, 2]
    other = make_workflow(cast.space, slug="other", code=code)
    assert execution_run_sync(other, code=code, input={}, headers={}).output == {"seen": 0}


def test_cancel_stops_a_running_execution(celery_worker, cast):
    workflow = make_workflow(
        cast.space,
        tier="standard",
        timeout=60,
        code="export default async () => { await null; while (true) {} }",
    )
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(execution)
    deadline = time.monotonic() + 10
    while execution.status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        execution.refresh_from_db()
    assert execution_cancel(execution, actor=Actor.for_user(cast.owner))
    execution = wait_terminal(execution, timeout=5)
    assert execution.status == "cancelled"
    assert execution.attempts == 1


def test_instant_timeout_is_reported(celery_worker, cast):
    workflow = make_workflow(
        cast.space, timeout=1, code="export default async () => { while (true) {} }"
    )
    started = time.monotonic()
    execution = execution_run_sync(workflow, code=workflow.draft_code, input={}, headers={})
    assert execution.status == "timeout"
    assert time.monotonic() - started < 1 + 3


def test_executions_page_lists_and_isolates(celery_worker, client, cast):
    workflow = make_workflow(cast.space)
    mine = execution_run_sync(workflow, code=workflow.draft_code, input={}, headers={})
    theirs_wf = make_workflow(cast.other_space, slug="theirs")
    theirs = execution_run_sync(theirs_wf, code=theirs_wf.draft_code, input={}, headers={})
    login(client, cast.viewer)
    page = client.get(reverse("executions", args=[cast.space.slug])).content.decode()
    assert str(mine.id) in page and str(theirs.id) not in page
    url = reverse("execution_detail", args=[cast.space.slug, theirs.id])
    assert client.get(url).status_code == 404
    cancel = reverse("execution_cancel", args=[cast.space.slug, mine.id])
    assert client.post(cancel).status_code == 403  # viewer


def test_the_end_is_announced_only_where_someone_may_wait(celery_worker, cast):
    """A standard-tier workflow run from the console goes through the instant queue, and its
    caller hears the end at once; a standard run that was answered 202 leaves nothing in
    Redis for a waiter that does not exist (running.py execution_perform)."""
    from apps.executions.services.waiting import END_KEY, redis_client

    workflow = make_workflow(cast.space, tier="standard", timeout=30)
    started = time.monotonic()
    ran = execution_run_sync(workflow, code=workflow.draft_code, input={}, headers={})
    assert ran.status == "completed" and time.monotonic() - started < 10  # not the 35 s wait
    assert redis_client().exists(END_KEY.format(ran.id)) == 0  # the waiter took the message

    accepted = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(accepted)
    assert wait_terminal(accepted).status == "completed"
    # The row ends before the task does: check once the worker is done with it.
    from celery.worker import state

    deadline = time.monotonic() + 10
    while state.active_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert redis_client().exists(END_KEY.format(accepted.id)) == 0
