"""Relative times, formatted one way on every page: "just now", "5 minutes ago", "in 3 days".

Registered as a builtin of the template engine (settings.TEMPLATES), so no page formats them
its own way with `timesince` (which says "0 minutes" for anything under a minute)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

register = template.Library()

# Under this, "0 minutes" is what timesince would say: it is "just now" to a reader.
JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(value: datetime | None) -> str:
    """Under a minute (or slightly in the future: another host's clock) "just now", else
    the largest unit: "5 minutes ago", "2 days ago"."""
    if not value:
        return ""
    if timezone.now() - value < JUST_NOW:
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def until(value: datetime | None) -> str:
    """The largest unit ("in 6 days", "in 3 hours"); "in under a minute" near the end,
    "now" once past."""
    if not value:
        return ""
    remaining = value - timezone.now()
    if remaining <= timedelta(0):
        return "now"
    if remaining < JUST_NOW:
        return "in under a minute"
    return f"in {timeuntil(value, depth=1)}"
