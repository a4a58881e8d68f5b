"""The schedule math of Scheduler triggers: validation, due times across DST, words.

2026's transitions used below (UTC instants):
- Europe/Berlin: spring 03-29 01:00 (02:00 -> 03:00 local), fall 10-25 01:00 (03:00 -> 02:00).
- America/New_York: spring 03-08 07:00 (02:00 -> 03:00), fall 11-01 06:00 (02:00 -> 01:00).
- Australia/Sydney: fall 04-04 16:00 (03:00 -> 02:00 on 04-05), spring 10-03 16:00 (02:00 -> 03:00
  on 10-04).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.triggers.schedules import (
    PRESETS,
    Schedule,
    ScheduleError,
    describe,
    describe_with_zone,
    due_between,
    next_run,
    next_runs,
    preview_interval,
    schedule_from_dict,
    validate_cron,
)

BERLIN, NEW_YORK, SYDNEY = "Europe/Berlin", "America/New_York", "Australia/Sydney"
MINUTE = timedelta(minutes=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def at(zone: str, *parts: int, fold: int = 0) -> datetime:
    """An aware local time (fold=1: the second pass of a repeated wall time)."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold)


def local_walls(runs: list[datetime], zone: str) -> list[str]:
    return [run.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M %Z") for run in runs]


# ---------------------------------------------------------------------------------------------
# Cron validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 25 * * *", "Field 2 (hour) of the cron expression: 25 is out of range 0-23."),
        ("60 * * * *", "Field 1 (minute) of the cron expression: 60 is out of range 0-59."),
        ("0 0 0 * *", "Field 3 (day-of-month) of the cron expression: 0 is out of range 1-31."),
        ("0 0 * 13 *", "Field 4 (month) of the cron expression: 13 is out of range 1-12."),
        ("0 0 * * 8", "Field 5 (day-of-week) of the cron expression: 8 is out of range 0-7."),
        (
            "*/0 * * * *",
            'Field 1 (minute) of the cron expression: the step 0 in "*/0" must be between 1 '
            "and 59.",
        ),
        (
            "0 */25 * * *",
            'Field 2 (hour) of the cron expression: the step 25 in "*/25" must be between 1 '
            "and 23.",
        ),
        (
            "*/x * * * *",
            'Field 1 (minute) of the cron expression: the step in "*/x" must be a whole number.',
        ),
        (
            "5-1 * * * *",
            'Field 1 (minute) of the cron expression: the range "5-1" runs backwards: '
            "its first value must come first.",
        ),
        (
            "-5 * * * *",
            'Field 1 (minute) of the cron expression: the range "-5" needs a value on each side '
            'of "-".',
        ),
        (
            "1,,2 * * * *",
            "Field 1 (minute) of the cron expression: an empty item in the list "
            "(two commas, or a comma at an end).",
        ),
        (
            "* * * *",
            "A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            "this one has 4.",
        ),
        (
            "0 0 * * * *",
            "A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            "this one has 6. Seconds and years are not supported.",
        ),
        (
            "",
            "Enter a cron expression with 5 fields: minute hour day-of-month month day-of-week.",
        ),
        (
            "@reboot",
            "@reboot is not supported; use 5 fields or one of "
            "@hourly, @daily, @weekly, @monthly, @yearly.",
        ),
        (
            "0 0 L * *",
            'Field 3 (day-of-month) of the cron expression: "L" is Quartz syntax; '
            "L, W, # and ? are not supported.",
        ),
        (
            "0 0 15W * *",
            'Field 3 (day-of-month) of the cron expression: "15W" is Quartz syntax; '
            "L, W, # and ? are not supported.",
        ),
        (
            "0 0 ? * MON#2",
            'Field 3 (day-of-month) of the cron expression: "?" is Quartz syntax; '
            "L, W, # and ? are not supported.",
        ),
        (
            "0 0 * * MON#2",
            'Field 5 (day-of-week) of the cron expression: "MON#2" is Quartz syntax; '
            "L, W, # and ? are not supported.",
        ),
        (
            "0 0 * JANUARY *",
            'Field 4 (month) of the cron expression: "JANUARY" is neither a number 1-12 nor a '
            "month name.",
        ),
        (
            "0 0 * * MONDAY",
            'Field 5 (day-of-week) of the cron expression: "MONDAY" is neither a number 0-7 nor a '
            "day name.",
        ),
        (
            "0 MON * * *",
            'Field 2 (hour) of the cron expression: "MON" is a name, but this field takes '
            "numbers 0-23.",
        ),
        (
            "0 0 * MON *",
            'Field 4 (month) of the cron expression: "MON" is neither a number 1-12 nor a month '
            "name.",
        ),
        (
            "a * * * *",
            'Field 1 (minute) of the cron expression: "a" is not a number, a range (1-5), '
            "a list (1,5) or a step (*/15).",
        ),
        ("0 0 31 2 *", "This cron expression never runs: February has no day 31."),
        ("0 0 30,31 2 *", "This cron expression never runs: February has no day 30 or 31."),
        (
            "0 0 31 4,6,9,11 *",
            "This cron expression never runs: April, June, September and November have no day 31.",
        ),
    ],
)
def test_validate_cron_names_the_field_and_the_problem(expression, message):
    with pytest.raises(ScheduleError) as error:
        validate_cron(expression)
    assert error.value.field == "cron"
    assert error.value.message == message
    assert str(error.value) == message


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "*/15 * * * *",
        "1-30/5 */2 * * *",
        "5/15 * * * *",
        "0 9 * * mon-fri",
        "0 0 1 JAN,jul *",
        "5 4 * * 7",
        "0 0 * * 0-7",
        "0,30 8-10,14 1,15 * SUN",
        "0 0 31 2 MON",  # either-or: every Monday in February
        "0 0 29 2 *",  # leap years only
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@ANNUALLY",
        "  0   9 * *  *  ",
    ],
)
def test_validate_cron_accepts_the_documented_syntax(expression):
    validate_cron(expression)


def test_cron_names_sunday_as_0_or_7_and_all_aliases_mean_their_expansion():
    after = utc(2026, 5, 1)
    sunday = next_runs(Schedule("custom", cron="0 12 * * 0"), after, 3)
    assert next_runs(Schedule("custom", cron="0 12 * * 7"), after, 3) == sunday
    assert next_runs(Schedule("custom", cron="0 12 * * SUN"), after, 3) == sunday
    assert [run.weekday() for run in sunday] == [6, 6, 6]
    for alias, expansion in [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
    ]:
        assert next_runs(Schedule("custom", cron=alias), after, 3) == next_runs(
            Schedule("custom", cron=expansion), after, 3
        )


def test_cron_steps_ranges_and_lists_select_the_right_minutes():
    runs = next_runs(Schedule("custom", cron="1-30/10,45 10 * * *"), utc(2026, 5, 1), 5)
    assert [run.strftime("%d %H:%M") for run in runs] == [
        "01 10:01",
        "01 10:11",
        "01 10:21",
        "01 10:45",
        "02 10:01",
    ]
    from_five = next_runs(Schedule("custom", cron="5/20 0 * * *"), utc(2026, 5, 1), 3)
    assert [run.minute for run in from_five] == [5, 25, 45]


# ---------------------------------------------------------------------------------------------
# Schedule fields
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"preset": "hourly"}, "preset", "Choose a schedule type"),
        ({"preset": "interval", "every": 0}, "every", "Run every 1 or more minutes"),
        ({"preset": "interval", "every": -5}, "every", "Run every 1 or more minutes"),
        ({"preset": "interval", "every": True}, "every", "Run every 1 or more minutes"),
        ({"preset": "interval", "every": 367, "unit": "days"}, "every", "at most 366 days"),
        ({"preset": "interval", "unit": "seconds"}, "unit", "Choose minutes, hours or days."),
        ({"preset": "daily", "time": "9am"}, "time", "Enter the time as HH:MM"),
        ({"preset": "daily", "time": "24:00"}, "time", "Enter the time as HH:MM"),
        ({"preset": "daily", "time": "09:60"}, "time", "Enter the time as HH:MM"),
        ({"preset": "weekly", "weekdays": ()}, "weekdays", "Choose at least one day of the week."),
        ({"preset": "weekly", "weekdays": (7,)}, "weekdays", "7 is not a day of the week"),
        ({"preset": "monthly", "day": 0}, "day", "Choose a day of the month from 1 to 31."),
        ({"preset": "monthly", "day": 32}, "day", "Choose a day of the month from 1 to 31."),
        ({"preset": "daily", "timezone": "Mars/Olympus"}, "timezone", "not a known time zone"),
        ({"preset": "daily", "timezone": "localtime"}, "timezone", "not a known time zone"),
        ({"preset": "daily", "timezone": "../etc/passwd"}, "timezone", "not a known time zone"),
        (
            {"preset": "daily", "starts_at": datetime(2026, 5, 1, 9)},
            "starts_at",
            "Starts at needs a time zone offset",
        ),
        ({"preset": "custom", "cron": "0 0 31 2 *"}, "cron", "never runs"),
        ({"preset": "custom", "cron": "0 9 * *"}, "cron", "this one has 4"),
    ],
)
def test_schedule_refuses_bad_fields_naming_the_form_field(fields, field, message):
    with pytest.raises(ScheduleError) as error:
        Schedule(**fields)
    assert error.value.field == field
    assert message in error.value.message


def test_every_one_minute_is_the_shortest_interval_and_it_runs_every_minute():
    schedule = Schedule("interval", every=1, unit="minutes")
    runs = next_runs(schedule, utc(2026, 5, 1, 10, 0, 30), 3)
    assert runs == [utc(2026, 5, 1, 10, 1), utc(2026, 5, 1, 10, 2), utc(2026, 5, 1, 10, 3)]


def test_fields_the_preset_does_not_use_are_reset_and_values_normalized():
    weekly = Schedule("weekly", weekdays=(4, 0, 4), time="9:05", cron="garbage", every=0)
    assert weekly.weekdays == (0, 4)
    assert weekly.time == "09:05"
    assert (weekly.cron, weekly.every) == ("", 15)
    assert Schedule("custom", cron="  0  9 * * 1 ").cron == "0 9 * * 1"
    assert Schedule("daily", time="09:00", day=17) == Schedule("daily")
    starts = Schedule("daily", starts_at=datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=UTC))
    assert starts.starts_at == utc(2026, 5, 1, 9)


def test_to_dict_is_json_with_stable_keys_and_round_trips():
    schedule = Schedule(
        "weekly", timezone=BERLIN, weekdays=(0, 4), time="07:30", starts_at=at(BERLIN, 2026, 5, 1)
    )
    data = schedule.to_dict()
    assert list(data) == [
        "preset",
        "timezone",
        "every",
        "unit",
        "time",
        "weekdays",
        "day",
        "cron",
        "starts_at",
    ]
    assert data["starts_at"] == "2026-05-01T00:00:00+02:00"
    assert data["weekdays"] == [0, 4]
    assert schedule_from_dict(json.loads(json.dumps(data))) == schedule
    for preset in PRESETS:
        fields = {"preset": preset, "weekdays": [2], "cron": "*/5 * * * *"}
        same = Schedule(**{**fields, "weekdays": (2,)})
        assert list(same.to_dict()) == list(data)
        assert schedule_from_dict(json.loads(json.dumps(same.to_dict()))) == same


def test_schedule_from_dict_takes_form_strings():
    schedule = schedule_from_dict(
        {
            "preset": "weekly",
            "timezone": " America/New_York ",
            "weekdays": ["0", "4"],
            "time": "17:30",
            "starts_at": "2026-05-01T09:00:00Z",
        }
    )
    assert schedule.weekdays == (0, 4)
    assert schedule.timezone == NEW_YORK
    assert schedule.starts_at == utc(2026, 5, 1, 9)
    assert schedule_from_dict({"preset": "interval", "every": "2", "unit": "hours"}).every == 2
    assert schedule_from_dict({"preset": "weekly", "weekdays": "1,3"}).weekdays == (1, 3)
    assert schedule_from_dict({"preset": "daily", "starts_at": ""}).starts_at is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([], "schedule", "A schedule must be a JSON object."),
        ({}, "preset", "Choose a schedule type"),
        ({"preset": "daily", "tim": "09:00"}, "tim", '"tim" is not a schedule field'),
        ({"preset": "interval", "every": "ten"}, "every", "Enter a whole number"),
        ({"preset": "interval", "every": "1.5"}, "every", "Enter a whole number"),
        ({"preset": "interval", "every": None}, "every", "Run every 1 or more"),
        ({"preset": "weekly", "weekdays": ["mon"]}, "weekdays", "numbers 0-6"),
        ({"preset": "weekly", "weekdays": []}, "weekdays", "at least one day"),
        ({"preset": "weekly", "weekdays": "x"}, "weekdays", "numbers 0-6"),
        ({"preset": "monthly", "day": "last"}, "day", "from 1 to 31"),
        ({"preset": "daily", "time": 900}, "time", "HH:MM"),
        ({"preset": "daily", "timezone": None}, "timezone", "not a known time zone"),
        ({"preset": "custom", "cron": 5}, "cron", "must be text"),
        ({"preset": "daily", "starts_at": "tomorrow"}, "starts_at", "ISO-8601"),
        ({"preset": "daily", "starts_at": "2026-05-01T09:00"}, "starts_at", "time zone offset"),
        ({"preset": "daily", "starts_at": "9999-01-01T00:00Z"}, "starts_at", "1900 and 2999"),
        ({"preset": "daily", "starts_at": 5}, "starts_at", "must be a date and time"),
    ],
)
def test_schedule_from_dict_reports_the_first_bad_field(data, field, message):
    with pytest.raises(ScheduleError) as error:
        schedule_from_dict(data)
    assert error.value.field == field
    assert message in error.value.message


# ---------------------------------------------------------------------------------------------
# Wall-clock presets across DST: a skipped time runs once at the gap's end, a repeated time once
# at its first pass
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        # Europe/Berlin, spring: 02:30 does not exist on 03-29; it runs at 03:00 CEST.
        (
            BERLIN,
            utc(2026, 3, 27),
            ["03-27 02:30 CET", "03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"],
        ),
        # Europe/Berlin, fall: 02:30 happens twice on 10-25; it runs at the first (CEST).
        (
            BERLIN,
            utc(2026, 10, 23),
            ["10-23 02:30 CEST", "10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"],
        ),
        # America/New_York, spring: 02:30 does not exist on 03-08.
        (
            NEW_YORK,
            utc(2026, 3, 6, 12),
            ["03-07 02:30 EST", "03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"],
        ),
        # Australia/Sydney, spring (October): 02:30 does not exist on 10-04.
        (
            SYDNEY,
            utc(2026, 10, 2),
            ["10-03 02:30 AEST", "10-04 03:00 AEDT", "10-05 02:30 AEDT", "10-06 02:30 AEDT"],
        ),
        # Australia/Sydney, fall (April): 02:30 happens twice on 04-05; the first is AEDT.
        (
            SYDNEY,
            utc(2026, 4, 3),
            ["04-04 02:30 AEDT", "04-05 02:30 AEDT", "04-06 02:30 AEST", "04-07 02:30 AEST"],
        ),
    ],
)
def test_daily_0230_runs_once_a_day_across_dst(zone, after, expected):
    schedule = Schedule("daily", timezone=zone, time="02:30")
    assert local_walls(next_runs(schedule, after, 4), zone) == expected


def test_new_york_repeated_0130_runs_once_at_its_first_occurrence():
    schedule = Schedule("daily", timezone=NEW_YORK, time="01:30")
    runs = next_runs(schedule, utc(2026, 10, 31, 12), 2)
    assert runs == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert local_walls(runs, NEW_YORK) == ["11-01 01:30 EDT", "11-02 01:30 EST"]
    # Asked during the second 01:30 (EST), the day's run is already past.
    assert next_run(schedule, at(NEW_YORK, 2026, 11, 1, 1, 15, fold=1)) == utc(2026, 11, 2, 6, 30)


def test_the_gap_run_is_due_at_the_first_instant_after_the_gap_and_only_once():
    schedule = Schedule("daily", timezone=BERLIN, time="02:30")
    gap_end = utc(2026, 3, 29, 1)  # 03:00 CEST
    assert next_run(schedule, gap_end - timedelta(microseconds=1)) == gap_end
    assert next_run(schedule, gap_end) == utc(2026, 3, 30, 0, 30)
    assert due_between(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == [gap_end]


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (
            Schedule("weekly", timezone=BERLIN, weekdays=(6,), time="02:30"),  # Sundays
            utc(2026, 3, 20),
            ["03-22 02:30 CET", "03-29 03:00 CEST", "04-05 02:30 CEST"],
        ),
        (
            Schedule("weekly", timezone=NEW_YORK, weekdays=(6,), time="01:30"),
            utc(2026, 10, 24),
            ["10-25 01:30 EDT", "11-01 01:30 EDT", "11-08 01:30 EST"],
        ),
        (
            Schedule("monthly", timezone=NEW_YORK, day=8, time="02:30"),
            utc(2026, 2, 1),
            ["02-08 02:30 EST", "03-08 03:00 EDT", "04-08 02:30 EDT"],
        ),
        (
            Schedule("monthly", timezone=BERLIN, day=25, time="02:15"),
            utc(2026, 9, 1),
            ["09-25 02:15 CEST", "10-25 02:15 CEST", "11-25 02:15 CET"],
        ),
    ],
)
def test_weekly_and_monthly_follow_the_same_dst_rules(schedule, after, expected):
    assert local_walls(next_runs(schedule, after, 3), schedule.timezone) == expected


def test_monthly_day_31_runs_on_the_last_day_of_shorter_months():
    schedule = Schedule("monthly", timezone=BERLIN, day=31, time="09:00")
    runs = next_runs(schedule, utc(2026, 1, 1), 5)
    assert [run.astimezone(ZoneInfo(BERLIN)).date() for run in runs] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    leap = Schedule("monthly", day=30, time="00:00")
    assert next_run(leap, utc(2028, 2, 1)) == utc(2028, 2, 29)


# ---------------------------------------------------------------------------------------------
# Custom cron across DST: a fixed hour follows the wall clock; an all-hours field follows real time
# ---------------------------------------------------------------------------------------------


def test_cron_with_a_fixed_hour_follows_the_wall_clock_rules():
    gap = Schedule("custom", timezone=BERLIN, cron="30 2 * * *")
    daily = Schedule("daily", timezone=BERLIN, time="02:30")
    for after in (utc(2026, 3, 27), utc(2026, 10, 23)):
        assert next_runs(gap, after, 5) == next_runs(daily, after, 5)
    # Two skipped wall times that land on the same instant run once.
    both = Schedule("custom", timezone=BERLIN, cron="0,30 2 * * *")
    assert local_walls(next_runs(both, utc(2026, 3, 28, 12), 3), BERLIN) == [
        "03-29 03:00 CEST",
        "03-30 02:00 CEST",
        "03-30 02:30 CEST",
    ]
    overlap = Schedule("custom", timezone=NEW_YORK, cron="0 2,3 * * *")
    assert local_walls(next_runs(overlap, utc(2026, 3, 8), 3), NEW_YORK) == [
        "03-08 03:00 EDT",
        "03-09 02:00 EDT",
        "03-09 03:00 EDT",
    ]
    # A restricted hour runs the repeated hour's first pass only.
    repeated = Schedule("custom", timezone=BERLIN, cron="*/30 2 * * *")
    assert local_walls(next_runs(repeated, utc(2026, 10, 24, 12), 3), BERLIN) == [
        "10-25 02:00 CEST",
        "10-25 02:30 CEST",
        "10-26 02:00 CET",
    ]


@pytest.mark.parametrize(
    ("zone", "since", "until", "expected"),
    [
        (
            BERLIN,
            utc(2026, 10, 24, 23, 15),
            utc(2026, 10, 25, 2, 15),
            [
                "10-25 01:30 CEST",
                "10-25 02:00 CEST",
                "10-25 02:30 CEST",
                "10-25 02:00 CET",
                "10-25 02:30 CET",
                "10-25 03:00 CET",
            ],
        ),
        (
            BERLIN,
            utc(2026, 3, 28, 23, 45),
            utc(2026, 3, 29, 1, 45),
            ["03-29 01:00 CET", "03-29 01:30 CET", "03-29 03:00 CEST", "03-29 03:30 CEST"],
        ),
        (
            NEW_YORK,
            utc(2026, 11, 1, 4, 45),
            utc(2026, 11, 1, 7),
            [
                "11-01 01:00 EDT",
                "11-01 01:30 EDT",
                "11-01 01:00 EST",
                "11-01 01:30 EST",
                "11-01 02:00 EST",
            ],
        ),
        (
            NEW_YORK,
            utc(2026, 3, 8, 5, 45),
            utc(2026, 3, 8, 7, 45),
            ["03-08 01:00 EST", "03-08 01:30 EST", "03-08 03:00 EDT", "03-08 03:30 EDT"],
        ),
    ],
)
def test_cron_over_all_hours_runs_both_passes_and_skips_the_gap(zone, since, until, expected):
    schedule = Schedule("custom", timezone=zone, cron="*/30 * * * *")
    runs = due_between(schedule, since, until)
    assert local_walls(runs, zone) == expected
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(runs))


def test_cron_over_all_hours_in_sydney_repeats_and_skips_the_right_hour():
    schedule = Schedule("custom", timezone=SYDNEY, cron="0 * * * *")
    fall = due_between(schedule, utc(2026, 4, 4, 13, 30), utc(2026, 4, 4, 17, 30))
    assert local_walls(fall, SYDNEY) == [
        "04-05 01:00 AEDT",
        "04-05 02:00 AEDT",
        "04-05 02:00 AEST",
        "04-05 03:00 AEST",
    ]
    spring = due_between(schedule, utc(2026, 10, 3, 14, 30), utc(2026, 10, 3, 16, 30))
    assert local_walls(spring, SYDNEY) == ["10-04 01:00 AEST", "10-04 03:00 AEDT"]


def test_next_run_asked_during_the_first_pass_finds_the_second_pass():
    schedule = Schedule("custom", timezone=BERLIN, cron="0 * * * *")
    first_pass = at(BERLIN, 2026, 10, 25, 2, 30)  # 00:30 UTC
    assert next_run(schedule, first_pass) == utc(2026, 10, 25, 1)  # 02:00 CET, the second pass
    assert next_run(schedule, utc(2026, 10, 25, 1)) == utc(2026, 10, 25, 2)  # 03:00 CET


def test_vixie_rule_either_day_field_matches_when_both_are_restricted():
    either = Schedule("custom", cron="0 12 13 * FRI")
    runs = due_between(either, utc(2026, 2, 28), utc(2026, 4, 30))
    days = {run.date() for run in runs}
    expected = {
        date(2026, 3, 1) + timedelta(days=n)
        for n in range(61)
        if (date(2026, 3, 1) + timedelta(days=n)).day == 13
        or (date(2026, 3, 1) + timedelta(days=n)).weekday() == 4
    }
    assert days == expected
    assert date(2026, 4, 13) in days  # a Monday, by day-of-month
    assert date(2026, 3, 13) in days  # both
    # "*/2" starts with "*": both must match (odd days that are Mondays), as in Vixie cron.
    both = Schedule("custom", cron="0 0 */2 * MON")
    dates = [run.date() for run in next_runs(both, utc(2026, 1, 1), 6)]
    assert all(day.weekday() == 0 and day.day % 2 == 1 for day in dates)
    assert dates[0] == date(2026, 1, 5)


# ---------------------------------------------------------------------------------------------
# Interval
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        (BERLIN, date(2026, 3, 29), 92),
        (BERLIN, date(2026, 10, 25), 100),
        (NEW_YORK, date(2026, 3, 8), 92),
        (NEW_YORK, date(2026, 11, 1), 100),
        (SYDNEY, date(2026, 4, 5), 100),
    ],
)
def test_every_15_minutes_stays_15_real_minutes_across_dst(zone, day, count):
    schedule = Schedule("interval", timezone=zone, every=15, unit="minutes")
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(zone))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    runs = due_between(schedule, start - MINUTE, end - MINUTE)
    assert len(runs) == count
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(runs))
    assert all(run.minute % 15 == 0 and run.tzinfo is UTC for run in runs)


def test_every_15_minutes_gives_the_repeated_hour_its_runs():
    schedule = Schedule("interval", timezone=BERLIN, every=15)
    runs = due_between(schedule, utc(2026, 10, 24, 23, 59), utc(2026, 10, 25, 1, 59))
    assert local_walls(runs, BERLIN) == [
        f"10-25 02:{m:02d} {name}" for name in ("CEST", "CET") for m in (0, 15, 30, 45)
    ]


def test_interval_in_hours_counts_real_time_from_starts_at():
    starts = at(NEW_YORK, 2026, 10, 31, 23, 30)
    schedule = Schedule("interval", timezone=NEW_YORK, every=2, unit="hours", starts_at=starts)
    runs = next_runs(schedule, utc(2026, 1, 1), 4)
    assert runs[0] == starts
    assert all(b - a == timedelta(hours=2) for a, b in pairwise(runs))
    assert local_walls(runs, NEW_YORK) == [
        "10-31 23:30 EDT",
        "11-01 01:30 EDT",
        "11-01 02:30 EST",
        "11-01 04:30 EST",
    ]


def test_interval_without_starts_at_is_anchored_at_the_unix_epoch():
    schedule = Schedule("interval", timezone=SYDNEY, every=7, unit="minutes")
    run = next_run(schedule, utc(2026, 5, 1, 12))
    assert (run - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(minutes=7) == timedelta(0)
    assert timedelta(0) < run - utc(2026, 5, 1, 12) <= timedelta(minutes=7)


@pytest.mark.parametrize(
    ("zone", "starts", "expected"),
    [
        (
            BERLIN,
            at(BERLIN, 2026, 3, 27, 2, 30),
            ["03-27 02:30 CET", "03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"],
        ),
        (
            NEW_YORK,
            at(NEW_YORK, 2026, 10, 30, 1, 30),
            ["10-30 01:30 EDT", "10-31 01:30 EDT", "11-01 01:30 EDT", "11-02 01:30 EST"],
        ),
    ],
)
def test_interval_in_days_keeps_the_anchors_wall_time(zone, starts, expected):
    schedule = Schedule("interval", timezone=zone, every=1, unit="days", starts_at=starts)
    assert local_walls(next_runs(schedule, utc(2026, 1, 1), 4), zone) == expected


def test_interval_in_days_without_starts_at_runs_at_local_midnight_every_n_days():
    schedule = Schedule("interval", timezone=NEW_YORK, every=3, unit="days")
    runs = next_runs(schedule, utc(2026, 5, 1), 3)
    walls = [run.astimezone(ZoneInfo(NEW_YORK)) for run in runs]
    assert all(wall.hour == 0 and wall.minute == 0 for wall in walls)
    assert all((wall.date() - date(1970, 1, 1)).days % 3 == 0 for wall in walls)
    assert [b.date() - a.date() for a, b in pairwise(walls)] == [timedelta(days=3)] * 2


# ---------------------------------------------------------------------------------------------
# starts_at, strictness, bounds, catch-up
# ---------------------------------------------------------------------------------------------


def test_nothing_runs_before_starts_at_and_starts_at_itself_can_run():
    on_time = Schedule("daily", timezone=BERLIN, starts_at=at(BERLIN, 2026, 5, 1, 9))
    assert next_run(on_time, utc(2026, 1, 1)) == utc(2026, 5, 1, 7)
    late = Schedule("daily", timezone=BERLIN, starts_at=at(BERLIN, 2026, 5, 1, 9, 1))
    assert next_run(late, utc(2026, 1, 1)) == utc(2026, 5, 2, 7)
    assert due_between(late, utc(2026, 4, 1), utc(2026, 5, 2, 6)) == []
    interval = Schedule("interval", every=15, starts_at=utc(2026, 5, 1, 10, 7))
    assert next_runs(interval, utc(2026, 1, 1), 2) == [
        utc(2026, 5, 1, 10, 7),
        utc(2026, 5, 1, 10, 22),
    ]


def test_next_run_is_strictly_after_and_aware_utc():
    schedule = Schedule("custom", timezone=NEW_YORK, cron="*/10 * * * *")
    due = next_run(schedule, utc(2026, 5, 1, 12, 5))
    assert due == utc(2026, 5, 1, 12, 10)
    assert due.tzinfo is UTC
    assert next_run(schedule, due) == utc(2026, 5, 1, 12, 20)
    assert next_run(schedule, at(NEW_YORK, 2026, 5, 1, 8, 10)) == utc(2026, 5, 1, 12, 20)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(schedule, datetime(2026, 5, 1, 12))


def test_a_rare_cron_is_found_years_ahead_and_the_search_is_bounded():
    leap_day = Schedule("custom", cron="0 0 29 2 *")
    assert next_run(leap_day, utc(2026, 3, 1)) == utc(2028, 2, 29)
    assert next_run(leap_day, utc(2097, 3, 1)) == utc(2104, 2, 29)  # 2100 is no leap year
    # 29 February on a Sunday ("*/7" starts with "*", so both day fields must match): 2032,
    # then 2060, beyond the eight-year horizon, so the search gives up quickly.
    sunday_leap_day = Schedule("custom", cron="0 0 29 2 */7")
    assert next_run(sunday_leap_day, utc(2026, 3, 1)) == utc(2032, 2, 29)
    started = time.perf_counter()
    assert next_run(sunday_leap_day, utc(2033, 3, 1)) is None
    assert next_runs(sunday_leap_day, utc(2033, 3, 1)) == []
    assert next_run(leap_day, datetime(9997, 3, 1, tzinfo=UTC)) is None  # no overflow
    assert time.perf_counter() - started < 0.5


def test_due_between_is_half_open_for_catch_up_after_downtime():
    schedule = Schedule("custom", cron="* * * * *")
    last_tick = utc(2026, 5, 1, 12, 0)
    now = last_tick + timedelta(minutes=10)
    missed = due_between(schedule, last_tick, now)
    assert missed == [last_tick + MINUTE * n for n in range(1, 11)]
    assert due_between(schedule, now, now) == []
    assert due_between(schedule, now, last_tick) == []
    # Over the limit: the latest ones, ascending.
    assert due_between(schedule, last_tick, now, limit=3) == missed[-3:]
    interval = Schedule("interval", every=1)
    assert due_between(interval, utc(2000, 1, 1), now, limit=2) == [now - MINUTE, now]


def test_due_between_respects_starts_at():
    schedule = Schedule("interval", every=5, starts_at=utc(2026, 5, 1, 12, 3))
    assert due_between(schedule, utc(2026, 5, 1, 12), utc(2026, 5, 1, 12, 15)) == [
        utc(2026, 5, 1, 12, 3),
        utc(2026, 5, 1, 12, 8),
        utc(2026, 5, 1, 12, 13),
    ]


def test_next_runs_of_any_schedule_take_under_5_ms():
    schedules = [
        Schedule("interval", every=15),
        Schedule("interval", every=1, unit="days", timezone=BERLIN),
        Schedule("daily", timezone=NEW_YORK, time="02:30"),
        Schedule("weekly", timezone=SYDNEY, weekdays=(0, 4)),
        Schedule("monthly", timezone=BERLIN, day=31),
        Schedule("custom", timezone=BERLIN, cron="* * * * *"),
        Schedule("custom", timezone=BERLIN, cron="*/5 9-17 * * 1-5"),
        Schedule("custom", cron="0 0 29 2 *"),
        Schedule("custom", cron="0 0 */31 * MON"),  # the 1st of a month that is a Monday
        Schedule("custom", timezone=NEW_YORK, cron="59 23 31 12 *"),
    ]
    moments = [utc(2026, 3, 1), at(BERLIN, 2026, 10, 25, 2, 10), utc(2026, 11, 1, 5, 50)]
    for schedule in schedules:
        for after in moments:
            next_runs(schedule, after)  # warm the parse caches
            best = min(_timed(lambda s=schedule, a=after: next_runs(s, a)) for _ in range(5))
            assert best < 0.005, (schedule, after, best)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (Schedule("interval", every=15), "Every 15 minutes"),
        (Schedule("interval", every=1), "Every minute"),
        (Schedule("interval", every=1, unit="hours"), "Every hour"),
        (Schedule("interval", every=2, unit="hours"), "Every 2 hours"),
        (Schedule("interval", every=3, unit="days"), "Every 3 days at 00:00"),
        (
            Schedule(
                "interval", every=1, unit="days", timezone=BERLIN, starts_at=utc(2026, 5, 1, 12, 30)
            ),
            "Every day at 14:30",
        ),
        (Schedule("daily"), "Every day at 09:00"),
        (Schedule("weekly", weekdays=(0, 4)), "Every Monday and Friday at 09:00"),
        (
            Schedule("weekly", weekdays=(0, 1, 2, 3, 4), time="08:15"),
            "Every Monday to Friday at 08:15",
        ),
        (
            Schedule("weekly", weekdays=(0, 2, 4, 5)),
            "Every Monday, Wednesday, Friday and Saturday at 09:00",
        ),
        (Schedule("weekly", weekdays=tuple(range(7))), "Every day at 09:00"),
        (Schedule("monthly", day=15), "Monthly on day 15 at 09:00"),
        (Schedule("monthly", day=31), "Monthly on day 31 at 09:00 (last day in shorter months)"),
        (Schedule("custom", cron="*/15 * * * *"), "Every 15 minutes"),
        (Schedule("custom", cron="* * * * *"), "Every minute"),
        (Schedule("custom", cron="@hourly"), "Every hour"),
        (Schedule("custom", cron="5 * * * *"), "Every hour at minute 5"),
        (Schedule("custom", cron="0 9 * * *"), "Every day at 09:00"),
        (Schedule("custom", cron="0 9,17 * * *"), "Every day at 09:00 and 17:00"),
        (Schedule("custom", cron="30 2 * * 1-5"), "At 02:30 on Monday to Friday"),
        (Schedule("custom", cron="0 9 * * SAT,SUN"), "At 09:00 on Saturday and Sunday"),
        (Schedule("custom", cron="0 0 1 * *"), "At 00:00 on day 1 of the month"),
        (
            Schedule("custom", cron="0 0 13 * FRI"),
            "At 00:00 on day 13 of the month and on every Friday",
        ),
        (
            Schedule("custom", cron="0 0 */2 * MON"),
            "At 00:00 on Monday when the day of the month is 1, 3, ..., 31",
        ),
        (Schedule("custom", cron="0 */6 * * *"), "Every 6 hours"),
        (Schedule("custom", cron="15 */6 * * *"), "Every 6 hours at minute 15"),
        (
            Schedule("custom", cron="*/5 9-17 * * 1-5"),
            "Every 5 minutes from 09:00 to 17:59 on Monday to Friday",
        ),
        (
            Schedule("custom", cron="0 12 15 JAN,JUL *"),
            "At 12:00 on day 15 of the month, only in January and July",
        ),
        (Schedule("custom", cron="0 0 1 1 *"), "At 00:00 on day 1 of the month, only in January"),
        (Schedule("custom", cron="0 9 * * 0-7"), "Every day at 09:00"),
    ],
)
def test_describe_says_the_schedule_in_words(schedule, text):
    assert describe(schedule) == text


def test_describe_with_zone_appends_the_zone():
    schedule = Schedule("daily", timezone="Europe/Paris")
    assert describe_with_zone(schedule) == "Every day at 09:00 (Europe/Paris)"


def test_preview_interval_is_the_live_text_and_refuses_bad_values():
    assert preview_interval(2, "hours") == "Runs every 2 hours"
    assert preview_interval(1, "minutes") == "Runs every minute"
    assert preview_interval(45, "minutes") == "Runs every 45 minutes"
    assert preview_interval(1, "days") == "Runs every day"
    for every, unit, field in [
        (0, "minutes", "every"),
        (5, "weeks", "unit"),
        (400, "days", "every"),
    ]:
        with pytest.raises(ScheduleError) as error:
            preview_interval(every, unit)
        assert error.value.field == field


# ---------------------------------------------------------------------------------------------
# An independent oracle: walk every minute of real time and apply the rules literally
# ---------------------------------------------------------------------------------------------

ZONES = [
    BERLIN,
    NEW_YORK,
    SYDNEY,
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # transitions at midnight
    "Antarctica/Troll",  # 2-hour DST shift
    "Asia/Kolkata",
    "UTC",
]


def brute_force(
    zone: str,
    since: datetime,
    until: datetime,
    matches: Callable[[datetime], bool],
    elapsed: bool,
) -> list[datetime]:
    """Due instants in (since, until] by stepping through each real minute. Elapsed: every
    instant whose wall time matches. Wall clock: a wall time is due at the first instant at
    which the clock reads it or later, i.e. at u when it lies between the latest wall time shown
    before u (exclusive) and u's wall time (inclusive)."""
    tz = ZoneInfo(zone)
    shown = max((since - MINUTE * k).astimezone(tz).replace(tzinfo=None) for k in range(181))
    moment = since.replace(second=0, microsecond=0) + MINUTE
    due = []
    while moment <= until:
        wall = moment.astimezone(tz).replace(tzinfo=None)
        if elapsed:
            fired = matches(wall)
        else:
            candidate = shown.replace(second=0, microsecond=0) + MINUTE
            fired = False
            while candidate <= wall and not fired:
                fired = matches(candidate)
                candidate += MINUTE
        if fired:
            due.append(moment)
        shown = max(shown, wall)
        moment += MINUTE
    return due


@cache
def transitions(zone: str, year: int = 2026) -> tuple[datetime, ...]:
    """The instants in `year` at which the zone's offset changes (to 15 minutes, which every
    transition of these zones falls on)."""
    tz = ZoneInfo(zone)

    def offset(moment: datetime) -> timedelta:
        return moment.astimezone(tz).utcoffset()

    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        later = moment + timedelta(hours=6)
        if offset(later) != offset(moment):
            while offset(moment) != offset(later):
                moment += timedelta(minutes=15)
            found.append(moment)
        moment = later
    return tuple(found)


PRESET_CASES = [
    ("daily 02:30", {"preset": "daily", "time": "02:30"}, lambda w: (w.hour, w.minute) == (2, 30)),
    ("daily 01:45", {"preset": "daily", "time": "01:45"}, lambda w: (w.hour, w.minute) == (1, 45)),
    ("daily 00:30", {"preset": "daily", "time": "00:30"}, lambda w: (w.hour, w.minute) == (0, 30)),
    (
        "weekly Sat+Sun 02:15",
        {"preset": "weekly", "weekdays": (5, 6), "time": "02:15"},
        lambda w: w.weekday() in (5, 6) and (w.hour, w.minute) == (2, 15),
    ),
    (
        "monthly 31 23:30",
        {"preset": "monthly", "day": 31, "time": "23:30"},
        lambda w: (w + timedelta(days=1)).day == 1 and (w.hour, w.minute) == (23, 30),
    ),
    (
        "cron 2,32 * * * *",
        {"preset": "custom", "cron": "2,32 * * * *"},
        lambda w: w.minute in (2, 32),
    ),
    (
        "cron */20 1-3 * * *",
        {"preset": "custom", "cron": "*/20 1-3 * * *"},
        lambda w: w.minute % 20 == 0 and 1 <= w.hour <= 3,
    ),
]


@pytest.mark.parametrize("zone", ZONES[:6])
@pytest.mark.parametrize(
    ("name", "fields", "matches"), PRESET_CASES, ids=[c[0] for c in PRESET_CASES]
)
def test_presets_agree_with_the_minute_by_minute_oracle_around_each_2026_transition(
    zone, name, fields, matches
):
    schedule = Schedule(timezone=zone, **fields)
    elapsed = fields.get("cron", "").split(" ")[1:2] == ["*"]
    for transition in transitions(zone):
        since, until = transition - timedelta(days=2), transition + timedelta(days=2)
        expected = brute_force(zone, since, until, matches, elapsed)
        assert due_between(schedule, since, until) == expected, (name, zone, transition)


@pytest.mark.parametrize("zone", ZONES[:6])
@pytest.mark.parametrize("every", [1, 2])
def test_interval_in_days_agrees_with_the_oracle_around_each_2026_transition(zone, every):
    starts = at(zone, 2026, 1, 1, 2, 30)
    schedule = Schedule("interval", timezone=zone, every=every, unit="days", starts_at=starts)

    def matches(wall: datetime) -> bool:
        on_step = (wall.date() - date(2026, 1, 1)).days % every == 0
        return on_step and (wall.hour, wall.minute) == (2, 30)

    for transition in transitions(zone):
        since, until = transition - timedelta(days=3), transition + timedelta(days=3)
        expected = brute_force(zone, since, until, matches, elapsed=False)
        assert due_between(schedule, since, until) == expected, (zone, transition)


# ---------------------------------------------------------------------------------------------
# Property tests over random cron expressions
# ---------------------------------------------------------------------------------------------


def _field(low: int, high: int) -> st.SearchStrategy[tuple[str, frozenset[int]]]:
    value = st.integers(low, high)
    single = value.map(lambda v: (str(v), frozenset({v})))
    span = st.tuples(value, value).map(sorted)
    ranged = span.map(lambda ab: (f"{ab[0]}-{ab[1]}", frozenset(range(ab[0], ab[1] + 1))))
    stepped = st.tuples(span, st.integers(1, high)).map(
        lambda p: (f"{p[0][0]}-{p[0][1]}/{p[1]}", frozenset(range(p[0][0], p[0][1] + 1, p[1])))
    )
    items = st.lists(st.one_of(single, ranged, stepped), min_size=1, max_size=3).map(
        lambda parts: (",".join(p[0] for p in parts), frozenset().union(*(p[1] for p in parts)))
    )
    every = st.integers(1, high).map(lambda s: (f"*/{s}", frozenset(range(low, high + 1, s))))
    return st.one_of(st.just(("*", frozenset(range(low, high + 1)))), every, items)


@st.composite
def crons(draw) -> tuple[str, Callable[[datetime], bool], bool]:
    minute, hour, day, month, weekday = (
        draw(_field(0, 59)),
        draw(_field(0, 23)),
        draw(_field(1, 31)),
        draw(_field(1, 12)),
        draw(_field(0, 7)),
    )
    weekdays = frozenset(d % 7 for d in weekday[1])
    either = not day[0].startswith("*") and not weekday[0].startswith("*")

    def matches(wall: datetime) -> bool:
        in_day, in_weekday = wall.day in day[1], wall.isoweekday() % 7 in weekdays
        return (
            wall.minute in minute[1]
            and wall.hour in hour[1]
            and wall.month in month[1]
            and ((in_day or in_weekday) if either else (in_day and in_weekday))
        )

    expression = " ".join(part[0] for part in (minute, hour, day, month, weekday))
    return expression, matches, len(hour[1]) == 24


@cache
def moments(zone: str) -> st.SearchStrategy[datetime]:
    """Mostly within two days of one of the zone's 2026 transitions, sometimes anywhere."""
    near = st.sampled_from(transitions(zone) or (datetime(2026, 6, 1, tzinfo=UTC),))
    anywhere = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
    shift = st.integers(-2 * 86400, 2 * 86400).map(lambda s: timedelta(seconds=s))
    return st.builds(lambda base, delta: base + delta, st.one_of(near, anywhere), shift)


def _schedule_or_skip(zone: str, expression: str) -> Schedule:
    try:
        return Schedule("custom", timezone=zone, cron=expression)
    except ScheduleError:
        assume(False)  # an expression that can never run (e.g. 31 February)
        raise


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zone=st.sampled_from(ZONES), cron=crons())
def test_random_crons_run_strictly_later_in_order_on_matching_wall_times(data, zone, cron):
    expression, matches, elapsed = cron
    schedule = _schedule_or_skip(zone, expression)
    after = data.draw(moments(zone))
    runs = next_runs(schedule, after, 5)
    assert next_run(schedule, after) == (runs[0] if runs else None)
    if runs:
        assert runs[0] > after
    assert all(a < b for a, b in pairwise(runs))
    tz = ZoneInfo(zone)
    for run in runs:
        assert run.tzinfo is UTC
        wall = run.astimezone(tz).replace(tzinfo=None)
        if matches(wall):
            continue
        # Only a wall-clock schedule may run off its wall time: at the end of a gap, for a
        # wall time inside the gap.
        before = (run - timedelta(seconds=1)).astimezone(tz)
        gap = run.astimezone(tz).utcoffset() - before.utcoffset()
        assert not elapsed and gap > timedelta(0), (expression, zone, run)
        skipped = wall - gap
        assert any(matches(skipped + MINUTE * k) for k in range(int(gap / MINUTE))), (
            expression,
            run,
        )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zone=st.sampled_from(ZONES), cron=crons())
def test_random_crons_agree_with_the_minute_by_minute_oracle(data, zone, cron):
    expression, matches, elapsed = cron
    schedule = _schedule_or_skip(zone, expression)
    since = data.draw(moments(zone))
    until = since + timedelta(days=2)
    expected = brute_force(zone, since, until, matches, elapsed)
    assert due_between(schedule, since, until, limit=10_000) == expected, expression
