"""Delivering a routed event to one route: start the route's workflow, or record why not.

A delivery is *started* when its execution row exists: the run itself then belongs to the
executions app, whose retry policy covers the run's own failures (a run that ends failed is
not a delivery failure: it is visible on the execution, and retrying the delivery would run
the workflow a second time for one event). A delivery *fails* when the run cannot be created:
the route or its workflow is gone, the workflow is disabled or not deployed to the route's
environment, or the database refused. Failures are retried with the trigger's backoff up to
its max attempts, then become a DeadLetter (Dead Letter Queue on) or end `failed` (off).

Every change to an event's deliveries happens while holding the event's row lock
(`lock_event`), so routing, retries, the sequential queue and replays never race on one event,
and its status (`event_settle`) is computed from all of its deliveries at once. The execution
is created in the same transaction as the delivery's update: the unique (event, route) pair
and the OneToOne execution make a second run for one delivery impossible."""

from __future__ import annotations

import base64
import functools
import logging
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.environments.models import DRAFT, TEST
from apps.executions.models import Execution, TriggeredBy
from apps.executions.services import execution_create, execution_dispatch
from apps.spaces.audit import Actor
from apps.spaces.models import Customer
from apps.triggers.models import (
    Backoff,
    DeadLetter,
    DeadLetterStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventStatus,
    Kind,
    Route,
    Source,
    Trigger,
)
from apps.triggers.pipeline.targets import RouteTarget
from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.selectors import resolve_version
from fastn_console import rawsql

logger = logging.getLogger("fastn.triggers")

TRIGGERED_BY = {
    Source.WEBHOOK: TriggeredBy.WEBHOOK,
    Source.SCHEDULE: TriggeredBy.SCHEDULER,
    Source.APP_EVENT: TriggeredBy.APP_EVENT,
    Source.MANUAL: TriggeredBy.MANUAL,
    Source.TEST: TriggeredBy.TEST,
}
# Dead letter stages: the route itself is gone, or its run could not be created.
STAGE_ROUTE, STAGE_EXECUTE = "route", "execute"


class DeliveryError(Exception):
    """The run could not be created. `permanent`: no retry can help (the route is gone)."""

    def __init__(self, message: str, *, stage: str = STAGE_EXECUTE, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.permanent = permanent


def lock_event(event_id) -> Event | None:
    """The event with its trigger, the event's row locked until the transaction ends
    (PostgreSQL; SQLite runs one writer at a time anyway). Every step of the pipeline starts
    here: hand-written (see fastn_console/rawsql.py)."""
    row = rawsql.fetchone(
        _lock_event_sql(rawsql.db().vendor), [rawsql.db_value(Event, "id", event_id)]
    )
    if row is None:
        return None
    width = len(Event._meta.concrete_fields)
    event = rawsql.instance(Event, row[:width])
    event.trigger = rawsql.instance(Trigger, row[width:]) if row[width] is not None else None
    return event


@functools.cache
def _lock_event_sql(vendor: str) -> str:
    lock = " FOR UPDATE OF e" if vendor == "postgresql" else ""
    return (
        f"SELECT {rawsql.columns(Event, 'e')}, {rawsql.columns(Trigger, 't')}"
        f" FROM {rawsql.table(Event)} e LEFT JOIN {rawsql.table(Trigger)} t"
        f" ON t.id = e.trigger_id WHERE e.id = %s{lock}"
    )


def backoff_delay(trigger: Trigger | None, attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: exponential 1, 2, 4… s; linear 1, 2, 3… s; fixed
    1 s."""
    kind = trigger.backoff if trigger is not None else Backoff.FIXED
    if kind == Backoff.EXPONENTIAL:
        return timedelta(seconds=2 ** (attempts - 1))
    if kind == Backoff.LINEAR:
        return timedelta(seconds=attempts)
    return timedelta(seconds=1)


# --- what the run gets --------------------------------------------------------------------


def event_input(event: Event):
    """ctx.input for an event: its parsed payload; a body that is not JSON (nor a form) as
    text, or as {"base64": …} when it is not UTF-8 text."""
    if event.payload is not None:
        return event.payload
    body = bytes(event.body)
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        return {"base64": base64.b64encode(body).decode()}
    return text


def route_headers(route: Route) -> dict[str, str]:
    """The route's forwarded headers: a mapping, or rows of {"key", "value"}."""
    raw = route.headers or {}
    items = raw.items() if isinstance(raw, dict) else ((r.get("key"), r.get("value")) for r in raw)
    return {str(k).strip().lower(): str(v) for k, v in items if k and str(k).strip()}


def from_schedule(event: Event) -> bool:
    return event.trigger is not None and event.trigger.kind == Kind.SCHEDULER


def run_input(event: Event, route: Route):
    """ctx.input: a schedule's run gets its route's payload ({} when the route has none;
    apps/triggers/scheduling.py), every other event its body."""
    if from_schedule(event):
        return route.payload if route.payload is not None else {}
    return event_input(event)


def run_headers(event: Event, route: Route) -> dict[str, str]:
    """ctx.headers: the event's (credentials already left out), the route's over them, and
    the pipeline's own, which nobody can override. A schedule's event headers are the
    scheduler's (which schedule, which due time): a route cannot override them either."""
    return {
        **event.headers,
        **route_headers(route),
        **(event.headers if from_schedule(event) else {}),
        "x-fastn-event-id": str(event.id),
        "x-fastn-trigger-id": str(event.trigger_id or ""),
    }


def route_target(route: Route | None) -> tuple[Workflow, WorkflowVersion | None]:
    """The workflow and the version the route's environment serves now (None: the draft)."""
    if route is None:
        raise DeliveryError(
            "The route was deleted before its run could start.", stage=STAGE_ROUTE,
            permanent=True,
        )  # fmt: skip
    version = resolve_version(route.workflow, route.environment)
    return checked_target(route, None if version == DRAFT else version, missing=version is None)


def checked_target(
    route: Route, version: WorkflowVersion | None, *, missing: bool
) -> tuple[Workflow, WorkflowVersion | None]:
    """DeliveryError unless the route's workflow can run: enabled, and its environment serves
    a version (`missing`: it serves none; a DRAFT route runs the draft)."""
    workflow = route.workflow
    if not workflow.enabled:
        raise DeliveryError(f"The workflow {workflow.name!r} is disabled.")
    if missing:
        if route.environment.lower() == TEST:
            raise DeliveryError(f"The workflow {workflow.name!r} has never been published.")
        raise DeliveryError(
            f"The workflow {workflow.name!r} is not deployed to {route.environment!r}."
        )
    return workflow, version


def start_run(
    delivery: Delivery, event: Event, route: Route | None, target: RouteTarget | None = None
) -> Execution:
    """Create and dispatch (on commit) the route's run, and mark the delivery started (a new
    delivery is inserted so); one attempt, counted. `target`: the route's workflow and version
    as routing read them (else they are read now). Raises DeliveryError (nothing written but
    the attempt count) when the run cannot be created. The caller holds the event's lock."""
    delivery.attempts += 1
    before = (delivery.status, delivery.execution_id, delivery.error, delivery.next_attempt_at)
    try:
        with transaction.atomic():  # a savepoint: a refused INSERT leaves the caller's work
            if target is not None:
                missing = target.version is None and not route.is_draft
                workflow, version = checked_target(route, target.version, missing=missing)
            else:
                workflow, version = route_target(route)
            execution = execution_create(
                workflow,
                version=version,
                code=None,
                input=run_input(event, route),
                headers=run_headers(event, route),
                triggered_by=TRIGGERED_BY.get(event.source, TriggeredBy.WEBHOOK),
                actor=Actor.system(f"Trigger {event.trigger_name}"[:254]),
                customer=rawsql.reference(Customer, event.customer_id)
                if event.customer_id
                else None,
                environment=DRAFT if version is None else route.environment.lower(),
            )
            delivery.status = DeliveryStatus.STARTED
            delivery.execution = execution
            delivery.error = ""
            delivery.next_attempt_at = None
            if delivery.pk is None:
                rawsql.insert(delivery)
            else:
                delivery.save(update_fields=["status", "execution", "error", "next_attempt_at",
                                             "attempts"])  # fmt: skip
            execution_dispatch(execution)
    except DatabaseError as exc:
        # The savepoint undid the rows; undo the instance too.
        delivery.status, delivery.execution_id, delivery.error, delivery.next_attempt_at = before
        if delivery._state.adding:
            delivery.pk = None
        raise DeliveryError(f"The run could not be recorded (database error: {exc}).") from None
    return execution


def delivery_attempt(
    delivery: Delivery, event: Event, route: Route | None, target: RouteTarget | None = None
) -> Execution | None:
    """One attempt of a delivery under the event's lock: started, or its failure recorded
    (retrying after the backoff, dead-lettered or failed once attempts are spent)."""
    try:
        return start_run(delivery, event, route, target)
    except DeliveryError as exc:
        delivery_failed(delivery, event, exc)
        return None


def delivery_failed(delivery: Delivery, event: Event, error: DeliveryError) -> None:
    """Record a refused attempt: retrying after the trigger's backoff while attempts remain
    (and the error is not permanent), else dead-lettered (Dead Letter Queue on, or the
    trigger is gone) or failed."""
    trigger = event.trigger
    max_attempts = trigger.max_attempts if trigger is not None else 1
    delivery.error = error.message
    delivery.next_attempt_at = None
    if not error.permanent and delivery.attempts < max_attempts:
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = timezone.now() + backoff_delay(trigger, delivery.attempts)
    elif trigger is None or trigger.dead_letter_enabled:
        delivery.status = DeliveryStatus.DEAD_LETTERED
    else:
        delivery.status = DeliveryStatus.FAILED
    if delivery.pk is None:
        rawsql.insert(delivery)
    else:
        delivery.save(update_fields=["status", "error", "next_attempt_at", "attempts"])
    if delivery.status == DeliveryStatus.DEAD_LETTERED:
        DeadLetter.objects.update_or_create(
            delivery=delivery,
            defaults={
                "space_id": event.space_id,
                "stage": error.stage,
                "error": error.message,
                "attempts": delivery.attempts,
                "status": DeadLetterStatus.PENDING,
                "replayed_at": None,
            },
        )
    logger.info(
        "Delivery of event %s to %s: attempt %d failed (%s): %s",
        event.id, delivery.workflow_name, delivery.attempts, delivery.status, error.message,
    )  # fmt: skip


def status_for(statuses: list[str]) -> str:
    """An event's status from its deliveries' (routed events only): delivered once a run
    started; dead-lettered or failed when every delivery ended so; filtered with none;
    received while deliveries wait or retry."""
    if not statuses:
        return EventStatus.FILTERED
    if DeliveryStatus.STARTED in statuses:
        return EventStatus.DELIVERED
    if all(s in (DeliveryStatus.FAILED, DeliveryStatus.DEAD_LETTERED) for s in statuses):
        if DeliveryStatus.DEAD_LETTERED in statuses:
            return EventStatus.DEAD_LETTERED
        return EventStatus.FAILED
    return EventStatus.RECEIVED


def event_settle(event: Event) -> None:
    """Recompute the routed event's status from its deliveries (under its lock)."""
    statuses = list(Delivery.objects.filter(event_id=event.id).values_list("status", flat=True))
    status = status_for(statuses)
    if status != event.status:
        Event.objects.filter(pk=event.pk).update(status=status)
        event.status = status


def deliveries_retry_due(*, limit: int = 100) -> int:
    """Attempt the deliveries whose retry is due; answers how many were attempted."""
    due = list(
        Delivery.objects.filter(status=DeliveryStatus.RETRYING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("id", "event_id")[:limit]
    )
    attempted = 0
    for delivery_id, event_id in due:
        with transaction.atomic():
            event = lock_event(event_id)
            delivery = (
                Delivery.objects.select_related("route__workflow")
                .filter(pk=delivery_id, status=DeliveryStatus.RETRYING)
                .first()
            )
            if event is None or delivery is None:
                continue  # another process took it, or it was deleted
            delivery_attempt(delivery, event, delivery.route)
            event_settle(event)
            attempted += 1
    return attempted
