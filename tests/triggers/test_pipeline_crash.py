"""Crashes at each stage of the pipeline, with real `manage.py events` processes and SIGKILL:
every accepted event runs each of its matching routes exactly once."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest
from django.db.models import Count

from apps.executions.models import Execution, Status
from apps.executions.services import execution_reap
from apps.triggers.models import Delivery, Event, EventStatus, Outbox
from apps.triggers.pipeline.stream import GROUP, STREAM
from apps.triggers.pipeline.stream import client as redis_client
from tests.triggers.pipeline_fixtures import (
    kill,
    make_trigger,
    make_workflow,
    post_event,
    start_events,
    wait_ready,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# Claims of a dead consumer's entries after 1 s of idleness instead of 5, to keep this short.
FAST_CLAIM = {"FASTN_EVENTS_CLAIM_IDLE_SECONDS": "1"}


@pytest.fixture
def fan_out(cast):
    """Three routes; the filters select two of them for every event sent here."""
    a, b, c = (make_workflow(cast.space, slug, tier="instant") for slug in ("a", "b", "c"))
    return make_trigger(cast.space, [
        {"workflow": a},
        {"workflow": b, "filters": [{"path": "kind", "operator": "eq", "value": "order"}]},
        {"workflow": c, "filters": [{"path": "kind", "operator": "eq", "value": "refund"}]},
    ])  # fmt: skip


def send(client, trigger, count: int) -> list[str]:
    ids = []
    for n in range(count):
        response = post_event(client, trigger, {"kind": "order", "n": n})
        assert response.status_code == 202
        ids.append(response.json()["eventId"])
    return ids


def assert_exactly_once(event_ids: list[str]) -> None:
    """Each event routed once, to routes a and b, with one completed run each."""
    events = Event.objects.filter(pk__in=event_ids)
    assert events.count() == len(event_ids)
    assert set(events.values_list("status", flat=True)) == {EventStatus.DELIVERED}
    per_event = Counter(
        Delivery.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True)
    )
    assert set(per_event.values()) == {2}, "an event has a missing or an extra delivery"
    runs = Execution.objects.filter(delivery__event_id__in=event_ids)
    assert runs.count() == 2 * len(event_ids)
    assert set(runs.values_list("workflow_name", flat=True)) == {"A", "B"}
    # And nothing beyond them: no execution without its delivery.
    assert Execution.objects.count() == 2 * len(event_ids)
    assert not Execution.objects.values("delivery").annotate(n=Count("id")).filter(n__gt=1)
    assert not Outbox.objects.filter(event_id__in=event_ids).exists()


def all_ran(event_ids: list[str]) -> bool:
    """Every route of every event ran. The executions' reaper runs meanwhile, as beat runs it
    in production: a process killed between a routing commit and the runs' dispatch (another
    thread's crash point) leaves pending runs without a message, which the reaper sends."""
    execution_reap()
    completed = Execution.objects.filter(delivery__event_id__in=event_ids, status=Status.COMPLETED)
    return completed.count() == 2 * len(event_ids)


def stream_entries_for(event_ids) -> Counter:
    wanted = set(event_ids)
    entries = redis_client().xrange(STREAM)
    return Counter(
        fields[b"event"].decode() for _id, fields in entries if fields[b"event"].decode() in wanted
    )


def test_the_publisher_killed_after_xadd_before_marking_loses_nothing(
    client, fan_out, celery_worker, tmp_path
):
    event_ids = send(client, fan_out, 20)
    log = tmp_path / "events.log"
    crashing = start_events(log, FASTN_EVENTS_FAULT="publisher-after-xadd", **FAST_CLAIM)
    wait_until(lambda: crashing.poll() is not None, timeout=30)
    assert crashing.returncode == -9, log.read_text()[-2000:]
    # The entries reached the stream, but the rows were never marked published.
    assert Outbox.objects.filter(published_at__isnull=True).count() == 20
    assert set(stream_entries_for(event_ids)) == set(event_ids)

    restarted = start_events(log, **FAST_CLAIM)
    try:
        wait_ready(restarted, log)
        wait_until(lambda: all_ran(event_ids), timeout=60)
    finally:
        kill(restarted)
    # Each event was in the stream twice (published again after the crash), ran once.
    assert set(stream_entries_for(event_ids).values()) == {2}
    assert_exactly_once(event_ids)


def test_the_consumer_killed_after_creating_runs_before_xack_loses_nothing(
    client, fan_out, celery_worker, tmp_path
):
    event_ids = send(client, fan_out, 20)
    log = tmp_path / "events.log"
    crashing = start_events(log, FASTN_EVENTS_FAULT="consumer-before-ack", **FAST_CLAIM)
    wait_until(lambda: crashing.poll() is not None, timeout=30)
    assert crashing.returncode == -9, log.read_text()[-2000:]
    routed = Event.objects.filter(pk__in=event_ids, routed_at__isnull=False).count()
    # It died holding its first entry (one per consumer thread at most): that event routed,
    # its runs created in the same transaction, the entry not acknowledged.
    assert routed in (1, 2)
    assert Execution.objects.count() == 2 * routed
    assert redis_client().xpending(STREAM, GROUP)["pending"] >= routed

    restarted = start_events(log, **FAST_CLAIM)
    try:
        wait_ready(restarted, log)
        wait_until(lambda: all_ran(event_ids), timeout=60)
        # The dead consumer's entries were claimed and acknowledged.
        wait_until(lambda: redis_client().xpending(STREAM, GROUP)["pending"] == 0, timeout=15)
    finally:
        kill(restarted)
    assert_exactly_once(event_ids)


def test_random_kills_of_two_events_processes_under_load_lose_nothing(
    client, fan_out, celery_worker, tmp_path
):
    """Two `events` processes share the work while events keep arriving; one of them is
    killed at random moments and restarted, several times."""
    log = tmp_path / "events.log"
    steady = start_events(log, **FAST_CLAIM)
    victim = start_events(log, **FAST_CLAIM)
    rng = random.Random(7)
    event_ids: list[str] = []
    try:
        wait_ready(steady, log)
        for _round in range(4):
            event_ids += send(client, fan_out, 15)
            time.sleep(rng.uniform(0.05, 0.4))
            kill(victim)
            victim = start_events(log, **FAST_CLAIM)
        wait_until(lambda: all_ran(event_ids), timeout=90)
    finally:
        kill(victim)
        kill(steady)
    assert len(event_ids) == 60
    assert_exactly_once(event_ids)
