"""Replaying an event (Activity → Events): the event again, as a new event routed afresh.

Why a new event rather than the same one again: a route runs at most once per event (the
unique (event, route) Delivery), which is what makes crashes, redeliveries and dead-letter
replays harmless; so "run it again" has to be another event. The replay copies the original's
body, content type, headers and customer; its source is `manual` (a person started it, and its
runs say so); it points at the original (`replay_of`) and carries `x-fastn-replay-of` in its
headers, so a workflow can tell. It then goes through the whole pipeline like any event —
outbox, stream, routing with the routes' filters as they are now (a route added or fixed since
takes part, a deleted one does not).

A click is one replay: the Replay form carries a token made when its page was drawn. Replays
of one event are serialised by the original's row lock, and a second request with the same
token (a double click, a resubmitted form) answers the replay the first one made."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.spaces.audit import Actor, audit_record
from apps.triggers.models import Event, EventStatus, Source
from apps.triggers.pipeline.delivery import lock_event
from apps.triggers.receive import event_accept, idempotency_key

REPLAY_HEADER = "x-fastn-replay-of"


@dataclass(frozen=True)
class Replayed:
    """`event`: the replay; `created`: False when this token's replay already existed."""

    event: Event
    created: bool


def new_replay_token() -> str:
    return uuid.uuid4().hex


def event_replay_refusal(event: Event) -> str | None:
    """Why the event cannot be replayed now, or None. The pages hide Replay for these too."""
    trigger = event.trigger
    if trigger is None:
        return "The trigger of this event was deleted: there are no routes to run."
    if not trigger.enabled:
        return f"Trigger {trigger.name} is disabled: enable it first."
    if event.status == EventStatus.RECEIVED:
        return "This event is still being delivered; replay it once it has settled."
    return None


def event_replay(event: Event, *, actor: Actor, token: str, request=None) -> Replayed:
    """A new event with the original's body and headers, through the pipeline again.
    Raises ValidationError (with the reason) when the event cannot be replayed.

    1. lock the original; refuse a deleted or disabled trigger, or an event still in flight;
    2. the replay this token already made, if any, is the answer;
    3. accept the copy (event and outbox row), link it to the original with its customer,
       and audit — in one transaction; the publisher is woken after commit."""
    event_key = f"replay:{event.pk}:{token}"
    with transaction.atomic():
        original = lock_event(event.pk)
        if original is None:
            raise ValidationError("This event no longer exists.")
        refusal = event_replay_refusal(original)
        if refusal:
            raise ValidationError(refusal)
        trigger = original.trigger
        key = idempotency_key(trigger, Source.MANUAL, {}, None, event_key)
        earlier = Event.objects.filter(replay_of=original, idempotency_key=key).first()
        if earlier is not None:
            return Replayed(earlier, False)
        accepted = event_accept(
            trigger,
            source=Source.MANUAL,
            headers={**original.headers, REPLAY_HEADER: str(original.pk)},
            body=bytes(original.body),
            content_type=original.content_type,
            event_key=event_key,
        )
        replay = accepted.event
        Event.objects.filter(pk=replay.pk).update(
            replay_of=original, customer_id=original.customer_id
        )
        replay.replay_of, replay.customer_id = original, original.customer_id
        audit_record(
            space=original.space, actor=actor, action="event.replay", resource=original,
            resource_label=f"{original.trigger_name} (event {original.pk})", request=request,
            detail={"replay": str(replay.pk)},
        )  # fmt: skip
    return Replayed(replay, True)
