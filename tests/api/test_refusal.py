"""The window between sending an instant run and waiting for it: if Redis cannot be reached to
wait, the run is refused for good unless a worker already took it."""

from __future__ import annotations

import socket

import pytest
import redis

from apps.executions.models import Execution
from apps.executions.services import (
    claim,
    execution_create,
    execution_perform,
    refuse_pending,
    waiting,
)
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sent_but_not_awaited_is_refused_and_a_late_delivery_does_not_run_it(cast, monkeypatch):
    """The message reached the queue (no worker serves it yet), then Redis failed the wait."""
    workflow = make_workflow(cast.space)
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=1)
    # The Redis client that waits for the end (the message itself goes through Celery).
    monkeypatch.setattr(waiting, "_redis", dead)
    execution = waiting.execution_run_sync(workflow, input={}, headers={})
    assert execution.status == "failed" and execution.error["code"] == "SERVICE_UNAVAILABLE"
    # The message is still in the queue; when a worker gets it, there is nothing to run.
    assert execution_perform(str(execution.id)) == "skipped"
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.attempts == 0


def test_a_run_a_worker_already_took_is_not_refused(cast):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    assert claim(str(execution.id)) is not None
    assert not refuse_pending(execution, "test")
    assert Execution.objects.get(pk=execution.pk).status == "running"


def test_no_instant_worker_answers_503_and_the_run_never_happens(cast, api):
    """Nothing serves the instant queue: the caller is refused after the timeout + grace, and
    the message a worker finds later runs nothing."""
    publish(make_workflow(cast.space, timeout=1))
    response = api("echo")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "SERVICE_UNAVAILABLE" and int(response["Retry-After"]) > 0
    assert execution_perform(body["executionId"]) == "skipped"
    assert Execution.objects.get(pk=body["executionId"]).attempts == 0
