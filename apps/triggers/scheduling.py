"""Firing Scheduler triggers: every due time of every enabled schedule becomes one event of the
pipeline (receive.event_accept → outbox → routes), exactly once.

Where it runs: a thread of the `events` process (apps/triggers/pipeline/process.py), not a
Celery beat entry. The thread sleeps until the earliest `next_run_at` (waking at least every
POLL_S to see schedules created or changed meanwhile), so a due time fires a few milliseconds
late; a beat entry would fire on beat's period and then wait in a worker queue behind
whatever is queued there, so its lateness is the period plus an unbounded queue wait. The
events it accepts are published by the same process. Several `events` processes (the way
the pipeline scales and survives a machine) fire each due time once, as two beats would:

Exactly once (`schedules_fire_due`), per due trigger, in one transaction:
1. claim the due time with a conditional UPDATE — `next_run_at` moves to the following due
   time WHERE the row still has the `next_run_at` (and `updated_at`) that was read, and is
   enabled; another loop's UPDATE waits for this transaction's row lock, then matches nothing;
2. decide what fires (catch-up and overlap policies, below) and accept those events, each
   with the event key "<trigger id>:<due time>".
Claim and accept commit together. A crash between them (the test suite kills the process
right there: faults point `scheduler-after-claim`) rolls the claim back with the accept, and
the next pass fires the due time: nothing lost, nothing doubled. Claiming in a transaction
of its own before accepting could lose a firing; accepting first could start two (and lean
on the event key alone). The key is the second line: an accept repeated for a due time
(next_run_at set back by hand, a restored backup) becomes a `duplicate` event and runs
nothing, for 24 hours.

Late and missed due times (`catch_up`). A due time reached within FIRE_GRACE is on time,
however busy the loop. Due times older than that were missed (no `events` process was
running, or the database was unreachable): `skip` drops them (one INFO line says how many);
`once` fires one event for all of them, its scheduled time the latest missed one, with
`x-fastn-missed-runs: <n>`. Either way `next_run_at` moves to the first due time after now.

Overlap (`overlap`). `skip`: a due time whose previous run of this schedule is still in
flight (its event not routed yet, its delivery waiting or retrying, or its run pending or
running) does not start a run; it is recorded as a `filtered` event with the error
SKIPPED_OVERLAP, visible in Activity → Events. `allow` always fires.

What a run gets (apps/triggers/pipeline/delivery.py: run_input, run_headers): ctx.input is
its route's payload ({} when the route has none); ctx.headers carry `x-fastn-schedule-id`,
`x-fastn-schedule-name`, `x-fastn-scheduled-time` (ISO-8601 UTC, like JavaScript's
`toISOString()`) and, after downtime, `x-fastn-missed-runs`, plus the route's headers. The
event's own payload is the same schedule context, for Activity → Events.

Failures (`schedule_runs_settle`, every SETTLE_S in the same thread): runs of scheduler
triggers that ended are stamped `run_ended_at` (one conditional UPDATE each, so two
processes count a run once) and those that ended failed or timed out add one to
`Trigger.failures`. Scheduler triggers are parallel (their form has no execution mode; the
overlap policy plays that part), so the sequential line (pipeline/sequential.py), the other
user of `run_ended_at`, never stamps their deliveries."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from apps.executions.models import TERMINAL, Status
from apps.triggers import schedules
from apps.triggers.models import (
    CatchUp,
    Delivery,
    DeliveryStatus,
    Event,
    EventStatus,
    Kind,
    Outbox,
    Overlap,
    Source,
    Trigger,
)
from apps.triggers.pipeline import faults
from apps.triggers.receive import Accepted, event_accept

logger = logging.getLogger("fastn.triggers")

# A due time fired this late is still on time; older ones were missed (the catch-up policy
# decides). Schedules run at most once a minute, so at most one due time can be on time.
FIRE_GRACE = timedelta(seconds=15)
# The loop sleeps until the next due time, but never longer than this: a schedule created
# or changed meanwhile may be due sooner.
POLL_S = 1.0
# How often ended runs are counted into `failures`.
SETTLE_S = 5.0
# Due triggers claimed per pass (the pass runs again at once when it was full).
BATCH = 200
# Missed due times counted after downtime (an every-minute schedule down for a week has
# 10,080); beyond, the count is a lower bound written with a "+" ("10000+").
MISSED_LIMIT = 10_000
# What a pass reads of a due trigger (event_accept needs the first four).
FIRING_FIELDS = ("id", "space_id", "customer_id", "name", "schedule", "catch_up", "overlap",
                 "next_run_at", "updated_at")  # fmt: skip
SKIPPED_OVERLAP = "Skipped: the previous run of this schedule is still running."
FAILED_RUN = (Status.FAILED, Status.TIMEOUT)


def iso_utc(moment: datetime) -> str:
    """2026-03-29T01:00:00.000Z: UTC, milliseconds, as JavaScript's `toISOString()` writes it
    (a workflow can compare it with `new Date().toISOString()`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def schedule_headers(trigger: Trigger, due: datetime, *, missed: str = "") -> dict[str, str]:
    """The headers of a schedule's event (and so of its runs): which schedule, the due time
    (for Trigger Now, the moment of the click), and after downtime how many runs were
    missed."""
    headers = {
        "x-fastn-schedule-id": str(trigger.id),
        "x-fastn-schedule-name": trigger.name,
        "x-fastn-scheduled-time": iso_utc(due),
    }
    if missed:
        headers["x-fastn-missed-runs"] = missed
    return headers


def _context_body(headers: dict[str, str]) -> bytes:
    """The event's payload: the schedule context, so Activity → Events shows what fired."""
    context = {
        "scheduleId": headers["x-fastn-schedule-id"],
        "scheduleName": headers["x-fastn-schedule-name"],
        "scheduledTime": headers["x-fastn-scheduled-time"],
    }
    if "x-fastn-missed-runs" in headers:
        context["missedRuns"] = headers["x-fastn-missed-runs"]
    return json.dumps(context).encode()


# --- next_run_at --------------------------------------------------------------------------


def schedule_next_run(trigger: Trigger, *, after: datetime) -> datetime | None:
    """The first due time of the trigger's schedule strictly after `after` (never before its
    Starts at); None when it has none, or its stored schedule is not valid."""
    if not trigger.schedule:
        return None
    try:
        schedule = schedules.schedule_from_dict(trigger.schedule)
    except schedules.ScheduleError as exc:
        logger.warning("Trigger %s has an invalid schedule, not scheduled: %s", trigger.pk, exc)
        return None
    return schedules.next_run(schedule, after)


def schedule_reset(trigger: Trigger, *, now: datetime | None = None) -> datetime | None:
    """Point `next_run_at` at the first due time after `now` (None when the trigger is
    disabled): for a schedule just enabled again, or changed. Due times missed while it was
    disabled are not caught up: nobody was waiting for them. A firing loop holding the old
    due time finds the row changed and fires nothing."""
    now = now or timezone.now()
    enabled = trigger.enabled and trigger.kind == Kind.SCHEDULER
    trigger.next_run_at = schedule_next_run(trigger, after=now) if enabled else None
    Trigger.objects.filter(pk=trigger.pk).update(next_run_at=trigger.next_run_at)
    return trigger.next_run_at


# --- firing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What one claimed trigger does at a pass: `fire` its due times, each with the value of
    its missed-runs header ("" for a run on time); `skipped`: how many missed due times were
    dropped ("" for none); `following`: the new next_run_at."""

    fire: list[tuple[datetime, str]]
    skipped: str
    following: datetime | None


def plan(trigger: Trigger, now: datetime) -> Plan:
    """Apply the catch-up policy to the due times from `next_run_at` up to `now`."""
    try:
        schedule = schedules.schedule_from_dict(trigger.schedule)
    except schedules.ScheduleError as exc:
        logger.warning("Trigger %s has an invalid schedule, stopped: %s", trigger.pk, exc)
        return Plan([], "", None)
    first = trigger.next_run_at
    later = schedules.due_between(schedule, first, now, limit=MISSED_LIMIT)
    due = [first, *later]
    on_time = due[-1] if now - due[-1] <= FIRE_GRACE else None
    missed = due[:-1] if on_time else due
    # due_between answers the latest MISSED_LIMIT: more may have been left out.
    count = f"{len(missed)}+" if len(later) == MISSED_LIMIT else str(len(missed))
    fire = []
    if missed and trigger.catch_up == CatchUp.ONCE:
        fire.append((missed[-1], count))
    if on_time:
        fire.append((on_time, ""))
    skipped = count if missed and trigger.catch_up != CatchUp.ONCE else ""
    return Plan(fire, skipped, schedules.next_run(schedule, now))


def schedule_busy(trigger: Trigger) -> bool:
    """The previous run of this schedule is still in flight: its event not routed yet, a
    delivery waiting or retrying, or a run pending or running."""
    if Outbox.objects.filter(event__trigger_id=trigger.pk).exists():
        return True
    waiting = (DeliveryStatus.WAITING, DeliveryStatus.RETRYING)
    return (
        Delivery.objects.filter(trigger_id=trigger.pk)
        .filter(
            Q(status__in=waiting)
            | Q(
                status=DeliveryStatus.STARTED,
                run_ended_at__isnull=True,
                # A durable run asleep, waiting for an event or paused has not ended either.
                execution__status__in=(
                    Status.PENDING,
                    Status.RUNNING,
                    Status.WAITING,
                    Status.PAUSED,
                ),
            )
        )
        .exists()
    )


def schedules_fire_due(now: datetime | None = None) -> int:
    """Fire every enabled scheduler trigger whose `next_run_at` is due (module docstring);
    answers how many events were accepted."""
    now = now or timezone.now()
    fired = 0
    while True:
        due = list(
            Trigger.objects.filter(kind=Kind.SCHEDULER, enabled=True, next_run_at__lte=now)
            .order_by("next_run_at")
            .only(*FIRING_FIELDS)[:BATCH]
        )
        results = [schedule_fire(trigger, now) for trigger in due]
        fired += sum(result or 0 for result in results)
        # A full batch may have more behind it; one where every claim was lost has not
        # moved (another loop holds those rows) and the next pass will see.
        if len(due) < BATCH or all(result is None for result in results):
            return fired


def schedule_fire(trigger: Trigger, now: datetime) -> int | None:
    """Claim the trigger's due time as read and fire what its policies say (module
    docstring), in one transaction; answers how many events were accepted, None when
    another loop claimed it first (or the trigger changed since it was read)."""
    with transaction.atomic():
        # Skip a row another loop is firing right now (it will move next_run_at), so that
        # two loops share a crowded minute instead of queueing on each other's rows. The
        # conditional UPDATE below is what makes a due time fire once, with or without it.
        locked = (
            Trigger.objects.select_for_update(skip_locked=True)
            .filter(pk=trigger.pk)
            .values_list("pk", flat=True)
        )
        if not locked:
            return None
        step = plan(trigger, now)
        busy = trigger.overlap == Overlap.SKIP and bool(step.fire) and schedule_busy(trigger)
        claim = {"next_run_at": step.following}
        if step.fire and not busy:
            claim["last_run_at"] = timezone.now()
        claimed = Trigger.objects.filter(
            pk=trigger.pk,
            enabled=True,
            next_run_at=trigger.next_run_at,
            updated_at=trigger.updated_at,
        ).update(**claim)
        if not claimed:
            return None
        faults.maybe_crash("scheduler-after-claim")
        if step.skipped:
            logger.info(
                "Schedule %s (%s): skipped %s missed run(s) from %s to %s (catch-up: skip); "
                "next run %s",
                trigger.name, trigger.pk, step.skipped, iso_utc(trigger.next_run_at),
                iso_utc(now), iso_utc(step.following) if step.following else "none",
            )  # fmt: skip
        accepted = 0
        for due, missed in step.fire:
            headers = schedule_headers(trigger, due, missed=missed)
            if busy:
                _record_skipped(trigger, headers)
                continue
            event_accept(
                trigger,
                source=Source.SCHEDULE,
                headers=headers,
                body=_context_body(headers),
                content_type="application/json",
                event_key=f"{trigger.pk}:{iso_utc(due)}",
            )
            accepted += 1
            # With overlap `skip`, the run just accepted is the previous run of the next
            # due time of this pass (catch-up `once` and an on-time run).
            busy = trigger.overlap == Overlap.SKIP
            logger.debug(
                "Schedule %s fired for %s, %.0f ms late",
                trigger.pk, iso_utc(due), (timezone.now() - due).total_seconds() * 1000,
            )  # fmt: skip
    return accepted


def _record_skipped(trigger: Trigger, headers: dict[str, str]) -> None:
    """A due time not run because the previous run is still running: an event of its own,
    already settled as `filtered` with the reason, so Activity → Events shows the gap."""
    now = timezone.now()
    body = _context_body(headers)
    Event.objects.create(
        space_id=trigger.space_id,
        trigger=trigger,
        trigger_name=trigger.name,
        customer_id=trigger.customer_id,
        source=Source.SCHEDULE,
        status=EventStatus.FILTERED,
        headers=headers,
        content_type="application/json",
        body=body,
        payload=json.loads(body),
        received_at=now,
        routed_at=now,
        error=SKIPPED_OVERLAP,
    )
    logger.info(
        "Schedule %s (%s): run of %s skipped, the previous run is still running",
        trigger.name, trigger.pk, headers["x-fastn-scheduled-time"],
    )  # fmt: skip


def schedule_fire_now(
    trigger: Trigger,
    *,
    source: str = Source.MANUAL,
    event_key: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """One event of the schedule now, whatever its next due time and overlap policy: Trigger
    Now (source `manual`, no key: every click runs) and "Run immediately on create" (source
    `schedule`, key `created:<id>`: the create runs once). Its scheduled time is `now`.
    Atomic with the caller's transaction (the caller audits)."""
    now = now or timezone.now()
    headers = schedule_headers(trigger, now)
    with transaction.atomic():
        accepted = event_accept(
            trigger,
            source=source,
            headers=headers,
            body=_context_body(headers),
            content_type="application/json",
            event_key=event_key,
        )
        if not accepted.duplicate:
            Trigger.objects.filter(pk=trigger.pk).update(last_run_at=now)
            trigger.last_run_at = now
    return accepted


# --- the loop -----------------------------------------------------------------------------


def schedule_tick(now: datetime | None = None) -> float:
    """One pass of the firing loop: fire what is due, then answer how long to sleep — until
    the next due time, at most POLL_S."""
    schedules_fire_due(now)
    upcoming = Trigger.objects.filter(
        kind=Kind.SCHEDULER, enabled=True, next_run_at__isnull=False
    ).aggregate(first=Min("next_run_at"))["first"]
    if upcoming is None:
        return POLL_S
    return min(POLL_S, max(0.0, (upcoming - timezone.now()).total_seconds()) + 0.001)


def schedule_runs_settle(*, limit: int = 500) -> int:
    """Stamp the ended runs of scheduler triggers and count the failed and timed-out ones
    into their trigger's `failures`; answers how many runs were stamped here."""
    ended = (
        Delivery.objects.filter(
            trigger__kind=Kind.SCHEDULER,
            status=DeliveryStatus.STARTED,
            run_ended_at__isnull=True,
        )
        .filter(Q(execution__isnull=True) | Q(execution__status__in=TERMINAL))
        .values_list("pk", "trigger_id", "execution__status")[:limit]
    )
    now = timezone.now()
    stamped = 0
    for pk, trigger_id, status in list(ended):
        with transaction.atomic():
            if not Delivery.objects.filter(pk=pk, run_ended_at__isnull=True).update(
                run_ended_at=now
            ):
                continue  # another process counted it
            stamped += 1
            if status in FAILED_RUN:
                Trigger.objects.filter(pk=trigger_id).update(failures=F("failures") + 1)
    return stamped
