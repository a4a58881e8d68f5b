"""Activity → Traces: the list of connector calls (tabs, filters, keyset pages) and a call's
detail, shown in a drawer beside the list (htmx) or as a page of its own (a link opened
directly). Viewers read both. Times are shown, and custom dates read, in the Space's time
zone."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.connectors.models import CallStatus
from apps.connectors.trace_forms import RANGE_CHOICES, TraceFilterForm
from apps.connectors.trace_selectors import (
    CUSTOM,
    TAB_LABELS,
    TABS,
    connector_names,
    get_trace_for_member,
    redacted_url,
    trace_exchange,
    trace_page,
    trace_tab_counts,
)
from apps.spaces.access import require
from apps.spaces.models import Capability
from fastn_console.listing import list_context

LIST = "connectors/traces/list.html"
DETAIL = "connectors/traces/detail.html"


def space_zone(space) -> ZoneInfo:
    try:
        return ZoneInfo(space.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# A call pending longer than this is not waited for: its run was lost, not slow.
POLL_WINDOW = timedelta(minutes=10)


def in_flight(call) -> bool:
    return call.status == CallStatus.PENDING and timezone.now() - call.started_at < POLL_WINDOW


@require(Capability.VIEW)
@require_GET
def trace_list(request):
    zone = space_zone(request.space)
    with timezone.override(zone):
        names = connector_names(request.space)
        form = TraceFilterForm(request.GET, space=request.space, names=names)
        filters = form.filters()
        rows, next_cursor = trace_page(request.space, filters)
        counts = trace_tab_counts(request.space, filters)
        for row in rows:
            row.connector_name = names.get(row.connector_slug) or row.connector_slug
        tabs = [(tab, TAB_LABELS[tab]) for tab in TABS]
        context = {
            **list_context(filters, rows, next_cursor, counts, tabs),
            "ranges": RANGE_CHOICES,
            "custom": filters.range == CUSTOM,
            "connectors": form.connectors,
            "range_errors": form.range_errors() if filters.range == CUSTOM else [],
            "zone": zone.key,
            "in_flight": any(in_flight(row) for row in rows),
        }
        template = f"{LIST}#results" if request.htmx else LIST
        return render(request, template, context)


@require(Capability.VIEW)
@require_GET
def trace_detail(request, trace_id):
    call = get_trace_for_member(request, trace_id)
    sent, received = trace_exchange(call)
    zone = space_zone(request.space)
    context = {
        "call": call,
        "sent": sent,
        "received": received,
        "url": redacted_url(call.url),
        "connector_name": connector_names(request.space).get(call.connector_slug, ""),
        "zone": zone.key,
    }
    with timezone.override(zone):
        return render(request, f"{DETAIL}#drawer" if request.htmx else DETAIL, context)
