"""How a trigger is presented: its receiver URL, a cURL command that reaches it, and an
example body that its first route's filters let through."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.dateformat import format as date_format

from apps.triggers import schedules
from apps.triggers.catalog import catalog_lookup, connector_by_key
from apps.triggers.filters import FilterError, parse_path
from apps.triggers.models import DeliveryStatus, EventStatus, Subscription, Trigger, WebhookAuth

API_KEY_HEADER = "x-fastn-key"
API_KEY_PLACEHOLDER = "YOUR_API_KEY"
PENDING_DELIVERIES = (DeliveryStatus.WAITING, DeliveryStatus.RETRYING)


def event_settled(event) -> bool:
    """Whether a page following an event can stop polling: it is routed and every execution
    it started has ended."""
    if event.status == EventStatus.RECEIVED:
        return False
    executions = [d.execution for d in event.deliveries.all() if d.execution is not None]
    pending = [d for d in event.deliveries.all() if d.status in PENDING_DELIVERIES]
    return not pending and all(e.is_terminal for e in executions)


@dataclass(frozen=True)
class AppEventSource:
    connector: str  # "Shopify"
    event: str  # "Order created"
    path: str  # "orders/create"
    delivery: str  # "WEBHOOK"
    # What the person does at the provider while the trigger is Not Subscribed ("" if nothing).
    instruction: str = ""


def app_event_source(trigger: Trigger, connectors=None) -> AppEventSource:
    """An app event trigger's connector and event by their catalog names (the stored keys
    when the catalog no longer has them). `connectors`: the Space's app-event catalog when the
    caller has it (a list page), else the trigger's connector is looked up alone."""
    if connectors is None:
        connector = connector_by_key(trigger.space, trigger.connector)
    else:
        connector = catalog_lookup(connectors, trigger.connector)
    event = connector.event(trigger.event_name) if connector else None
    if connector is None or event is None:
        return AppEventSource(trigger.connector, trigger.event_name, "", "WEBHOOK")
    instruction = ""
    if connector.needs_connection and trigger.subscription == Subscription.NOT_SUBSCRIBED:
        instruction = (
            f"Register this URL as a webhook for {event.name} ({event.key}) in {connector.name}. "
            "The subscription turns Subscribed when the first event arrives."
        )
    return AppEventSource(connector.name, event.name, event.path, event.delivery, instruction)


def receiver_path(trigger: Trigger) -> str:
    """DESIGN.md §6: the receiver of webhook and app-event triggers."""
    return f"/api/v1/clients/{trigger.space_id}/webhooks/{trigger.webhook_id}"


def example_event(trigger: Trigger, routes) -> tuple[dict[str, Any], dict[str, str]]:
    """(body, extra headers) of an event that the first route's filters would route: each
    `eq` / `in` / `exists` row on a plain path puts its value there, so a command copied from
    the console starts a run instead of being filtered out."""
    body: dict[str, Any] = {"event": "example", "data": {"id": "evt_123"}}
    headers: dict[str, str] = {}
    rows = routes[0].filters if routes else []
    for row in rows:
        value = _example_value(row)
        if value is _SKIP:
            continue
        try:
            path = parse_path(row.get("path", ""))
        except FilterError:
            continue
        if path.headers:
            headers[str(path.segments[0])] = value if isinstance(value, str) else json.dumps(value)
        elif path.segments and all(isinstance(s, str) for s in path.segments):
            _put(body, path.segments, value)
    return body, headers


_SKIP = object()


def _example_value(row: dict) -> Any:
    operator, value = row.get("operator"), row.get("value")
    if operator == "eq":
        return value
    if operator == "in" and isinstance(value, list) and value:
        return value[0]
    if operator == "exists" and value is not False:
        return "example"
    return _SKIP


def _put(body: dict, segments, value: Any) -> None:
    node = body
    for key in segments[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[segments[-1]] = value


def curl_command(trigger: Trigger, url: str, routes) -> str:
    """A command that posts an example event to `url`; the API key is a placeholder."""
    body, headers = example_event(trigger, routes)
    lines = [f"curl -X POST {shlex.quote(url)}", "-H 'Content-Type: application/json'"]
    if trigger.auth == WebhookAuth.API_KEY:
        lines.append(f"-H {shlex.quote(f'{API_KEY_HEADER}: {API_KEY_PLACEHOLDER}')}")
    lines += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    lines.append(f"-d {shlex.quote(json.dumps(body, separators=(',', ':')))}")
    return " \\\n  ".join(lines)


# --- Schedules ------------------------------------------------------------------------------

PREVIEW_RUNS = 5
RUN_FORMAT = "D j M, H:i T"
RUN_FORMAT_OTHER_YEAR = "j M Y, H:i T"


@dataclass(frozen=True)
class ScheduleSummary:
    words: str  # "Every 5 minutes", or why the stored schedule cannot be read
    timezone: str
    next_run: str  # in the schedule's zone; "" when none
    last_run: str
    starts_at: str


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_run(moment: datetime | None, zone: ZoneInfo) -> str:
    """Like "Thu 3 Dec, 09:00 CET" in the schedule's zone; with the year when not this one."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    same_year = local.year == timezone.now().astimezone(zone).year
    return date_format(local, RUN_FORMAT if same_year else RUN_FORMAT_OTHER_YEAR)


def schedule_summary(trigger: Trigger) -> ScheduleSummary:
    """The Schedulers tab's Schedule, Next run, Last run and Timezone columns."""
    zone_name = (trigger.schedule or {}).get("timezone") or trigger.space.time_zone
    zone = _zone(zone_name)
    starts_at = None
    try:
        schedule = schedules.schedule_from_dict(trigger.schedule or {})
    except schedules.ScheduleError as exc:
        words = f"Invalid schedule: {exc.message}"
    else:
        words, starts_at = schedules.describe(schedule), schedule.starts_at
    return ScheduleSummary(
        words=words,
        timezone=zone_name,
        next_run=format_run(trigger.next_run_at, zone) if trigger.enabled else "",
        last_run=format_run(trigger.last_run_at, zone),
        starts_at=format_run(starts_at, zone),
    )


def schedule_preview(form) -> dict[str, Any]:
    """Context of the form's live preview: the schedule in words, its next runs in the chosen
    zone, or the form's errors on the schedule fields."""
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return {"preview_errors": errors}
    schedule = form.schedule
    zone = _zone(form.cleaned_data.get("timezone"))
    runs = schedules.next_runs(schedule, timezone.now(), count=PREVIEW_RUNS)
    if schedule.preset == "interval":
        words = schedules.preview_interval(schedule.every, schedule.unit)
    else:
        words = schedules.describe(schedule)
    return {
        "preview_words": words,
        "preview_runs": [format_run(run, zone) for run in runs],
        "preview_zone": str(zone),
    }
