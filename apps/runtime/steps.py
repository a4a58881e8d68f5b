"""Durable steps (`fastn.step` / `ctx.step`): what the runtime knows about them without storage.

The prelude's `step.do/sleep/sleepUntil/waitForEvent` ask the host three things — `step_begin`,
`step_end`, `step_fail` — and act on the answer, one of:

    {"state": "done", "output": JSON}     the step is over: return its (stored) result
    {"state": "failed", "error": {name, message}}   it failed for good: throw into the workflow
    {"state": "run", "attempt": n, "timeoutMs": t}  run the callback now (step.do)
    {"state": "wait", "ms": n}            wait in the isolate, then ask `step_begin` again
    {"state": "suspend"}                  end this attempt: the run resumes later, replaying

A host that stores steps (the executions app's DurableSteps) answers "suspend" for sleeps,
waits and long retry delays, and replays stored results. `LocalSteps` below serves runs that
have nowhere to store them (`runworkflow` without a Space, test cases): steps run and retry
in the isolate, sleeps wait in it, and waitForEvent is refused.

Durations are milliseconds or text: "10 seconds", "5 minutes", "1 day" (ms, second, minute,
hour, day, week; singular or plural). Defaults for `step.do` follow the reference: 5 retries,
10 seconds apart, exponential backoff, 10 minutes per try.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from apps.runtime.errors import HostError

MAX_STEP_NAME = 256
MAX_STEP_RESULT_BYTES = 1024 * 1024
MAX_SLEEP_MS = 365 * 24 * 3600 * 1000
DEFAULT_LIMIT = 5
DEFAULT_DELAY_MS = 10_000
DEFAULT_BACKOFF = "exponential"
DEFAULT_TIMEOUT_MS = 10 * 60 * 1000
DEFAULT_EVENT_TIMEOUT_MS = 24 * 3600 * 1000
MAX_RETRY_LIMIT = 100
BACKOFFS = ("constant", "linear", "exponential")
KINDS = ("do", "sleep", "sleepUntil", "waitForEvent")
EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")

_UNITS = {
    "ms": 1,
    "millisecond": 1,
    "second": 1000,
    "sec": 1000,
    "s": 1000,
    "minute": 60_000,
    "min": 60_000,
    "m": 60_000,
    "hour": 3_600_000,
    "hr": 3_600_000,
    "h": 3_600_000,
    "day": 86_400_000,
    "d": 86_400_000,
    "week": 604_800_000,
    "w": 604_800_000,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


class StepInputError(HostError):
    """A step called with arguments that cannot work: thrown at the call, never retried."""

    def __init__(self, message: str):
        super().__init__("INVALID_STEP", message, permanent=True)


def parse_duration(value: Any, what: str) -> int:
    """Milliseconds from a number of ms or a text like "5 minutes"."""
    if isinstance(value, bool) or value is None:
        raise StepInputError(f'{what} must be milliseconds or a text like "5 minutes"')
    if isinstance(value, int | float):
        if value != value or value < 0 or value == float("inf"):
            raise StepInputError(f"{what} must be a positive number of milliseconds")
        return int(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            unit = match.group(2).lower()
            factor = _UNITS.get(unit) or _UNITS.get(unit.removesuffix("s"))
            if factor:
                return int(float(match.group(1)) * factor)
    raise StepInputError(
        f"{what}: {json.dumps(value)[:60]} is not a duration; use milliseconds or a text like "
        '"30 seconds", "5 minutes", "2 hours", "1 day"'
    )


def parse_instant(value: Any, what: str) -> dt.datetime:
    """A moment from an ISO 8601 text or epoch milliseconds (a Date arrives as its ISO text)."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
        if isinstance(value, str):
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise StepInputError(f"{what} must be a Date, an ISO 8601 text or epoch milliseconds")


@dataclass(frozen=True)
class StepConfig:
    limit: int = DEFAULT_LIMIT
    delay_ms: int = DEFAULT_DELAY_MS
    backoff: str = DEFAULT_BACKOFF
    timeout_ms: int = DEFAULT_TIMEOUT_MS

    @classmethod
    def parse(cls, options: Any, name: str) -> StepConfig:
        """`{retries: {limit, delay, backoff}, timeout}`; what is left out takes the default."""
        where = f'step.do("{name}")'
        if options is None:
            return cls()
        if not isinstance(options, dict):
            raise StepInputError(f"{where}: the config must be an object {{retries, timeout}}")
        unknown = set(options) - {"retries", "timeout"}
        if unknown:
            raise StepInputError(f"{where}: unknown config field {sorted(unknown)[0]!r}")
        retries = options.get("retries") or {}
        if not isinstance(retries, dict):
            raise StepInputError(f"{where}: retries must be an object {{limit, delay, backoff}}")
        unknown = set(retries) - {"limit", "delay", "backoff"}
        if unknown:
            raise StepInputError(f"{where}: unknown retries field {sorted(unknown)[0]!r}")
        limit = retries.get("limit", DEFAULT_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 100:
            raise StepInputError(f"{where}: retries.limit must be a whole number from 0 to 100")
        backoff = retries.get("backoff", DEFAULT_BACKOFF)
        if backoff not in BACKOFFS:
            raise StepInputError(
                f'{where}: retries.backoff must be "constant", "linear" or "exponential"'
            )
        delay = parse_duration(retries.get("delay", DEFAULT_DELAY_MS), f"{where}: retries.delay")
        timeout = options.get("timeout")
        timeout_ms = DEFAULT_TIMEOUT_MS
        if timeout is not None:
            timeout_ms = parse_duration(timeout, f"{where}: timeout")
            if timeout_ms < 1:
                raise StepInputError(f"{where}: timeout must be at least 1 ms")
        return cls(limit, delay, backoff, timeout_ms)

    def as_json(self) -> dict[str, Any]:
        return {
            "retries": {"limit": self.limit, "delay": self.delay_ms, "backoff": self.backoff},
            "timeout": self.timeout_ms,
        }

    def delay_before(self, retry: int) -> int:
        """Milliseconds to wait before retry number `retry` (1 = the first retry)."""
        if self.backoff == "constant":
            return self.delay_ms
        if self.backoff == "linear":
            return self.delay_ms * retry
        return self.delay_ms * 2 ** (retry - 1)


def wait_options(options: Any, name: str) -> tuple[str, int]:
    """The event type and the timeout (ms) of `step.waitForEvent(name, {type, timeout})`."""
    where = f'step.waitForEvent("{name}")'
    if not isinstance(options, dict):
        raise StepInputError(f'{where}: options must be an object {{type: "approval", timeout}}')
    kind = options.get("type")
    if not isinstance(kind, str) or not EVENT_TYPE.match(kind):
        raise StepInputError(
            f"{where}: type must be 1-100 letters, digits or _ . : - (got {json.dumps(kind)})"
        )
    timeout = options.get("timeout")
    timeout_ms = DEFAULT_EVENT_TIMEOUT_MS
    if timeout is not None:
        timeout_ms = parse_duration(timeout, f"{where}: timeout")
    if timeout_ms > MAX_SLEEP_MS:
        raise StepInputError(f"{where}: timeout must be at most 365 days")
    return kind, timeout_ms


def sleep_target(kind: str, options: Any, name: str, now: dt.datetime) -> dt.datetime:
    """When `step.sleep(name, duration)` or `step.sleepUntil(name, moment)` ends."""
    if kind == "sleep":
        ms = parse_duration(options, f'step.sleep("{name}")')
        if ms > MAX_SLEEP_MS:
            raise StepInputError(f'step.sleep("{name}"): at most 365 days')
        return now + dt.timedelta(milliseconds=ms)
    until = parse_instant(options, f'step.sleepUntil("{name}")')
    if until - now > dt.timedelta(milliseconds=MAX_SLEEP_MS):
        raise StepInputError(f'step.sleepUntil("{name}"): at most 365 days ahead')
    return until


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_STEP_NAME:
        raise StepInputError(f"a step name must be a text of 1 to {MAX_STEP_NAME} characters")
    return name


def result_too_large(name: str, size: int) -> dict[str, str]:
    return {
        "name": "StepResultTooLarge",
        "message": f'Step "{name}" returned {size / 1048576:.1f} MiB; a step\'s result is '
        "stored and must be at most 1 MiB (store large data elsewhere and return a reference).",
    }


def duplicate_name(name: str, line: int | None, first_line: int | None) -> HostError:
    here = f" at line {line}" if line else ""
    there = f" at line {first_line}" if first_line else ""
    return HostError(
        "DUPLICATE_STEP_NAME",
        f'Step name "{name}"{here} is already used by the step{there}: '
        "step names must be unique within a run (add the loop index or an id to the name).",
    )


def error_of(error: Any) -> dict[str, str]:
    """A thrown value as the workflow reported it: {name, message}, bounded."""
    if not isinstance(error, dict):
        return {"name": "Error", "message": str(error)[:2000]}
    return {
        "name": str(error.get("name") or "Error")[:100],
        "message": str(error.get("message") or "")[:2000],
    }


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalSteps:
    """Steps without storage, for runs with nowhere to keep them: each step runs and retries
    in the isolate, sleeps wait in it (bounded by the run's timeout), waitForEvent is refused."""

    def __init__(self) -> None:
        self.seen: dict[str, int | None] = {}
        self.tries: dict[str, int] = {}
        self.configs: dict[str, StepConfig] = {}
        self.retry_at: dict[str, float] = {}
        self.sleeps: dict[str, float] = {}

    def step_begin(
        self, name: str, kind: str, options: Any, line: int | None, again: bool
    ) -> dict[str, Any]:
        name = check_name(name)
        if not again:
            if name in self.seen:
                raise duplicate_name(name, line, self.seen[name])
            self.seen[name] = line
        if kind == "waitForEvent":
            raise HostError(
                "STEP_NOT_AVAILABLE",
                "step.waitForEvent needs a durable run (an execution of a workflow in a "
                "Space): this run has nowhere to receive events.",
            )
        if kind in ("sleep", "sleepUntil"):
            if name not in self.sleeps:
                until = sleep_target(kind, options, name, now_utc()).timestamp()
                self.sleeps[name] = until
            remaining = self.sleeps[name] - time.time()
            if remaining > 0:
                return {"state": "wait", "ms": int(remaining * 1000) + 1}
            return {"state": "done", "output": None}
        if name not in self.configs:
            self.configs[name] = StepConfig.parse(options, name)
        remaining = self.retry_at.get(name, 0) - time.time()
        if remaining > 0:
            return {"state": "wait", "ms": int(remaining * 1000) + 1}
        self.tries[name] = self.tries.get(name, 0) + 1
        return {
            "state": "run",
            "attempt": self.tries[name],
            "timeoutMs": self.configs[name].timeout_ms,
        }

    def step_started(self, starts: list[dict[str, Any]]) -> None:
        for start in starts:
            self._fresh(start)

    def _fresh(self, start: dict[str, Any] | None) -> None:
        """A step that began in the isolate without asking: its first try."""
        if start is not None and start["name"] not in self.tries:
            self.tries[start["name"]] = 1
            self.configs[start["name"]] = StepConfig.parse(start["options"], start["name"])

    def step_end(
        self, name: str, output_json: str, start: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self._fresh(start)
        size = len(output_json.encode("utf-8"))
        if size > MAX_STEP_RESULT_BYTES:
            return {"state": "failed", "error": result_too_large(name, size)}
        return {"state": "done"}

    def step_fail(
        self, name: str, error: Any, start: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self._fresh(start)
        config = self.configs.get(name, StepConfig())
        tries = self.tries.get(name, 1)
        if tries > config.limit:
            return {"state": "failed", "error": error_of(error)}
        delay = config.delay_before(tries)
        self.retry_at[name] = time.time() + delay / 1000
        return {"state": "wait", "ms": max(1, delay)}
