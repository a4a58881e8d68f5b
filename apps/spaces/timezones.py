"""The IANA time zones a Space (and a schedule) may name, defined once."""

from __future__ import annotations

import zoneinfo
from functools import cache

DEFAULT_TIME_ZONE = "UTC"


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every zone the system's tz database knows, UTC first, then alphabetically."""
    names = sorted(zoneinfo.available_timezones() - {DEFAULT_TIME_ZONE})
    return (DEFAULT_TIME_ZONE, *names)


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


def is_time_zone(name: str) -> bool:
    return name in time_zone_names()
