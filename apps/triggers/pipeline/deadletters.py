"""Dead letters: deliveries whose run could not be started after all their attempts (Dead Letter
Queue on). Replaying one makes one new attempt of its delivery, now, whatever the trigger's
line (a person asked for it): started → the dead letter is `replayed`; refused again → it
stays `pending` with the new error and attempt count. Two replays of one dead letter at once
start one run: the dead letter's status moves pending → replayed under the event's lock, and
the delivery can hold one execution only. Pending dead letters older than
FASTN_DEAD_LETTER_DAYS become `expired` and can no longer be replayed (nor can one past that
age that housekeeping has not marked yet)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.executions.models import Execution
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Outcome, Space
from apps.triggers.models import DeadLetter, DeadLetterStatus, Delivery, Trigger
from apps.triggers.pipeline.delivery import DeliveryError, event_settle, lock_event, start_run


def dead_letter_replay(dead_letter: DeadLetter, *, actor: Actor) -> Execution | None:
    """One new attempt of the dead letter's delivery; answers the run it started, or None
    (the attempt was refused again — see `dead_letter.error` — or the dead letter was not
    pending any more: replayed by someone else meanwhile, or expired).

    1. lock the event; re-read the dead letter, still pending, and its delivery;
    2. start the run (the delivery becomes `started`), or record the new refusal;
    3. settle the event's status; audit the replay — all in one transaction."""
    delivery_id = dead_letter.delivery_id
    event_id = Delivery.objects.filter(pk=delivery_id).values_list("event_id", flat=True).first()
    if event_id is None:
        return None
    with transaction.atomic():
        event = lock_event(event_id)
        current = (
            DeadLetter.objects.select_related("delivery__route__workflow")
            .filter(
                pk=dead_letter.pk, status=DeadLetterStatus.PENDING, created_at__gte=expiry_cutoff()
            )
            .first()
        )
        if event is None or current is None:
            return None
        delivery = current.delivery
        try:
            execution = start_run(delivery, event, delivery.route)
        except DeliveryError as exc:
            Delivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts)
            DeadLetter.objects.filter(pk=current.pk).update(
                error=exc.message, stage=exc.stage, attempts=delivery.attempts
            )
            dead_letter.error, dead_letter.attempts = exc.message, delivery.attempts
            _audit(current, actor, Outcome.FAILURE, exc.message)
            return None
        now = timezone.now()
        DeadLetter.objects.filter(pk=current.pk).update(
            status=DeadLetterStatus.REPLAYED, replayed_at=now, attempts=delivery.attempts
        )
        dead_letter.status, dead_letter.replayed_at = DeadLetterStatus.REPLAYED, now
        event_settle(event)
        _audit(current, actor, Outcome.SUCCESS, f"execution {execution.id}")
    return execution


def dead_letters_matching(
    space: Space,
    *,
    trigger: Trigger | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    error_contains: str = "",
):
    """The Space's pending dead letters that may still be replayed, filtered (oldest
    first)."""
    rows = DeadLetter.objects.filter(
        space=space, status=DeadLetterStatus.PENDING, created_at__gte=expiry_cutoff()
    )
    if trigger is not None:
        rows = rows.filter(delivery__trigger=trigger)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if error_contains:
        rows = rows.filter(error__icontains=error_contains)
    return rows.order_by("created_at", "id")


def dead_letters_replay_matching(
    space: Space,
    *,
    actor: Actor,
    trigger: Trigger | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    error_contains: str = "",
    limit: int = 1000,
) -> int:
    """Replay every pending dead letter of the Space that matches (at most `limit`, oldest
    first); answers how many runs started."""
    matching = dead_letters_matching(
        space, trigger=trigger, since=since, until=until, error_contains=error_contains
    )
    started = 0
    for dead_letter in matching[:limit]:
        if dead_letter_replay(dead_letter, actor=actor) is not None:
            started += 1
    return started


def expiry_cutoff() -> datetime:
    """Dead letters made before this are past their retention: expired, even before the
    housekeeping that marks them so has run."""
    return timezone.now() - timedelta(days=settings.FASTN_DEAD_LETTER_DAYS)


def dead_letters_expire() -> int:
    """Pending dead letters older than FASTN_DEAD_LETTER_DAYS → expired."""
    return DeadLetter.objects.filter(
        status=DeadLetterStatus.PENDING, created_at__lt=expiry_cutoff()
    ).update(status=DeadLetterStatus.EXPIRED)


def _audit(dead_letter: DeadLetter, actor: Actor, outcome: str, detail: str) -> None:
    audit_record(
        space=dead_letter.space,
        actor=actor,
        action="dead_letter.replay",
        resource=dead_letter,
        resource_label=(
            f"{dead_letter.delivery.workflow_name} (event {dead_letter.delivery.event_id})"
        ),
        outcome=outcome,
        detail={"result": detail[:500]},
    )
