"""Sequential triggers: one run at a time per trigger, in arrival order.

Routing puts a sequential trigger's deliveries in line (`waiting`). The line moves when the
trigger has nothing in progress — no delivery retrying, no started run that has not ended —
and no earlier event of the trigger is still unrouted (its outbox row is still there): then
the head of the line (oldest event first by `received_at`, then its routes in order) starts.

How the pipeline learns that a run ended without the executions app knowing about triggers:
the `events` process looks (every tick, a fraction of a second, and right after routing) at
the started runs of the triggers that have a line, and stamps `run_ended_at` on deliveries
whose execution is terminal or gone. A run that ends by any path — its worker, the reaper,
a cancel, a retention purge — is seen the same way.

Each advance holds the trigger's row lock, so two `events` processes never start two runs of
one trigger at once."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.executions.models import TERMINAL
from apps.triggers.models import Delivery, DeliveryStatus, ExecutionMode, Outbox, Trigger
from apps.triggers.pipeline.delivery import delivery_attempt, event_settle, lock_event


def sequence_tick() -> int:
    """Advance every trigger with deliveries in line; answers how many runs started."""
    trigger_ids = set(
        Delivery.objects.filter(status=DeliveryStatus.WAITING).values_list("trigger_id", flat=True)
    )
    return sum(sequence_advance(trigger_id) for trigger_id in trigger_ids)


def sequence_advance(trigger_id) -> int:
    """Start the next waiting delivery of the trigger if its line may move (all of them if the
    trigger is parallel now, or gone); answers how many runs started."""
    with transaction.atomic():
        trigger = Trigger.objects.select_for_update().filter(pk=trigger_id).first()
        if trigger is None or trigger.execution_mode != ExecutionMode.SEQUENTIAL:
            return _start_all_waiting(trigger_id)
        if _busy(trigger):
            return 0
        head = (
            Delivery.objects.filter(trigger=trigger, status=DeliveryStatus.WAITING)
            .select_related("event")
            .order_by("event__received_at", "event_id", "id")
            .first()
        )
        if head is None:
            return 0
        earlier_unrouted = Outbox.objects.filter(
            event__trigger=trigger, event__received_at__lt=head.event.received_at
        ).exists()
        if earlier_unrouted:
            return 0
        return _start(head.pk, head.event_id)


def _busy(trigger: Trigger) -> bool:
    """Stamp the runs that ended; answer whether something of the trigger is in progress."""
    ended = Delivery.objects.filter(
        trigger=trigger, status=DeliveryStatus.STARTED, run_ended_at__isnull=True
    ).filter(Q(execution__isnull=True) | Q(execution__status__in=TERMINAL))
    Delivery.objects.filter(pk__in=list(ended.values_list("pk", flat=True))).update(
        run_ended_at=timezone.now()
    )
    return (
        Delivery.objects.filter(trigger=trigger)
        .filter(
            Q(status=DeliveryStatus.RETRYING)
            | Q(status=DeliveryStatus.STARTED, run_ended_at__isnull=True)
        )
        .exists()
    )


def _start(delivery_id, event_id) -> int:
    event = lock_event(event_id)
    delivery = (
        Delivery.objects.select_related("route__workflow")
        .filter(pk=delivery_id, status=DeliveryStatus.WAITING)
        .first()
    )
    if event is None or delivery is None:
        return 0
    execution = delivery_attempt(delivery, event, delivery.route)
    event_settle(event)
    return 1 if execution is not None else 0


def _start_all_waiting(trigger_id) -> int:
    waiting = Delivery.objects.filter(trigger_id=trigger_id, status=DeliveryStatus.WAITING)
    return sum(_start(pk, event_id) for pk, event_id in waiting.values_list("pk", "event_id"))
