"""Firing Scheduler triggers (apps/triggers/scheduling.py): each due time once, crashes,
catch-up after downtime, overlap, failures, Trigger Now, DST days, concurrent firing loops,
and the runs a schedule starts through the real pipeline."""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.executions.models import Execution, Status
from apps.triggers import scheduling
from apps.triggers.models import (
    CatchUp,
    Delivery,
    Event,
    EventStatus,
    Kind,
    Outbox,
    Overlap,
    Source,
    Trigger,
)
from apps.triggers.pipeline.process import EventsProcess
from apps.triggers.pipeline.routing import event_route
from apps.triggers.scheduling import (
    SKIPPED_OVERLAP,
    iso_utc,
    schedule_fire,
    schedule_fire_now,
    schedule_reset,
    schedule_runs_settle,
    schedules_fire_due,
)
from tests.triggers.pipeline_fixtures import (
    kill,
    make_trigger,
    make_workflow,
    pipeline_snapshot,
    start_events,
    wait_ready,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

EVERY_MINUTE = {"preset": "interval", "every": 1, "unit": "minutes", "timezone": "UTC"}
EVERY_HOUR = {"preset": "interval", "every": 1, "unit": "hours", "timezone": "UTC"}


def daily_in_twelve_hours() -> dict:
    """A schedule whose next due time is hours away whatever the time of day (an hourly one
    made seconds before the hour fires again while the test watches)."""
    return {"preset": "daily", "time": f"{timezone.now() + timedelta(hours=12):%H:%M}",
            "timezone": "UTC"}  # fmt: skip


T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def make_schedule(space, routes=(), *, schedule=EVERY_MINUTE, next_run_at=None, **fields):
    """A scheduler trigger whose next run is `next_run_at` (default: its first due time after
    now)."""
    trigger = make_trigger(
        space, list(routes), kind=Kind.SCHEDULER, schedule=schedule,
        name=fields.pop("name", "Nightly report"), **fields,
    )  # fmt: skip
    trigger.next_run_at = next_run_at or scheduling.schedule_next_run(trigger, after=timezone.now())
    trigger.save(update_fields=["next_run_at"])
    return trigger


def events_of(trigger, **filters) -> list[Event]:
    """In the order they were received, then of their due times (several due times fired in
    one pass under a frozen clock share `received_at`), firsts before their duplicates."""
    events = Event.objects.filter(trigger=trigger, **filters)
    return sorted(events, key=lambda e: (e.received_at, e.headers["x-fastn-scheduled-time"],
                                         e.duplicate_of_id is not None))  # fmt: skip


def scheduled_times(trigger) -> list[str]:
    return [e.headers["x-fastn-scheduled-time"] for e in events_of(trigger)]


# --- one due time, once ---------------------------------------------------------------------


def test_a_due_time_fires_one_event_and_moves_to_the_next(cast, time_machine):
    time_machine.move_to(T0 + timedelta(seconds=0.2), tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0)
    assert schedules_fire_due() == 1
    (event,) = events_of(trigger)
    assert event.source == Source.SCHEDULE and event.status == EventStatus.RECEIVED
    assert Outbox.objects.filter(event=event).exists()  # the pipeline takes it from here
    assert event.headers == {
        "x-fastn-schedule-id": str(trigger.id),
        "x-fastn-schedule-name": "Nightly report",
        "x-fastn-scheduled-time": "2026-06-01T10:00:00.000Z",
    }
    assert event.payload == {
        "scheduleId": str(trigger.id),
        "scheduleName": "Nightly report",
        "scheduledTime": "2026-06-01T10:00:00.000Z",
    }
    trigger.refresh_from_db()
    assert trigger.next_run_at == T0 + timedelta(minutes=1)
    assert trigger.last_run_at == T0 + timedelta(seconds=0.2)
    assert schedules_fire_due() == 0  # the same instant again: nothing is due
    time_machine.move_to(T0 + timedelta(minutes=1), tick=False)
    assert schedules_fire_due() == 1
    assert scheduled_times(trigger) == ["2026-06-01T10:00:00.000Z", "2026-06-01T10:01:00.000Z"]


def test_disabled_triggers_and_other_kinds_never_fire(cast, time_machine):
    time_machine.move_to(T0, tick=False)
    disabled = make_schedule(cast.space, next_run_at=T0, enabled=False)
    webhook = make_trigger(cast.space, [], next_run_at=T0)
    assert schedules_fire_due() == 0
    assert not Event.objects.filter(trigger__in=[disabled, webhook]).exists()


def test_a_crash_between_claim_and_accept_rolls_the_claim_back(cast, time_machine, monkeypatch):
    """The claim and the accept share one transaction: dying between them loses nothing."""
    time_machine.move_to(T0, tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0)

    def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(scheduling, "event_accept", crash)
    with pytest.raises(RuntimeError):
        schedules_fire_due()
    trigger.refresh_from_db()
    assert trigger.next_run_at == T0 and trigger.last_run_at is None
    assert not Event.objects.exists()
    monkeypatch.undo()
    assert schedules_fire_due() == 1
    assert schedules_fire_due() == 0
    assert scheduled_times(trigger) == ["2026-06-01T10:00:00.000Z"]


def test_a_killed_events_process_after_the_claim_fires_the_due_time_once_later(cast, tmp_path):
    """The real thing: `manage.py events` SIGKILLs itself right after the claim's UPDATE."""
    # Hourly, and not within seconds of the hour: the following due time cannot come while
    # the test runs (every minute, it could, and the catch-up would fire that one instead).
    due = timezone.now().replace(microsecond=0)
    following = due.replace(minute=0, second=0) + timedelta(hours=1)
    if following - due < timedelta(seconds=15):
        time.sleep((following - due).total_seconds() + 1)
        due = timezone.now().replace(microsecond=0)
    trigger = make_schedule(cast.space, schedule=EVERY_HOUR, next_run_at=due)
    log = tmp_path / "events.log"
    process = start_events(log, FASTN_EVENTS_FAULT="scheduler-after-claim")
    try:
        assert wait_until(lambda: process.poll() is not None, 30) is not False
    finally:
        kill(process)
    assert process.returncode == -9, log.read_text(errors="replace")[-3000:]
    trigger.refresh_from_db()
    assert trigger.next_run_at == due and trigger.last_run_at is None
    assert not Event.objects.exists()
    assert schedules_fire_due() == 1
    assert schedules_fire_due() == 0
    (event,) = events_of(trigger)
    assert event.headers["x-fastn-scheduled-time"] == iso_utc(due)


def test_an_accept_repeated_for_a_due_time_is_a_duplicate_that_runs_nothing(cast, time_machine):
    """The event key is the second line: a due time fired again (next_run_at set back by
    hand, a restored backup) is recorded as a duplicate without an outbox row."""
    time_machine.move_to(T0, tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0)
    schedules_fire_due()
    Trigger.objects.filter(pk=trigger.pk).update(next_run_at=T0)
    assert schedules_fire_due() == 1
    first, repeat = events_of(trigger)
    assert repeat.status == EventStatus.DUPLICATE and repeat.duplicate_of_id == first.id
    assert Outbox.objects.filter(event__trigger=trigger).count() == 1


def test_the_claim_refuses_a_due_time_another_loop_fired_meanwhile(cast, time_machine):
    time_machine.move_to(T0, tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0)
    read_by_b = Trigger.objects.get(pk=trigger.pk)
    assert schedule_fire(Trigger.objects.get(pk=trigger.pk), T0) == 1  # loop A
    assert schedule_fire(read_by_b, T0) is None  # loop B, with what it read before
    assert len(events_of(trigger)) == 1


def test_a_loop_holding_an_old_due_time_fires_nothing_after_the_schedule_changed(
    cast, time_machine
):
    time_machine.move_to(T0, tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0)
    stale = Trigger.objects.get(pk=trigger.pk)  # what a firing loop read
    trigger.schedule = {**EVERY_MINUTE, "every": 5}
    trigger.save(update_fields=["schedule"])
    assert schedule_reset(trigger, now=T0) == T0 + timedelta(minutes=5)
    assert schedule_fire(stale, T0) is None
    assert not Event.objects.exists()
    assert Trigger.objects.get(pk=trigger.pk).next_run_at == T0 + timedelta(minutes=5)


def test_schedule_reset_starts_from_now_and_clears_a_disabled_trigger(cast):
    now = datetime(2026, 6, 1, 10, 7, 30, tzinfo=UTC)
    trigger = make_schedule(cast.space, schedule={**EVERY_MINUTE, "every": 15}, next_run_at=T0)
    assert schedule_reset(trigger, now=now) == datetime(2026, 6, 1, 10, 15, tzinfo=UTC)
    trigger.enabled = False
    assert schedule_reset(trigger, now=now) is None
    assert Trigger.objects.get(pk=trigger.pk).next_run_at is None
    trigger.enabled, trigger.schedule = True, {"preset": "daily", "time": "25:00"}
    assert schedule_reset(trigger, now=now) is None  # an invalid stored schedule never fires


def test_a_trigger_with_an_invalid_stored_schedule_stops_instead_of_failing_the_loop(
    cast, time_machine
):
    time_machine.move_to(T0, tick=False)
    broken = make_schedule(cast.space, next_run_at=T0, name="broken")
    Trigger.objects.filter(pk=broken.pk).update(schedule={"preset": "hourly"})
    fine = make_schedule(cast.space, next_run_at=T0, name="fine")
    assert schedules_fire_due() == 1
    assert Trigger.objects.get(pk=broken.pk).next_run_at is None
    assert len(events_of(fine)) == 1


# --- catch-up after downtime ----------------------------------------------------------------


def downtime(cast, time_machine, catch_up: str, *, back_at: timedelta) -> Trigger:
    """An every-minute schedule fired at 10:00, then no firing loop until 10:00 + back_at."""
    time_machine.move_to(T0, tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0, catch_up=catch_up)
    assert schedules_fire_due() == 1
    time_machine.move_to(T0 + back_at, tick=False)
    return trigger


def test_catch_up_skip_fires_none_of_the_runs_missed_in_ten_minutes_of_downtime(
    cast, time_machine, caplog
):
    trigger = downtime(cast, time_machine, CatchUp.SKIP, back_at=timedelta(minutes=10, seconds=20))
    with caplog.at_level(logging.INFO, logger="fastn.triggers"):
        assert schedules_fire_due() == 0
    assert scheduled_times(trigger) == ["2026-06-01T10:00:00.000Z"]
    trigger.refresh_from_db()
    assert trigger.next_run_at == T0 + timedelta(minutes=11)
    assert trigger.last_run_at == T0  # nothing ran
    (line,) = [r.getMessage() for r in caplog.records if "missed" in r.getMessage()]
    assert "skipped 10 missed run(s) from 2026-06-01T10:01:00.000Z" in line
    assert line.endswith("next run 2026-06-01T10:11:00.000Z")


def test_catch_up_once_fires_one_run_for_ten_minutes_of_downtime(cast, time_machine):
    trigger = downtime(cast, time_machine, CatchUp.ONCE, back_at=timedelta(minutes=10, seconds=20))
    assert schedules_fire_due() == 1
    assert schedules_fire_due() == 0
    first, caught_up = events_of(trigger)
    assert caught_up.headers["x-fastn-scheduled-time"] == "2026-06-01T10:10:00.000Z"
    assert caught_up.headers["x-fastn-missed-runs"] == "10"
    assert caught_up.payload["missedRuns"] == "10"
    assert "x-fastn-missed-runs" not in first.headers
    trigger.refresh_from_db()
    assert trigger.next_run_at == T0 + timedelta(minutes=11)


def test_the_latest_due_time_reached_within_the_grace_is_on_time_not_missed(cast, time_machine):
    skip = downtime(cast, time_machine, CatchUp.SKIP, back_at=timedelta(minutes=10, seconds=5))
    once = make_schedule(cast.space, next_run_at=T0 + timedelta(minutes=1), catch_up=CatchUp.ONCE)
    assert schedules_fire_due() == 3
    # skip: 10:01-10:09 dropped, 10:10 (5 s late) runs as usual.
    assert scheduled_times(skip)[1:] == ["2026-06-01T10:10:00.000Z"]
    assert "x-fastn-missed-runs" not in events_of(skip)[1].headers
    # once: one run for 10:01-10:09, then 10:10 on time.
    missed, on_time = events_of(once)
    assert missed.headers["x-fastn-scheduled-time"] == "2026-06-01T10:09:00.000Z"
    assert missed.headers["x-fastn-missed-runs"] == "9"
    assert on_time.headers["x-fastn-scheduled-time"] == "2026-06-01T10:10:00.000Z"


def test_a_single_due_time_reached_after_the_grace_is_missed(cast, time_machine):
    hourly = {"preset": "interval", "every": 1, "unit": "hours", "timezone": "UTC"}
    time_machine.move_to(T0 + timedelta(seconds=40), tick=False)
    skip = make_schedule(cast.space, schedule=hourly, next_run_at=T0, name="skip")
    once = make_schedule(
        cast.space, schedule=hourly, next_run_at=T0, catch_up=CatchUp.ONCE, name="once"
    )
    assert schedules_fire_due() == 1
    assert not events_of(skip)
    assert events_of(once)[0].headers["x-fastn-missed-runs"] == "1"
    assert Trigger.objects.get(pk=skip.pk).next_run_at == T0 + timedelta(hours=1)


# --- overlap --------------------------------------------------------------------------------


def test_overlap_skip_records_a_filtered_event_while_the_previous_run_is_in_flight(
    cast, time_machine
):
    time_machine.move_to(T0, tick=False)
    workflow = make_workflow(cast.space)
    trigger = make_schedule(cast.space, [workflow], next_run_at=T0, overlap=Overlap.SKIP)
    schedules_fire_due()
    # 1. The first event is not routed yet (its outbox row waits): the next due time skips.
    time_machine.move_to(T0 + timedelta(minutes=1), tick=False)
    assert schedules_fire_due() == 0
    skipped = events_of(trigger)[-1]
    assert skipped.status == EventStatus.FILTERED and skipped.error == SKIPPED_OVERLAP
    assert skipped.headers["x-fastn-scheduled-time"] == "2026-06-01T10:01:00.000Z"
    assert skipped.routed_at is not None
    assert not Outbox.objects.filter(event=skipped).exists()
    # 2. Routed: its run is pending (no worker here), so the next one skips too.
    event_route(events_of(trigger)[0].id)
    (run,) = Execution.objects.all()
    assert run.status == Status.PENDING
    time_machine.move_to(T0 + timedelta(minutes=2), tick=False)
    assert schedules_fire_due() == 0
    Execution.objects.filter(pk=run.pk).update(status=Status.RUNNING)
    time_machine.move_to(T0 + timedelta(minutes=3), tick=False)
    assert schedules_fire_due() == 0
    # 3. It ended: the next due time runs.
    Execution.objects.filter(pk=run.pk).update(status=Status.COMPLETED)
    time_machine.move_to(T0 + timedelta(minutes=4), tick=False)
    assert schedules_fire_due() == 1
    statuses = [(e.headers["x-fastn-scheduled-time"][11:16], e.status) for e in events_of(trigger)]
    assert statuses == [
        ("10:00", EventStatus.DELIVERED), ("10:01", EventStatus.FILTERED),
        ("10:02", EventStatus.FILTERED), ("10:03", EventStatus.FILTERED),
        ("10:04", EventStatus.RECEIVED),
    ]  # fmt: skip
    assert Trigger.objects.get(pk=trigger.pk).last_run_at == T0 + timedelta(minutes=4)


def test_overlap_allow_fires_while_the_previous_run_is_pending(cast, time_machine):
    time_machine.move_to(T0, tick=False)
    trigger = make_schedule(cast.space, [make_workflow(cast.space)], next_run_at=T0)
    assert trigger.overlap == Overlap.ALLOW
    schedules_fire_due()
    event_route(events_of(trigger)[0].id)
    time_machine.move_to(T0 + timedelta(minutes=1), tick=False)
    assert schedules_fire_due() == 1
    assert not Event.objects.filter(status=EventStatus.FILTERED).exists()


def test_catch_up_once_and_an_on_time_run_make_one_run_under_overlap_skip(cast, time_machine):
    trigger = downtime(cast, time_machine, CatchUp.ONCE, back_at=timedelta(minutes=10, seconds=5))
    Trigger.objects.filter(pk=trigger.pk).update(overlap=Overlap.SKIP)
    Outbox.objects.all().delete()  # the 10:00 event was routed long ago
    Event.objects.update(routed_at=T0, status=EventStatus.FILTERED)
    assert schedules_fire_due() == 1
    _first, caught_up, on_time = events_of(trigger)
    assert caught_up.headers["x-fastn-missed-runs"] == "9"
    assert on_time.status == EventStatus.FILTERED and on_time.error == SKIPPED_OVERLAP


# --- failures -------------------------------------------------------------------------------


def test_failures_count_each_failed_or_timed_out_run_once(cast, time_machine):
    time_machine.move_to(T0, tick=False)
    workflow = make_workflow(cast.space)
    trigger = make_schedule(cast.space, [workflow], next_run_at=T0)
    webhook = make_trigger(cast.space, [workflow], name="hook")
    for minute, end in enumerate([Status.FAILED, Status.TIMEOUT, Status.COMPLETED,
                                  Status.CANCELLED, Status.RUNNING]):  # fmt: skip
        time_machine.move_to(T0 + timedelta(minutes=minute), tick=False)
        schedules_fire_due()
        event = events_of(trigger)[-1]
        event_route(event.id)
        Execution.objects.filter(delivery__event=event).update(status=end)
    # A webhook's failed run is not a schedule failure.
    hook_event = Event.objects.create(space=cast.space, trigger=webhook, source=Source.WEBHOOK)
    event_route(hook_event.id)
    Execution.objects.filter(delivery__event=hook_event).update(status=Status.FAILED)

    # Two settling loops at once count each run once.
    results = []
    barrier = threading.Barrier(2)

    def settle():
        try:
            barrier.wait()
            results.append(schedule_runs_settle())
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 4  # the running one is not over
    assert schedule_runs_settle() == 0
    assert Trigger.objects.get(pk=trigger.pk).failures == 2
    assert Trigger.objects.get(pk=webhook.pk).failures == 0
    Execution.objects.filter(status=Status.RUNNING).update(status=Status.FAILED)
    assert schedule_runs_settle() == 1
    assert Trigger.objects.get(pk=trigger.pk).failures == 3


# --- Trigger Now and Run on create ----------------------------------------------------------


def test_trigger_now_is_never_deduplicated_and_ignores_the_overlap_policy(cast, time_machine):
    time_machine.move_to(T0 + timedelta(seconds=12.3456), tick=False)
    trigger = make_schedule(cast.space, next_run_at=T0 + timedelta(hours=1), overlap=Overlap.SKIP)
    first = schedule_fire_now(trigger)
    second = schedule_fire_now(trigger)
    assert not first.duplicate and not second.duplicate
    assert first.event.id != second.event.id
    events = events_of(trigger)
    assert [e.source for e in events] == [Source.MANUAL, Source.MANUAL]
    assert events[0].headers["x-fastn-scheduled-time"] == "2026-06-01T10:00:12.345Z"
    trigger.refresh_from_db()
    assert trigger.last_run_at == T0 + timedelta(seconds=12.3456)
    assert trigger.next_run_at == T0 + timedelta(hours=1)  # the schedule is unchanged


def test_run_on_create_fires_once_for_the_creation(cast):
    trigger = make_schedule(cast.space, run_on_create=True)
    key = f"created:{trigger.id}"
    first = schedule_fire_now(trigger, source=Source.SCHEDULE, event_key=key)
    again = schedule_fire_now(trigger, source=Source.SCHEDULE, event_key=key)
    assert not first.duplicate and again.duplicate and again.event.id == first.event.id
    assert Outbox.objects.filter(event__trigger=trigger).count() == 1


# --- DST ------------------------------------------------------------------------------------


DST_CASES = [
    # zone, daily time, first local day, expected due times (UTC) over three local days
    ("Europe/Berlin", "02:30", "2026-03-28",
     ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"]),  # 02:30 is skipped: 03:00
    ("America/New_York", "01:30", "2026-10-31",
     ["2026-10-31T05:30", "2026-11-01T05:30", "2026-11-02T06:30"]),  # repeated: the first
    ("America/New_York", "02:30", "2026-10-31",
     ["2026-10-31T06:30", "2026-11-01T07:30", "2026-11-02T07:30"]),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("zone", "at", "day", "expected"), DST_CASES)
def test_a_daily_schedule_fires_once_a_day_across_a_dst_change(
    cast, time_machine, zone, at, day, expected
):
    """A firing pass every five minutes of three local days (time-machine; every due time
    and every instant of the changed hours is on the grid): one run a day."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    time_machine.move_to(start, tick=False)
    trigger = make_schedule(cast.space, schedule={"preset": "daily", "time": at, "timezone": zone})
    minute = start
    while minute < start + timedelta(hours=72):
        time_machine.move_to(minute, tick=False)
        schedules_fire_due()
        minute += timedelta(minutes=5)
    assert [t[:16] for t in scheduled_times(trigger)] == expected
    local_days = [
        datetime.fromisoformat(t).astimezone(ZoneInfo(zone)).date().isoformat()
        for t in scheduled_times(trigger)
    ]
    assert len(set(local_days)) == 3  # once on each local day, the DST day included
    lateness = [(e.received_at - e.headers_time).total_seconds() for e in timed(trigger)]
    assert lateness == [0.0, 0.0, 0.0]


def timed(trigger) -> list[Event]:
    events = events_of(trigger)
    for event in events:
        event.headers_time = datetime.fromisoformat(event.headers["x-fastn-scheduled-time"])
    return events


@pytest.mark.slow
def test_the_berlin_dst_day_runs_its_workflow_once_end_to_end(cast, celery_worker):
    """The spring-forward day fired under time-machine, then routed and run for real: one
    completed run, at 03:00 local, with the route's payload."""
    zone = ZoneInfo("Europe/Berlin")
    workflow = make_workflow(cast.space)
    start = datetime(2026, 3, 29, 0, 0, tzinfo=zone)
    with time_machine.travel(start, tick=False) as traveller:
        trigger = make_schedule(
            cast.space, [{"workflow": workflow, "payload": {"job": "nightly"}}],
            schedule={"preset": "daily", "time": "02:30", "timezone": "Europe/Berlin"},
        )  # fmt: skip
        for minutes in range(0, 24 * 60, 5):
            traveller.move_to(start + timedelta(minutes=minutes))
            schedules_fire_due()
    assert len(events_of(trigger)) == 1
    # Publisher and consumer only: the ticker's housekeeping would purge events this old.
    process = EventsProcess(consumers=1, ticker=False, scheduler=False)
    process.start()
    try:
        run = wait_until(
            lambda: Execution.objects.filter(status=Status.COMPLETED).first(), timeout=60
        )
    finally:
        process.shutdown()
    assert Execution.objects.count() == 1
    assert run.triggered_by == "scheduler"
    assert run.output["input"] == {"job": "nightly"}
    scheduled = run.output["headers"]["x-fastn-scheduled-time"]
    assert scheduled == "2026-03-29T01:00:00.000Z"
    assert datetime.fromisoformat(scheduled).astimezone(zone).strftime("%H:%M") == "03:00"


# --- concurrent firing loops ----------------------------------------------------------------


@pytest.mark.slow
def test_two_firing_loops_fire_each_due_time_of_fifty_triggers_exactly_once(cast):
    """Two threads (two database sessions) run firing passes for the same five minutes at
    the same moments over 50 due triggers."""
    triggers = [make_schedule(cast.space, next_run_at=T0, name=f"s{n}") for n in range(50)]
    barrier = threading.Barrier(2)
    fired = {"a": 0, "b": 0}

    def loop(name):
        try:
            for minute in range(5):
                barrier.wait()
                fired[name] += schedules_fire_due(T0 + timedelta(minutes=minute, seconds=1))
        finally:
            connection.close()

    threads = [threading.Thread(target=loop, args=(name,)) for name in fired]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fired["a"] + fired["b"] == 250
    assert not Event.objects.filter(status=EventStatus.DUPLICATE).exists()
    for trigger in triggers:
        keys = [e.idempotency_key for e in events_of(trigger)]
        assert len(keys) == 5 and len(set(keys)) == 5
        assert sorted(t[11:16] for t in scheduled_times(trigger)) == [
            "10:00", "10:01", "10:02", "10:03", "10:04",
        ]  # fmt: skip
    assert {t.next_run_at for t in Trigger.objects.filter(kind=Kind.SCHEDULER)} == {
        T0 + timedelta(minutes=5)
    }


@pytest.mark.slow
def test_two_events_processes_fire_each_due_time_once(cast, tmp_path):
    """Two real `manage.py events` processes, 50 triggers due within seconds."""
    processes = [start_events(tmp_path / f"events-{n}.log") for n in range(2)]
    try:
        for n, process in enumerate(processes):
            wait_ready(process, tmp_path / f"events-{n}.log")
        # Hourly, and not within seconds of the hour, so that the following due time cannot
        # fire while the test watches for doubles.
        due = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
        following = due.replace(minute=0, second=0) + timedelta(hours=1)
        if following - due < timedelta(seconds=10):
            due = following + timedelta(seconds=3)
            following += timedelta(hours=1)
        triggers = [
            make_schedule(cast.space, schedule=EVERY_HOUR, next_run_at=due, name=f"s{n}")
            for n in range(50)
        ]
        wait_until(lambda: Event.objects.count() >= 50, timeout=30)
        # Let both loops have every chance to fire a due time twice.
        wait_until(lambda: timezone.now() > due + timedelta(seconds=3), timeout=10)
    finally:
        for process in processes:
            kill(process)
    assert Event.objects.count() == 50
    for trigger in triggers:
        (event,) = events_of(trigger)
        assert event.headers["x-fastn-scheduled-time"] == iso_utc(due)
    assert {t.next_run_at for t in Trigger.objects.all()} == {following}


# --- through the pipeline, on the real clock ------------------------------------------------


@pytest.mark.slow
def test_a_schedule_runs_each_route_with_its_payload_and_the_schedule_headers(
    cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space)
    due = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
    trigger = make_schedule(
        cast.space,
        [{"workflow": workflow, "payload": {"report": "daily", "rows": [1, 2]},
          "headers": {"X-Team": "ops", "x-fastn-schedule-id": "spoofed"}},
         {"workflow": workflow}],
        schedule=daily_in_twelve_hours(), next_run_at=due,
    )  # fmt: skip
    runs = wait_until(
        lambda: (
            list(
                Execution.objects.filter(status=Status.COMPLETED).order_by(
                    "delivery__route__position"
                )
            )
            if Execution.objects.filter(status=Status.COMPLETED).count() == 2
            else None
        ),
        timeout=60,
    )
    with_payload, without = runs
    assert with_payload.output["input"] == {"report": "daily", "rows": [1, 2]}
    assert without.output["input"] == {}
    headers = with_payload.output["headers"]
    assert headers["x-fastn-schedule-id"] == str(trigger.id)  # not the route's
    assert headers["x-fastn-schedule-name"] == "Nightly report"
    assert headers["x-fastn-scheduled-time"] == iso_utc(due)
    assert headers["x-team"] == "ops"
    assert "x-team" not in without.output["headers"]
    assert {run.triggered_by for run in runs} == {"scheduler"}
    (event,) = events_of(trigger)
    assert event.status == EventStatus.DELIVERED


@pytest.mark.slow
def test_failed_runs_of_a_schedule_show_in_its_failures(cast, celery_worker, events_pipeline):
    boom = make_workflow(cast.space, "boom", code="export default async () => { throw 1 }")
    trigger = make_schedule(
        cast.space, [boom], schedule=daily_in_twelve_hours(), next_run_at=timezone.now()
    )
    wait_until(
        lambda: Trigger.objects.get(pk=trigger.pk).failures == 1,
        timeout=60,
        describe=pipeline_snapshot,
    )
    (run,) = Execution.objects.all()
    assert run.status == Status.FAILED
    assert Delivery.objects.get(execution=run).run_ended_at is not None


@pytest.mark.slow
def test_lateness_of_twenty_due_times_one_a_second(cast, celery_worker, events_pipeline):
    """How late the `events` process fires a due time (event accepted) and how late its run
    starts (through the stream, routing and a Celery worker): p50 and p95 over 20 due times
    spread over 20 seconds, on the real clock. The figures are printed (pytest -s)."""
    workflow = make_workflow(cast.space, tier="standard")
    base = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
    triggers = []
    for n in range(20):
        starts = base + timedelta(seconds=n)
        schedule = {**EVERY_MINUTE, "starts_at": starts.isoformat()}
        triggers.append(make_schedule(cast.space, [workflow], schedule=schedule, name=f"s{n}"))
    assert {t.next_run_at - base for t in triggers} == {timedelta(seconds=n) for n in range(20)}
    wait_until(lambda: Execution.objects.filter(started_at__isnull=False).count() == 20, timeout=90)
    fire, start = [], []
    for trigger in triggers:
        (event,) = timed(trigger)
        fire.append((event.received_at - event.headers_time).total_seconds())
        run = Execution.objects.get(delivery__event=event)
        start.append((run.started_at - event.headers_time).total_seconds())
    figures = {
        name: (statistics.median(values), statistics.quantiles(values, n=20)[18])
        for name, values in (("fired", fire), ("run started", start))
    }
    print(json.dumps({k: {"p50_ms": round(a * 1000, 1), "p95_ms": round(b * 1000, 1)}
                      for k, (a, b) in figures.items()}))  # fmt: skip
    assert min(fire) >= 0
    assert figures["fired"][1] <= 2.0
