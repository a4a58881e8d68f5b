from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def duration(ms) -> str:
    """79 → "79ms", 2140 → "2.1s", 65000 → "1m 5s"."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m {seconds}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60}m"


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


STATUS_BADGES = {
    "completed": "badge-success",
    "failed": "badge-danger",
    "timeout": "badge-warning",
    "cancelled": "badge-neutral",
    "running": "badge-info",
    "pending": "badge-neutral",
}


@register.filter
def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "badge-neutral")
