"""The one set of presentation filters every page uses: durations, times, JSON and status
badges. `{% load formatting %}`.

Rules (tests/console/test_formatting.py pins them):

- `duration` (milliseconds): "—" for none, "0ms", "<1ms", "79ms", "1.5s", "2s" (never
  "2.0s"), "59.9s", "1m", "1m 5s", "1h", "2h 5m". Values are rounded, so 999.6 ms is "1s"
  and 59 960 ms is "1m", not "60s".
- `when` (a datetime): `<time>` with the ISO value, the exact moment to the millisecond in
  its title, and "4 May 2026, 16:38:29" (or "16:38:29" with `when:"time"`) in the server's
  time zone; `ago` is the relative form, "just now" under a minute.
- `pretty_json` is indented JSON; `json_tree` a collapsible tree of the value.
- `status_badge` maps an execution status to its badge class: pending is neutral (waiting,
  nothing happening yet), running is info, waiting (a durable run asleep or waiting for an
  event) has its own colour, paused is warning (it waits on a person). `status_badge:"step"`
  does the same for a durable step's status. `status_badge:"event"`, `:"delivery"` and
  `:"dead_letter"` do the same for the triggers' statuses, in the same colours: success for
  what started its runs, info while in flight, danger for what failed, warning for what waits
  on a person (a pending dead letter, a retrying delivery), neutral for the rest.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil

register = template.Library()

TREE_NODE_LIMIT = 1500
DATE_FORMATS = {"datetime": "j M Y, H:i:s", "time": "H:i:s", "date": "j M Y"}

STATUS_BADGES = {
    "completed": "badge-success",
    "failed": "badge-danger",
    "timeout": "badge-warning",
    "cancelled": "badge-neutral",
    "running": "badge-info",
    "pending": "badge-neutral",
    "waiting": "badge-waiting",
    "paused": "badge-warning",
}
TRIGGER_BADGES = {
    "event": {
        "received": "badge-info",
        "delivered": "badge-success",
        "duplicate": "badge-neutral",
        "filtered": "badge-neutral",
        "failed": "badge-danger",
        "dead-lettered": "badge-danger",
    },
    "delivery": {
        "waiting": "badge-neutral",
        "started": "badge-success",
        "retrying": "badge-warning",
        "failed": "badge-danger",
        "dead-lettered": "badge-danger",
    },
    "dead_letter": {
        "pending": "badge-warning",
        "replayed": "badge-success",
        "expired": "badge-neutral",
    },
    # The durable steps of an execution (ExecutionStep.status).
    "step": {
        "running": "badge-info",
        "retrying": "badge-warning",
        "sleeping": "badge-waiting",
        "waiting": "badge-waiting",
        "complete": "badge-success",
        "errored": "badge-danger",
    },
}


@register.filter
def duration(ms: Any) -> str:
    """Milliseconds as a person reads them (rules in the module docstring)."""
    if ms is None or ms == "":
        return "—"
    try:
        value = float(ms)
    except (TypeError, ValueError):
        return "—"
    if value != value or value < 0:  # NaN or negative: nothing sensible to say
        return "—"
    if value == 0:
        return "0ms"
    if value < 1:
        return "<1ms"
    if round(value) < 1000:
        return f"{round(value)}ms"
    tenths = round(value / 100)
    if tenths < 600:
        whole, tenth = divmod(tenths, 10)
        return f"{whole}.{tenth}s" if tenth else f"{whole}s"
    minutes, seconds = divmod(round(value / 1000), 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


@register.filter
def when(value: datetime | None, style: str = "datetime") -> SafeString | str:
    """A moment as `<time>`: human text, the exact millisecond in the tooltip."""
    if not isinstance(value, datetime):
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    exact = local.isoformat(sep=" ", timespec="milliseconds")
    if timezone.is_aware(local):
        exact = f"{exact[:23]} {local.tzname()}"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        exact,
        date_format(local, DATE_FORMATS.get(style, DATE_FORMATS["datetime"])),
    )


# Under this, "0 minutes" is what timesince would say: it is "just now" to a reader.
JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(value: datetime | None) -> str:
    """Under a minute (or slightly in the future: another host's clock) "just now", else
    the largest unit: "5 minutes ago", "2 days ago"."""
    if not isinstance(value, datetime):
        return ""
    if timezone.now() - value < JUST_NOW:
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def until(value: datetime | None) -> str:
    """The largest unit ("in 6 days", "in 3 hours"); "in under a minute" near the end,
    "now" once past."""
    if not isinstance(value, datetime):
        return ""
    remaining = value - timezone.now()
    if remaining <= timedelta(0):
        return "now"
    if remaining < JUST_NOW:
        return "in under a minute"
    return f"in {timeuntil(value, depth=1)}"


@register.filter
def status_badge(status: str, kind: str = "execution") -> str:
    return TRIGGER_BADGES.get(kind, STATUS_BADGES).get(status, "badge-neutral")


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _scalar(value: Any) -> SafeString:
    kind = (
        "null"
        if value is None
        else "bool"
        if isinstance(value, bool)
        else "num"
        if isinstance(value, int | float)
        else "str"
    )
    return format_html('<span class="jt-{}">{}</span>', kind, json.dumps(value, ensure_ascii=False))


def _node(value: Any, budget: list[int], depth: int, key: SafeString | str = "") -> SafeString:
    """One value; `key` (`"name": `) goes inside a container's summary so that it stays on
    the line of its opening bracket."""
    budget[0] -= 1
    if not isinstance(value, dict | list):
        return format_html("{}{}", key, _scalar(value))
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    is_dict = isinstance(value, dict)
    open_, close = ("{", "}") if is_dict else ("[", "]")
    if not items:
        return format_html('{}<span class="jt-punct">{}{}</span>', key, open_, close)
    noun = ("key" if is_dict else "item") + ("" if len(items) == 1 else "s")
    rows = format_html_join(
        "",
        "<li>{}</li>",
        (
            (
                _node(
                    v,
                    budget,
                    depth + 1,
                    format_html(
                        '<span class="jt-key">{}</span>: ', json.dumps(k, ensure_ascii=False)
                    )
                    if is_dict
                    else "",
                ),
            )
            for k, v in items
        ),
    )
    return format_html(
        '<details class="jt-node"{}><summary>{}<span class="jt-punct">{}</span>'
        '<span class="jt-size">{} {}</span></summary><ul>{}</ul><span class="jt-punct">{}</span>'
        "</details>",
        mark_safe(" open") if depth < 3 else "",
        key,
        open_,
        len(items),
        noun,
        rows,
        close,
    )


def _count(value: Any, limit: int) -> int:
    seen, stack = 0, [value]
    while stack and seen <= limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


@register.filter
def json_tree(value: Any) -> SafeString:
    """The value as nested <details> (collapsible, first levels open); plain pretty JSON when
    it is too big to be useful as a tree."""
    if _count(value, TREE_NODE_LIMIT) > TREE_NODE_LIMIT:
        return format_html('<pre class="jt-raw">{}</pre>', pretty_json(value))
    return format_html('<div class="json-tree">{}</div>', _node(value, [TREE_NODE_LIMIT], 0))
