"""The wake-up sweep of durable runs, in a module without a Celery worker (the messages it
sends stay in the queue for the test to count)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings

from apps.executions.models import Execution, Status
from apps.executions.services import execution_reap
from fastn_console import taskmessage
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_thousand_due_wake_ups_are_queued_in_one_sweep(cast):
    """10,000 sleeping instances hold no worker: they are rows. The sweep queues due ones in
    bulk (no worker here: the test reads the queue)."""
    workflow = make_workflow(cast.space, slug="sleepy", tier="standard")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    Execution.objects.bulk_create(
        Execution(space=cast.space, workflow=workflow, workflow_name="Sleepy", tier="standard",
                  timeout_seconds=10, triggered_by="api", status=Status.WAITING, due_at=past)
        for _ in range(1000)
    )  # fmt: skip
    redis = taskmessage.client(settings.CELERY_BROKER_URL)
    queue = taskmessage.queue_list("standard", 0)
    before = redis.llen(queue)
    started = time.monotonic()
    counts = execution_reap()
    elapsed = time.monotonic() - started
    try:
        assert counts["woken"] == 1000
        assert Execution.objects.filter(status=Status.PENDING).count() == 1000
        assert redis.llen(queue) - before == 1000
        assert elapsed < settings.FASTN_REAPER_INTERVAL_SECONDS, elapsed
    finally:
        redis.delete(queue)
