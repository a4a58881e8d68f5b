"""The schedule of a Scheduler trigger, as data, and all its time math.

Pure Python (zoneinfo, no Django, no croniter): the models store `Schedule.to_dict()`, the form
validates with `schedule_from_dict()`, the beat process asks `next_run()` / `due_between()`, the
list and the form show `describe()` and `next_runs()`.

Rules (the README's "Schedules" section says the same for users):

- Interval in minutes or hours counts real elapsed time from the anchor (`starts_at`, else the
  Unix epoch): every 15 minutes stays 15 real minutes across a DST change.
- Interval in days, Daily, Weekly, Monthly, and custom cron expressions whose hour field does
  not cover all 24 hours run at wall-clock times of the schedule's zone. A wall time that a
  spring-forward gap skips runs once, at the first instant the clock shows that time or later
  (the end of the gap: 02:30 in a 02:00 -> 03:00 gap runs at 03:00). A wall time that a
  fall-back repeats runs once, at its first occurrence. Both are "the first instant at which the
  local clock reads the scheduled time or later".
- Custom cron expressions whose hour field covers all 24 hours (`*`, `*/1`, `0-23`) run on real
  elapsed time: every instant whose local wall time matches runs, so both passes of a repeated
  hour run and a skipped hour has no runs.
- Day-of-month and day-of-week follow Vixie cron: when both are restricted (neither field
  starts with `*`) a day matches if either matches; otherwise both must match.

Every search stops `HORIZON` ahead, so an expression that matches nothing (or too rarely)
answers None instead of looping.
"""

from __future__ import annotations

import calendar
import heapq
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from itertools import islice, pairwise
from zoneinfo import ZoneInfo, available_timezones

PRESETS = ("interval", "daily", "weekly", "monthly", "custom")
UNITS = ("minutes", "hours", "days")

# Eight years, not five: a "29 February" job waits up to eight years around 2100 (not a leap year).
HORIZON = timedelta(days=8 * 366)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The longest backward clock change in the tz database is two hours (Antarctica/Troll); a real
# instant a little after `after` can show a wall time this much earlier than `after`'s.
_LOOKBACK_PROBE = timedelta(hours=3)
_MAX_EVERY = {"minutes": 366 * 24 * 60, "hours": 366 * 24, "days": 366}
_UNIT_WORDS = {
    "minutes": ("minute", "minutes"),
    "hours": ("hour", "hours"),
    "days": ("day", "days"),
}
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


class ScheduleError(Exception):
    """Invalid schedule input; `field` is the form field to attach `message` to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Cron expressions
# ---------------------------------------------------------------------------------------------

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field(
        "month",
        1,
        12,
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    ),
    # 7 is Sunday too, as in every cron since Vixie's.
    _Field("day-of-week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)


@dataclass(frozen=True)
class Cron:
    """A parsed 5-field expression: the sets of values each field allows."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # cron numbering: 0 = Sunday
    days_star: bool  # the field starts with "*" (Vixie's DOM_STAR)
    weekdays_star: bool

    def matches_date(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = day.isoweekday() % 7 in self.weekdays
        if self.days_star or self.weekdays_star:
            return in_days and in_weekdays
        return in_days or in_weekdays


def validate_cron(expression: str) -> None:
    """Raise ScheduleError(field="cron") with a precise sentence if `expression` is not a valid
    5-field expression, or if it can never run."""
    cron = parse_cron(expression)
    _check_can_run(cron)


@lru_cache(maxsize=512)
def parse_cron(expression: str) -> Cron:
    text = " ".join(str(expression).split())
    if not text:
        raise ScheduleError(
            "cron",
            "Enter a cron expression with 5 fields: minute hour day-of-month month day-of-week.",
        )
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise ScheduleError(
                "cron",
                f"{text} is not supported; use 5 fields or one of "
                "@hourly, @daily, @weekly, @monthly, @yearly.",
            )
        text = ALIASES[text.lower()]
    parts = text.split(" ")
    if len(parts) != 5:
        hint = " Seconds and years are not supported." if len(parts) in (6, 7) else ""
        raise ScheduleError(
            "cron",
            "A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            f"this one has {len(parts)}.{hint}",
        )
    pairs = enumerate(zip(parts, _FIELDS, strict=True), start=1)
    sets = [_parse_field(part, spec, position) for position, (part, spec) in pairs]
    weekdays = frozenset(0 if d == 7 else d for d in sets[4])
    return Cron(
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=weekdays,
        days_star=parts[2].startswith("*"),
        weekdays_star=parts[4].startswith("*"),
    )


def _parse_field(text: str, spec: _Field, position: int) -> set[int]:
    def fail(detail: str) -> ScheduleError:
        return ScheduleError(
            "cron", f"Field {position} ({spec.name}) of the cron expression: {detail}"
        )

    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise fail("an empty item in the list (two commas, or a comma at an end).")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit():
                raise fail(f'the step in "{item}" must be a whole number.')
            step = int(step_text)
            if not 1 <= step <= spec.high:
                raise fail(f'the step {step} in "{item}" must be between 1 and {spec.high}.')
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first or not last:
                raise fail(f'the range "{base}" needs a value on each side of "-".')
            low, high = _value(first, spec, fail), _value(last, spec, fail)
            if low > high:
                raise fail(f'the range "{base}" runs backwards: its first value must come first.')
        else:
            low = _value(base, spec, fail)
            # "5/15" means "5-59/15" (from 5, every 15), as in cronie and Quartz.
            high = spec.high if slash else low
        values.update(range(low, high + 1, step))
    return values


def _value(token: str, spec: _Field, fail: Callable[[str], ScheduleError]) -> int:
    if token.isdigit():
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise fail(f"{number} is out of range {spec.low}-{spec.high}.")
        return number
    upper = token.upper()
    if upper in spec.names:
        return spec.low + spec.names.index(upper)
    quartz = upper in ("?", "L", "W", "LW") or "#" in upper
    if quartz or (upper[-1:] in ("L", "W") and upper[:-1].isdigit()):
        raise fail(f'"{token}" is Quartz syntax; L, W, # and ? are not supported.')
    if spec.names:
        kind = "month" if spec.name == "month" else "day"
        raise fail(f'"{token}" is neither a number {spec.low}-{spec.high} nor a {kind} name.')
    if any(upper in other.names for other in _FIELDS):
        raise fail(f'"{token}" is a name, but this field takes numbers {spec.low}-{spec.high}.')
    raise fail(f'"{token}" is not a number, a range (1-5), a list (1,5) or a step (*/15).')


def _check_can_run(cron: Cron) -> None:
    """An AND-combined day-of-month that no allowed month has can never run ("0 0 31 2 *").
    Every other combination occurs within `HORIZON`: each weekday occurs in every month, and a
    "*"-prefixed day-of-month always contains day 1."""
    if cron.days_star or not cron.weekdays_star:
        return
    longest = {
        month: 29 if month == 2 else calendar.monthrange(2001, month)[1] for month in cron.months
    }
    if any(day <= longest[month] for day in cron.days for month in cron.months):
        return
    months = _join([_MONTH_NAMES[m - 1] for m in sorted(cron.months)])
    days = _join([str(d) for d in sorted(cron.days)], "or")
    verb = "has" if len(cron.months) == 1 else "have"
    raise ScheduleError("cron", f"This cron expression never runs: {months} {verb} no day {days}.")


# ---------------------------------------------------------------------------------------------
# The schedule
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A validated schedule. Construction validates and normalizes (ScheduleError on bad
    input); the fields that the preset does not use are reset to their defaults, so two
    schedules that run alike compare equal and nothing stale is stored."""

    preset: str
    timezone: str = "UTC"  # IANA name
    every: int = 15  # interval
    unit: str = "minutes"  # interval: minutes | hours | days
    time: str = "09:00"  # daily / weekly / monthly, HH:MM 24-hour
    weekdays: tuple[int, ...] = ()  # weekly: 0 = Monday ... 6 = Sunday
    day: int = 1  # monthly: 1-31; a shorter month runs on its last day
    cron: str = ""  # custom: 5 fields or an @alias
    starts_at: datetime | None = None  # aware; nothing runs before it; the interval's anchor

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ScheduleError("preset", _PRESET_SENTENCE)
        _check_timezone(self.timezone)
        used = _USED_BY[self.preset]
        for name, default in _DEFAULTS.items():
            value = _CLEANERS[name](getattr(self, name)) if name in used else default
            object.__setattr__(self, name, value)
        if self.preset == "interval" and self.every > _MAX_EVERY[self.unit]:
            raise ScheduleError(
                "every",
                f"An interval can be at most {_MAX_EVERY[self.unit]} {self.unit} (366 days).",
            )
        object.__setattr__(self, "starts_at", _clean_starts_at(self.starts_at))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict:
        """JSON-ready, always the same keys in the same order (the dataclass's)."""
        data = asdict(self)
        data["weekdays"] = list(self.weekdays)
        data["starts_at"] = self.starts_at.isoformat() if self.starts_at else None
        return data


_PRESET_SENTENCE = "Choose a schedule type: interval, daily, weekly, monthly or custom."


def schedule_from_dict(data: dict) -> Schedule:
    """Build a Schedule from JSON or form data (numbers may come as strings, `starts_at` as an
    ISO-8601 string with an offset, weekdays as a list or "0,4"); raise ScheduleError naming the
    first bad field. Missing keys take their defaults; unknown keys are refused, so a typo in a
    trigger file is reported rather than ignored."""
    if not isinstance(data, dict):
        raise ScheduleError("schedule", "A schedule must be a JSON object.")
    known = [f.name for f in fields(Schedule)]
    for key in data:
        if key not in known:
            raise ScheduleError(
                str(key), f'"{key}" is not a schedule field; the fields are {", ".join(known)}.'
            )
    if data.get("preset") in (None, ""):
        raise ScheduleError("preset", _PRESET_SENTENCE)
    values = {key: _PARSERS.get(key, _as_text(key))(raw) for key, raw in data.items()}
    return Schedule(**values)


def _as_text(name: str) -> Callable[[object], object]:
    def parse(raw: object) -> object:
        return raw.strip() if isinstance(raw, str) else raw

    return parse


def _as_int(name: str, sentence: str) -> Callable[[object], object]:
    def parse(raw: object) -> object:
        if isinstance(raw, str):
            if not raw.strip().isdigit():
                raise ScheduleError(name, sentence)
            return int(raw.strip())
        return raw  # the cleaner judges non-strings

    return parse


def _parse_weekdays(raw: object) -> object:
    items = [item for item in raw.split(",") if item.strip()] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        return items
    parse = _as_int("weekdays", "Days of the week are numbers 0-6 (0 = Monday, 6 = Sunday).")
    return tuple(parse(item) for item in items)


def _parse_starts_at(raw: object) -> object:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ScheduleError(
                "starts_at",
                "Enter the start as an ISO-8601 date and time with its offset, "
                "e.g. 2026-05-01T09:00:00+02:00.",
            ) from None
    return raw


_PARSERS: dict[str, Callable[[object], object]] = {
    "every": _as_int("every", "Enter a whole number of minutes, hours or days, e.g. 15."),
    "day": _as_int("day", "Choose a day of the month from 1 to 31."),
    "weekdays": _parse_weekdays,
    "starts_at": _parse_starts_at,
}


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones() - _NOT_ZONES)


def _check_timezone(name: object) -> None:
    if not isinstance(name, str) or name not in _zone_names():
        raise ScheduleError(
            "timezone",
            f'"{name}" is not a known time zone; use an IANA name such as Europe/Berlin, '
            "America/New_York or UTC.",
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_every(every: object) -> int:
    if not _is_int(every) or every < 1:
        raise ScheduleError("every", "Run every 1 or more minutes, hours or days.")
    return every


def _clean_unit(unit: object) -> str:
    if unit not in UNITS:
        raise ScheduleError("unit", "Choose minutes, hours or days.")
    return str(unit)


def _clean_time(value: object) -> str:
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(
            "time", "Enter the time as HH:MM on the 24-hour clock, e.g. 09:00 or 17:30."
        )
    return f"{int(match[1]):02d}:{match[2]}"


def _clean_weekdays(weekdays: object) -> tuple[int, ...]:
    if not isinstance(weekdays, list | tuple) or not weekdays:
        raise ScheduleError("weekdays", "Choose at least one day of the week.")
    for day in weekdays:
        if not _is_int(day) or not 0 <= day <= 6:
            raise ScheduleError(
                "weekdays", f"{day!r} is not a day of the week (0 = Monday ... 6 = Sunday)."
            )
    return tuple(sorted(set(weekdays)))


def _clean_day(day: object) -> int:
    if not _is_int(day) or not 1 <= day <= 31:
        raise ScheduleError("day", "Choose a day of the month from 1 to 31.")
    return day


def _clean_cron(expression: object) -> str:
    if not isinstance(expression, str):
        raise ScheduleError("cron", "The cron expression must be text.")
    validate_cron(expression)
    return " ".join(expression.split())


def _clean_starts_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ScheduleError("starts_at", "Starts at must be a date and time.")
    if value.utcoffset() is None:
        raise ScheduleError(
            "starts_at",
            "Starts at needs a time zone offset (e.g. 2026-05-01T09:00:00+02:00); "
            "without one the time is ambiguous.",
        )
    if not 1900 <= value.year <= 2999:
        raise ScheduleError("starts_at", "Starts at must fall between the years 1900 and 2999.")
    # Runs are minute- or second-precise; a sub-second anchor would only add noise.
    return value.replace(microsecond=0)


_DEFAULTS = {"every": 15, "unit": "minutes", "time": "09:00", "weekdays": (), "day": 1, "cron": ""}
_USED_BY = {
    "interval": ("every", "unit"),
    "daily": ("time",),
    "weekly": ("weekdays", "time"),
    "monthly": ("day", "time"),
    "custom": ("cron",),
}
_CLEANERS: dict[str, Callable[[object], object]] = {
    "every": _clean_every,
    "unit": _clean_unit,
    "time": _clean_time,
    "weekdays": _clean_weekdays,
    "day": _clean_day,
    "cron": _clean_cron,
}


# ---------------------------------------------------------------------------------------------
# Due times
# ---------------------------------------------------------------------------------------------


def next_run(schedule: Schedule, after: datetime) -> datetime | None:
    """The first due time strictly after `after` (aware), as an aware UTC datetime; None when
    nothing is due within `HORIZON`."""
    return next(_runs(schedule, after, _later(after, HORIZON)), None)


def next_runs(schedule: Schedule, after: datetime, count: int = 5) -> list[datetime]:
    if count < 0:
        raise ValueError("count must not be negative")
    return list(islice(_runs(schedule, after, _later(after, HORIZON)), count))


def due_between(
    schedule: Schedule, since: datetime, until: datetime, limit: int = 1000
) -> list[datetime]:
    """The due times in (since, until], ascending. When there are more than `limit`, the latest
    `limit` of them: catch-up after downtime cares about the most recent one ("run once") and a
    bounded answer; a caller that sees `limit` items knows older ones were left out."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    _require_aware(since, "since")
    _require_aware(until, "until")
    if until <= since:
        return []
    step = _elapsed_step(schedule)
    if step is not None:
        # Exactly the last `limit` steps end at or before `until`: no need to walk from `since`.
        since = max(since, until - step * limit)
    return list(deque(_runs(schedule, since, until), maxlen=limit))


# The latest instant searched: two days short of the calendar's end, so that converting it to
# any zone and stepping a day past it stay within datetime's range.
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


def _later(moment: datetime, delta: timedelta) -> datetime:
    _require_aware(moment, "after")
    moment = moment.astimezone(UTC)
    return moment + delta if moment < _LATEST - delta else _LATEST


def _require_aware(moment: object, name: str) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _elapsed_step(schedule: Schedule) -> timedelta | None:
    if schedule.preset == "interval" and schedule.unit in ("minutes", "hours"):
        return timedelta(**{schedule.unit: schedule.every})
    return None


def _runs(schedule: Schedule, after: datetime, until: datetime) -> Iterator[datetime]:
    """Due times t with after < t <= until and t >= starts_at: aware UTC, ascending, distinct."""
    _require_aware(after, "after")
    after, until = after.astimezone(UTC), min(until.astimezone(UTC), _LATEST)
    starts_at = schedule.starts_at.astimezone(UTC) if schedule.starts_at else None
    if starts_at and starts_at > after:
        after = starts_at - timedelta(microseconds=1)  # so that starts_at itself is due
    step = _elapsed_step(schedule)
    if step is not None:
        return _interval_runs(starts_at or EPOCH, step, after, until)
    if schedule.preset == "interval":
        return _day_interval_runs(schedule, starts_at, after, until)
    return _wall_runs(_rule(schedule), schedule.zone, after, until)


def _interval_runs(
    anchor: datetime, step: timedelta, after: datetime, until: datetime
) -> Iterator[datetime]:
    """anchor + k * step for k >= 0: real elapsed time, blind to the wall clock."""
    k = 0 if after < anchor else (after - anchor) // step + 1
    while (moment := anchor + k * step) <= until:
        yield moment
        k += 1


def _day_interval_runs(
    schedule: Schedule, starts_at: datetime | None, after: datetime, until: datetime
) -> Iterator[datetime]:
    """Every n days at the anchor's wall time: starts_at's local date and time, else
    1970-01-01 00:00 local (so "every 2 days" without a start runs at local midnight)."""
    zone = schedule.zone
    anchor = starts_at.astimezone(zone).replace(tzinfo=None) if starts_at else datetime(1970, 1, 1)
    days = (after.astimezone(zone).date() - anchor.date()).days
    k = max(0, days // schedule.every - 1)  # walls before `after`'s date cannot be due
    last = None
    while k * schedule.every < (date.max - anchor.date()).days:
        wall = anchor + timedelta(days=k * schedule.every)
        moment = starts_at if k == 0 and starts_at else _first_instant(wall, zone)
        if moment > until:
            return
        if moment > after and (last is None or moment > last):
            last = moment
            yield moment
        k += 1


@dataclass(frozen=True)
class _Rule:
    """Which wall times are due: the minutes and hours of each matching date."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    matches_date: Callable[[date], bool]
    elapsed: bool  # every matching instant, both passes of a repeated hour (hour field is all)


_ALL_MONTHS = frozenset(range(1, 13))


@lru_cache(maxsize=512)
def _rule(schedule: Schedule) -> _Rule:
    if schedule.preset == "custom":
        cron = parse_cron(schedule.cron)
        return _Rule(
            cron.minutes, cron.hours, cron.months, cron.matches_date, len(cron.hours) == 24
        )
    hour, minute = (int(part) for part in schedule.time.split(":"))
    if schedule.preset == "weekly":
        weekdays = frozenset(schedule.weekdays)
        matches = lambda day: day.weekday() in weekdays  # noqa: E731
    elif schedule.preset == "monthly":
        matches = lambda day: day.day == min(schedule.day, _month_length(day))  # noqa: E731
    else:
        matches = lambda day: True  # noqa: E731
    return _Rule((minute,), (hour,), _ALL_MONTHS, matches, elapsed=False)


def _month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _wall_runs(rule: _Rule, zone: ZoneInfo, after: datetime, until: datetime) -> Iterator[datetime]:
    """Walk the matching wall times in order, map each to its instant(s), and yield instants in
    order. Wall-clock rules map a wall time to one instant, monotonically, so each is yielded at
    once. Elapsed rules also map a repeated wall time to its second pass, which comes after
    later wall times' first passes; a heap holds it until no later wall time can come before
    it (`bound`: the earliest instant any later wall time can have)."""
    local = after.astimezone(zone)
    start = local.replace(tzinfo=None)
    if rule.elapsed:
        # A fall-back just after `after` repeats wall times earlier than `after`'s own.
        drop = local.utcoffset() - (after + _LOOKBACK_PROBE).astimezone(zone).utcoffset()
        start -= max(drop, timedelta(0))
    start = start.replace(second=0, microsecond=0)
    last_day = until.astimezone(zone).date() + timedelta(days=1)
    pending: list[datetime] = []
    last = None
    for wall in _walls(rule, start, last_day):
        if rule.elapsed:
            instants, bound = _every_instant(wall, zone)
        else:
            bound = _first_instant(wall, zone)
            instants = [bound]
        for moment in instants:
            if moment > after:
                heapq.heappush(pending, moment)
        while pending and pending[0] <= bound:
            moment = heapq.heappop(pending)
            if moment > until:
                return
            if last is None or moment > last:  # two gap times can share one instant
                last = moment
                yield moment
        if bound > until:
            return
    yield from (moment for moment in sorted(pending) if moment <= until)


def _walls(rule: _Rule, start: datetime, last_day: date) -> Iterator[datetime]:
    """The matching wall times from `start` on, in order, skipping by field: whole months that
    the rule excludes, whole days that do not match, then only the listed hours and minutes."""
    day = start.date()
    first_day = True
    while day <= last_day:
        if day.month not in rule.months:
            if (day.year, day.month) == (date.max.year, 12):
                return
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            first_day = False
            continue
        if rule.matches_date(day):
            hours = rule.hours[bisect_left(rule.hours, start.hour) :] if first_day else rule.hours
            for hour in hours:
                minutes = rule.minutes
                if first_day and hour == start.hour:
                    minutes = minutes[bisect_left(minutes, start.minute) :]
                for minute in minutes:
                    yield datetime(day.year, day.month, day.day, hour, minute)
        if day == date.max:
            return
        day += timedelta(days=1)
        first_day = False


def _offsets(wall: datetime, zone: ZoneInfo) -> tuple[timedelta, timedelta]:
    """UTC offsets of `wall` with fold=0 and fold=1 (PEP 495). Equal: the wall time exists once.
    The first larger: a fall-back repeats it. The first smaller: a spring-forward skips it."""
    return (
        wall.replace(tzinfo=zone, fold=0).utcoffset(),
        wall.replace(tzinfo=zone, fold=1).utcoffset(),
    )


def _first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which the local clock reads `wall` or later: the wall time itself,
    its first pass when it repeats, the end of the gap when it is skipped."""
    first, second = _offsets(wall, zone)
    if first >= second:
        return (wall - first).replace(tzinfo=UTC)
    return _gap_end((wall - second).replace(tzinfo=UTC), (wall - first).replace(tzinfo=UTC), zone)


def _every_instant(wall: datetime, zone: ZoneInfo) -> tuple[list[datetime], datetime]:
    """Every instant whose local wall time is `wall` (none in a gap, two in a repeated hour),
    and a bound no instant of a later wall time comes before."""
    first, second = _offsets(wall, zone)
    early = (wall - first).replace(tzinfo=UTC)
    if first == second:
        return [early], early
    if first > second:
        return [early, (wall - second).replace(tzinfo=UTC)], early
    return [], (wall - second).replace(tzinfo=UTC)  # before the gap's end


def _gap_end(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant in (before, after], to the second (transitions fall on whole
    seconds): the first instant whose offset differs from `before`'s."""
    offset = before.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------


def describe(schedule: Schedule) -> str:
    """The schedule in words, without its time zone: "Every day at 09:00"."""
    if schedule.preset == "interval":
        text = _every_text(schedule.every, schedule.unit)
        if schedule.unit == "days":
            anchor = schedule.starts_at.astimezone(schedule.zone) if schedule.starts_at else None
            text += f" at {anchor:%H:%M}" if anchor else " at 00:00"
        return text
    if schedule.preset == "custom":
        return _describe_cron(parse_cron(schedule.cron))
    if schedule.preset == "daily" or len(schedule.weekdays) == 7:
        return f"Every day at {schedule.time}"
    if schedule.preset == "weekly":
        return f"Every {_weekday_names(schedule.weekdays)} at {schedule.time}"
    suffix = " (last day in shorter months)" if schedule.day > 28 else ""
    return f"Monthly on day {schedule.day} at {schedule.time}{suffix}"


def describe_with_zone(schedule: Schedule) -> str:
    """describe() followed by the zone: "Every day at 09:00 (Europe/Paris)"."""
    return f"{describe(schedule)} ({schedule.timezone})"


def preview_interval(every: int, unit: str) -> str:
    """The live preview of the Interval preset: "Runs every 2 hours". ScheduleError (field
    "every" or "unit") when the values are not valid, with the sentence to show instead."""
    every = _clean_every(every)
    unit = _clean_unit(unit)
    if every > _MAX_EVERY[unit]:
        raise ScheduleError("every", f"An interval can be at most {_MAX_EVERY[unit]} {unit}.")
    text = _every_text(every, unit)
    return "Runs " + text[0].lower() + text[1:]


def _every_text(every: int, unit: str) -> str:
    one, many = _UNIT_WORDS[unit]
    return f"Every {one}" if every == 1 else f"Every {every} {many}"


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _runs_text(values: list[int], label: Callable[[int], str]) -> list[str]:
    """Consecutive runs of three or more as "a to b", the rest one by one."""
    out: list[str] = []
    run: list[int] = []
    for value in [*values, None]:
        if run and value is not None and value == run[-1] + 1:
            run.append(value)
            continue
        if len(run) >= 3:
            out.append(f"{label(run[0])} to {label(run[-1])}")
        else:
            out.extend(label(item) for item in run)
        run = [value] if value is not None else []
    return out


def _numbers(values: list[int], word: str = "and") -> str:
    """Numbers in words: 5; 1 and 15; 1 to 10; 1, 3, ..., 31 (a progression of four or more)."""
    steps = {b - a for a, b in pairwise(values)}
    if len(values) >= 4 and len(steps) == 1 and steps != {1}:
        return f"{values[0]}, {values[1]}, ..., {values[-1]}"
    return _join(_runs_text(values, str), word)


def _weekday_names(monday_first: tuple[int, ...] | list[int]) -> str:
    return _join(_runs_text(sorted(monday_first), lambda i: _WEEKDAY_NAMES[i]))


def _plural(word: str, values: list[int] | tuple[int, ...]) -> str:
    return word if len(values) == 1 else word + "s"


def _describe_cron(cron: Cron) -> str:
    time_text, at_times = _cron_time(cron)
    day_text = _cron_days(cron)
    if at_times and not day_text:
        text = f"Every day {time_text}"
    else:
        text = " ".join(part for part in (time_text, day_text) if part)
        text = text[0].upper() + text[1:]
    if len(cron.months) < 12:
        months = _runs_text(sorted(cron.months), lambda m: _MONTH_NAMES[m - 1])
        text += f", only in {_join(months)}"
    return text


def _step_from_zero(values: tuple[int, ...], size: int) -> int | None:
    """s when `values` is exactly 0, s, 2s, ... below `size` (the set "*/s" makes), s > 1."""
    if len(values) < 2 or values[0] != 0:
        return None
    step = values[1]
    return step if step > 1 and values == tuple(range(0, size, step)) else None


def _cron_time(cron: Cron) -> tuple[str, bool]:
    """The time-of-day part, and whether it names clock times ("at 09:00")."""
    minutes, hours = cron.minutes, cron.hours
    minute_step = _step_from_zero(minutes, 60)
    minute_list = f"{_plural('minute', minutes)} {_numbers(list(minutes))}"
    if len(hours) == 24:
        if len(minutes) == 60:
            return "every minute", False
        if minute_step:
            return f"every {minute_step} minutes", False
        return ("every hour", False) if minutes == (0,) else (f"every hour at {minute_list}", False)
    spans = _hour_spans(hours)
    if len(minutes) == 60:
        return f"every minute {spans}", False
    if minute_step:
        return f"every {minute_step} minutes {spans}", False
    hour_step = _step_from_zero(hours, 24)
    if hour_step and len(minutes) == 1:
        at = f" at minute {minutes[0]}" if minutes[0] else ""
        return f"every {hour_step} hours{at}", False
    if len(hours) * len(minutes) <= 12:
        return "at " + _join([f"{h:02d}:{m:02d}" for h in hours for m in minutes]), True
    return f"at {minute_list} {spans}", False


def _hour_spans(hours: tuple[int, ...]) -> str:
    runs: list[list[int]] = []
    for hour in hours:
        if runs and hour == runs[-1][-1] + 1:
            runs[-1].append(hour)
        else:
            runs.append([hour])
    if len(runs) > 3:
        return f"in hours {_numbers(list(hours))}"
    return " and ".join(f"from {run[0]:02d}:00 to {run[-1]:02d}:59" for run in runs)


def _cron_days(cron: Cron) -> str:
    """The day part ("" for every day), with Vixie's either/both rule spelled out."""
    weekdays = sorted((d - 1) % 7 for d in cron.weekdays)  # Monday first, as people read weeks
    days = sorted(cron.days)
    every_day, every_weekday = len(days) == 31, len(weekdays) == 7
    weekday_text = _weekday_names(weekdays)
    day_text = f"{_plural('day', days)} {_numbers(days)} of the month"
    if not (cron.days_star or cron.weekdays_star):  # both restricted: either matches
        if every_day or every_weekday:
            return ""
        return f"on {day_text} and on every {weekday_text}"
    if every_day and every_weekday:
        return ""
    if every_day:
        return f"on {weekday_text}"
    if every_weekday:
        return f"on {day_text}"
    return f"on {weekday_text} when the day of the month is {_numbers(days, 'or')}"
