"""Activity → Events and Activity → Dead letters: what arrived, what it started, what could not
be delivered, and Replay.

Viewers read both pages; Operate replays (an event: a new event routed afresh,
apps/triggers/pipeline/replay.py; a dead letter: one new attempt of its delivery,
apps/triggers/pipeline/deadletters.py). Every replay is audited by its service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability
from apps.triggers.activity_forms import (
    RANGE_CHOICES,
    DeadLetterFilterForm,
    EventFilterForm,
    ReplayForm,
)
from apps.triggers.display import event_settled
from apps.triggers.models import DeadLetterStatus, Source
from apps.triggers.payloads import body_view, headers_view
from apps.triggers.pipeline.deadletters import dead_letter_replay, dead_letters_replay_matching
from apps.triggers.pipeline.replay import event_replay, event_replay_refusal, new_replay_token
from apps.triggers.selectors import (
    DEAD_LETTER_TABS,
    EVENT_TAB_LABELS,
    EVENT_TABS,
    dead_letter_page,
    dead_letter_tab_counts,
    dead_letters_replayable_count,
    event_page,
    event_replays,
    event_routing,
    event_tab_counts,
    get_dead_letter_for_member,
    get_event_for_member,
)
from fastn_console.listing import list_context

EVENTS = "triggers/activity/events.html"
EVENT = "triggers/activity/event.html"
DEAD_LETTERS = "triggers/activity/dead_letters.html"
DEAD_LETTER = "triggers/activity/dead_letter.html"
# Replay all matching replays at most this many at once (oldest first); the message says
# how many are left.
REPLAY_ALL_LIMIT = 500


def slug_url(request, name: str, **kwargs) -> str:
    return reverse(name, kwargs={"space_slug": request.space.slug, **kwargs})


# --- Events ---------------------------------------------------------------------------------


@require(Capability.VIEW)
def event_list(request):
    form = EventFilterForm(request.GET, space=request.space)
    filters = form.filters()
    rows, next_cursor = event_page(request.space, filters)
    counts = event_tab_counts(request.space, filters)
    tabs = [(tab, EVENT_TAB_LABELS[tab]) for tab in EVENT_TABS]
    context = {
        **list_context(filters, rows, next_cursor, counts, tabs),
        "ranges": RANGE_CHOICES,
        "sources": Source.choices,
        "triggers": form.triggers,
        "customers": form.customer_options(filters.customer_id),
        "q_error": form.errors.get("q"),
        "q_text": form.data.get("q", "")[:200],
        "in_flight": any(not event_settled(row) for row in rows),
    }
    if request.htmx:
        return render(request, f"{EVENTS}#results", context)
    return render(request, EVENTS, context)


@require(Capability.VIEW)
def event_detail(request, event_id):
    """The page; its poll (htmx) gets the status and routing region only, until settled."""
    event = get_event_for_member(request, event_id)
    routing = event_routing(event)
    refusal = event_replay_refusal(event)
    context = {
        "event": event,
        "routing": routing,
        "settled": event_settled(event),
        "replays": event_replays(event),
        "can_replay": refusal is None,
        "replay_refusal": refusal,
        "replay_token": new_replay_token(),
    }
    if request.htmx:
        return render(request, f"{EVENT}#refresh", context)
    context.update(headers=headers_view(event.headers), body=body_view(event))
    return render(request, EVENT, context)


@require_POST
@require(Capability.OPERATE)
def event_replay_view(request, event_id):
    event = get_event_for_member(request, event_id)
    form = ReplayForm(request.POST)
    token = (form.cleaned_data.get("token") if form.is_valid() else "") or new_replay_token()
    try:
        replayed = event_replay(event, actor=actor(request), token=token, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(slug_url(request, "event_detail", event_id=event.id))
    if replayed.created:
        messages.success(request, "Replayed as a new event: its runs appear below.")
    else:
        messages.info(request, "This replay was already made (the button was pressed twice).")
    return redirect(slug_url(request, "event_detail", event_id=replayed.event.id))


# --- Dead letters ---------------------------------------------------------------------------


def dead_letters_url(request, query: str = "") -> str:
    return slug_url(request, "dead_letters") + (f"?{query}" if query else "")


@require(Capability.VIEW)
def dead_letter_list(request):
    form = DeadLetterFilterForm(request.GET, space=request.space)
    filters = form.filters()
    rows, next_cursor = dead_letter_page(request.space, filters)
    counts = dead_letter_tab_counts(request.space, filters)
    tabs = [(tab, tab.capitalize()) for tab in DEAD_LETTER_TABS]
    context = {
        **list_context(filters, rows, next_cursor, counts, tabs),
        "ranges": RANGE_CHOICES,
        "triggers": form.triggers,
        "replayable": dead_letters_replayable_count(request.space, filters),
        "list_query": filters.query(),
        "retention_days": settings.FASTN_DEAD_LETTER_DAYS,
    }
    if request.htmx:
        return render(request, f"{DEAD_LETTERS}#results", context)
    return render(request, DEAD_LETTERS, context)


@require(Capability.VIEW)
def dead_letter_detail(request, dead_letter_id):
    dead_letter = get_dead_letter_for_member(request, dead_letter_id)
    event = dead_letter.delivery.event
    context = {
        "dead_letter": dead_letter,
        "delivery": dead_letter.delivery,
        "event": event,
        "body": body_view(event),
        "headers": headers_view(event.headers),
        "retention_days": settings.FASTN_DEAD_LETTER_DAYS,
    }
    return render(request, DEAD_LETTER, context)


@require_POST
@require(Capability.OPERATE)
def dead_letter_replay_view(request, dead_letter_id):
    """Replay one; back to the list (with its filters) or to the dead letter's page."""
    dead_letter = get_dead_letter_for_member(request, dead_letter_id)
    back = request.POST.get("next", "")
    if dead_letter.shown_status == DeadLetterStatus.REPLAYED:
        messages.info(request, "This dead letter was already replayed.")
    elif dead_letter.shown_status == DeadLetterStatus.EXPIRED:
        messages.error(request, "This dead letter has expired: it can no longer be replayed.")
    else:
        execution = dead_letter_replay(dead_letter, actor=actor(request))
        replay_message(request, dead_letter, execution)
    if back.startswith("list"):
        return redirect(dead_letters_url(request, list_query(request, back.partition("?")[2])))
    return redirect(slug_url(request, "dead_letter_detail", dead_letter_id=dead_letter.id))


def list_query(request, query: str) -> str:
    """The list's query string carried through a replay, re-read through its form so that
    only its own filters come back."""
    form = DeadLetterFilterForm(QueryDict(query), space=request.space)
    return form.filters().query()


def replay_message(request, dead_letter, execution) -> None:
    name = dead_letter.delivery.workflow_name
    if execution is not None:
        messages.success(request, f"Replayed: a run of {name} started.")
        return
    dead_letter.refresh_from_db(fields=["status", "error"])
    if dead_letter.status == DeadLetterStatus.REPLAYED:
        messages.info(request, "This dead letter was already replayed.")
    else:
        messages.error(request, f"The replay of {name} was refused again: {dead_letter.error}")


@require_POST
@require(Capability.OPERATE)
def dead_letters_replay_all(request):
    """Replay all matching: the pending dead letters that the list's filters select (the tab
    aside: only pending ones can be replayed)."""
    form = DeadLetterFilterForm(request.POST, space=request.space)
    filters = form.filters()
    trigger = form.triggers.filter(id=filters.trigger_id).first() if filters.trigger_id else None
    started = dead_letters_replay_matching(
        request.space, actor=actor(request), trigger=trigger, since=filters.since,
        error_contains=filters.q, limit=REPLAY_ALL_LIMIT,
    )  # fmt: skip
    left = dead_letters_replayable_count(request.space, filters)
    text = f"Replayed {started} dead letter{'s' if started != 1 else ''}: their runs started."
    if left:
        text += f" {left} still pending (refused again, or beyond the first {REPLAY_ALL_LIMIT})."
    (messages.success if started and not left else messages.warning)(request, text)
    return redirect(dead_letters_url(request, filters.query(before=None)))
