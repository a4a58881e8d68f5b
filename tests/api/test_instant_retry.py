"""Instant retries are re-dispatched with a countdown, not slept in the worker thread, and stay
within the caller's timeout. One worker thread serves the instant queue here, so a retry that
slept in it would hold up every other instant run."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from apps.executions.models import Execution, ExecutionAttempt
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = """export default async (ctx) => {
  if (ctx.execution.attempt === 1) {
    const error = new Error("upstream hiccup");
    error.retryable = true;
    throw error;
  }
  return { attempt: ctx.execution.attempt };
}
"""


@pytest.fixture(scope="module")
def one_instant_thread(django_db_setup, django_db_blocker):
    import celery.contrib.testing.tasks  # noqa: F401  registers celery.ping
    from celery.contrib.testing.worker import start_worker

    from fastn_console.celery import app

    with (
        django_db_blocker.unblock(),
        start_worker(app, pool="threads", concurrency=1, queues=["instant"],
                     perform_ping_check=False, shutdown_timeout=15) as worker,
    ):  # fmt: skip
        yield worker


def test_a_retry_waits_in_the_queue_and_other_runs_go_first(one_instant_thread, api, cast):
    publish(make_workflow(
        cast.space, slug="flaky", code=FLAKY, timeout=20, retry_enabled=True,
        retry_max_attempts=2, retry_initial_interval_ms=6000,
    ))  # fmt: skip
    publish(make_workflow(cast.space, slug="echo"))
    answers = {}

    def call_flaky():
        try:
            answers["flaky"] = api("flaky", http=Client())
        finally:
            connection.close()

    caller = threading.Thread(target=call_flaky)
    caller.start()
    deadline = time.monotonic() + 15
    while not ExecutionAttempt.objects.filter(execution__workflow__slug="flaky").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # The first attempt failed and its retry is due in 6 s (room for a loaded machine): the one
    # worker thread is free.
    echo = api("echo", {"input": {"n": 1}})
    caller.join(timeout=30)
    assert echo.status_code == 200 and echo.json()["input"] == {"n": 1}
    assert answers["flaky"].status_code == 200 and answers["flaky"].json() == {"attempt": 2}
    flaky = Execution.objects.get(workflow__slug="flaky")
    second = ExecutionAttempt.objects.get(execution=flaky, number=2)
    assert Execution.objects.get(workflow__slug="echo").finished_at < second.started_at
    first = ExecutionAttempt.objects.get(execution=flaky, number=1)
    assert (second.started_at - first.finished_at).total_seconds() >= 5.9


def test_a_retry_past_the_callers_timeout_ends_the_run(one_instant_thread, api, cast):
    publish(make_workflow(
        cast.space, slug="flaky", code=FLAKY, timeout=2, retry_enabled=True,
        retry_max_attempts=3, retry_initial_interval_ms=5000,
    ))  # fmt: skip
    started = time.monotonic()
    response = api("flaky")
    assert time.monotonic() - started < 5
    assert response.status_code == 422 and response.json()["code"] == "WORKFLOW_ERROR"
    execution = Execution.objects.get(workflow__slug="flaky")
    assert execution.status == "failed" and execution.attempts == 1
