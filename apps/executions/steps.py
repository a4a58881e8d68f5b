"""Durable steps: the host side of `fastn.step` for runs recorded as executions.

Each step is a row (ExecutionStep). The first step call of an attempt reads every stored step
of the run in one query; from then on a step already done answers its stored result without
running, and a new one is written before its callback runs (so a worker dying inside it is
counted against the step's retries when the run resumes) and after it finishes. A sleep, a
wait for an event, or a retry delay longer than a second ends the attempt ("suspend"): the
caller (running.py) then sets the run waiting until `wake_at`, and a new attempt replays it.

The answers are those of apps/runtime/steps.py, whose parsing and defaults this reuses."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from apps.executions.models import ExecutionStep, InstanceEvent, StepKind, StepStatus
from apps.runtime import HostError
from apps.runtime.steps import (
    MAX_STEP_RESULT_BYTES,
    StepConfig,
    check_name,
    duplicate_name,
    error_of,
    result_too_large,
    sleep_target,
    wait_options,
)
from fastn_console import rawsql

# Retry delays up to this long are waited in the isolate; longer ones end the attempt.
IN_PROCESS_WAIT_MS = 1000
# Finished steps kept back are written at least this often.
FLUSH_EVERY = 200
LOST = {
    "name": "WorkerLost",
    "message": "The attempt running this step stopped (its worker was lost) before it finished.",
}


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((moment - now).total_seconds() * 1000) + 1)


class KeptStep(NamedTuple):
    """A finished step not written yet (DurableSteps.flush): what a lookup needs of it."""

    name: str
    kind: str
    status: str
    position: int
    output: Any
    error: Any = None


@functools.cache
def _flush_sql() -> str:
    """One INSERT of many finished steps from a JSON array (PostgreSQL)."""
    table = rawsql.table(ExecutionStep)
    return (
        f"INSERT INTO {table} (execution_id, name, kind, status, position, line, config,"
        " attempts, output, error, event_type, wake_at, started_at, finished_at)"
        " SELECT %s, r.name, 'do', 'complete', r.position, r.line, r.config, r.attempts,"
        " r.output, NULL, '', NULL, r.started_at, r.finished_at"
        " FROM jsonb_to_recordset(%s::jsonb) AS r(name text, position integer, line integer,"
        " config jsonb, attempts jsonb, output jsonb, started_at timestamptz,"
        " finished_at timestamptz)"
    )


class DurableSteps:
    def __init__(
        self, execution_id: Any, *, instant: bool, pause: threading.Event, first: bool = False
    ):
        """`first`: the run's first attempt (since it was created or restarted: a restart
        deletes its steps in the transaction that resets its attempts), which has no stored
        steps to read — every run that uses no steps is one, and skips the query."""
        self.execution_id = execution_id
        self.instant = instant
        self.pause = pause
        self.rows: dict[str, ExecutionStep] | None = {} if first else None
        self.next_position = 0
        self.seen: dict[str, int | None] = {}
        # What the attempt's suspension waits for: the earliest wake-up, a pause, event types.
        self.wake_at: dt.datetime | None = None
        self.paused = False
        self.waits_for: set[str] = set()
        # Finished steps not written yet (see step_end): written before anything else.
        self.unwritten: list[str] = []
        self.config_texts: dict[str, str] = {}

    # ---- the host protocol ------------------------------------------------------------------
    def step_preload(self) -> dict[str, dict[str, Any]]:
        """Every stored step of the run, read in one query before the attempt starts: the
        isolate answers the finished ones (done, or failed for good) itself when the replay
        reaches them, and asks about the others (running, retrying, sleeping, waiting)."""
        preload = {}
        for row in self._rows().values():
            if row.status in (StepStatus.COMPLETE, StepStatus.ERRORED):
                preload[row.name] = {"kind": row.kind, "status": row.status,
                                     "output": row.output, "error": row.error}  # fmt: skip
            else:
                preload[row.name] = {"kind": row.kind, "status": row.status}
        return preload

    def step_begin(
        self, name: str, kind: str, options: Any, line: int | None, again: bool
    ) -> dict[str, Any]:
        name = check_name(name)
        self.flush()
        if not again:
            if name in self.seen:
                raise duplicate_name(name, line, self.seen[name])
            self.seen[name] = line
        rows = self._rows()
        row = rows.get(name)
        if row is not None and row.kind != kind:
            raise HostError(
                "STEP_KIND_CHANGED",
                f'Step "{name}" was a step.{row.kind} when this run stored it and is now a '
                f"step.{kind}: give the new step another name (or restart the run).",
            )
        if kind == StepKind.DO:
            return self._begin_do(name, options, line, row)
        if self.instant:
            raise HostError(
                "STEP_NOT_AVAILABLE",
                f"step.{kind} is not available in the instant tier: an instant caller waits "
                "for the answer. Use the standard or long tier for workflows that sleep or "
                "wait for events.",
            )
        if kind == StepKind.WAIT_FOR_EVENT:
            return self._begin_wait(name, options, line, row)
        return self._begin_sleep(name, kind, options, line, row)

    def step_started(self, starts: list[dict[str, Any]]) -> None:
        """Steps the isolate began without asking (the default config, or one accepted
        already), told with a later host call: recorded as running."""
        self.flush()
        for start in starts:
            if start["name"] not in self._rows():
                self._fresh(start, StepStatus.RUNNING).save(force_insert=True)

    def step_end(
        self, name: str, output_json: str, start: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        now = timezone.now()
        size = len(output_json.encode("utf-8"))
        fresh = start is not None and start["name"] not in self._rows()
        if fresh and size <= MAX_STEP_RESULT_BYTES:
            # Begun and done without a word to the host: no host call was made while it ran
            # (any would have carried its start), so it touched nothing outside the isolate
            # and running it again would change nothing. Its row is written with the next
            # ones, before any other call is served and when the attempt ends (`flush`).
            self._keep(start, output_json, now)
            if len(self.unwritten) >= FLUSH_EVERY:
                self.flush()
            return self._after_end()
        self.flush()
        if fresh:
            self._fresh(start, StepStatus.RUNNING).save(force_insert=True)
        row = self._running(name)
        if size > MAX_STEP_RESULT_BYTES:
            error = result_too_large(name, size)
            self._end_try(row, now, error)
            return self._fail(row, now, error)
        self._end_try(row, now, None)
        row.status, row.output, row.finished_at = StepStatus.COMPLETE, json.loads(output_json), now
        row.save(update_fields=["status", "output", "finished_at", "attempts"])
        return self._after_end()

    def _keep(self, start: dict[str, Any], output_json: str, now: dt.datetime) -> None:
        """Keep a finished step back for `flush`, as the JSON of its row: a replay of the
        same attempt never needs more of it than that it is done, and its output."""
        name = check_name(start["name"])
        begun = dt.datetime.fromtimestamp(start["start"] / 1000, dt.UTC)
        output = json.loads(output_json)  # the isolate's JSON, checked before it is stored
        config = self._config_json(start["options"], name)
        attempt = {"start": _iso(begun), "end": _iso(now), "success": True, "error": None}
        position = self.next_position
        self.next_position += 1
        assert self.rows is not None
        self.rows[name] = KeptStep(name, StepKind.DO, StepStatus.COMPLETE, position, output)
        line = start["line"]
        self.unwritten.append(
            f'{{"name":{json.dumps(name)},"position":{position},'
            f'"line":{"null" if line is None else int(line)},"config":{config},'
            f'"attempts":[{json.dumps(attempt)}],"output":{output_json},'
            f'"started_at":"{begun.isoformat()}","finished_at":"{now.isoformat()}"}}'
        )

    def _config_json(self, options: Any, name: str) -> str:
        key = json.dumps(options, sort_keys=True)
        if key not in self.config_texts:
            self.config_texts[key] = json.dumps(StepConfig.parse(options, name).as_json())
        return self.config_texts[key]

    def flush(self) -> None:
        """Write the finished steps kept back, in one statement."""
        if not self.unwritten:
            return
        records, self.unwritten = self.unwritten, []
        batch = "[" + ",".join(records) + "]"
        if connection.vendor == "postgresql":
            rawsql.execute(_flush_sql(), [self.execution_id, batch])
            return
        ExecutionStep.objects.bulk_create(
            ExecutionStep(
                execution_id=self.execution_id, kind=StepKind.DO, status=StepStatus.COMPLETE,
                **{**record, "started_at": dt.datetime.fromisoformat(record["started_at"]),
                   "finished_at": dt.datetime.fromisoformat(record["finished_at"])},
            )
            for record in json.loads(batch)
        )  # fmt: skip

    def _after_end(self) -> dict[str, Any]:
        if self.pause.is_set():
            return self._suspend_for_pause()
        return {"state": "done"}

    def step_fail(
        self, name: str, error: Any, start: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.flush()
        if start is not None and start["name"] not in self._rows():
            self._fresh(start, StepStatus.RUNNING).save(force_insert=True)
        row = self._running(name)
        now = timezone.now()
        failure = error_of(error)
        self._end_try(row, now, failure)
        return self._after_failure(row, now, failure)

    def _fresh(self, start: dict[str, Any], status: str) -> ExecutionStep:
        """The row of a step the isolate began by itself, with its first try."""
        name = check_name(start["name"])
        begun = dt.datetime.fromtimestamp(start["start"] / 1000, dt.UTC)
        config = StepConfig.parse(start["options"], name).as_json()
        row = self._create(name, StepKind.DO, start["line"], begun, config=config)
        row.status = status
        row.attempts = [self._try(begun)]
        return row

    # ---- step.do ----------------------------------------------------------------------------
    def _begin_do(self, name, options, line, row) -> dict[str, Any]:
        now = timezone.now()
        if row is None:
            config = StepConfig.parse(options, name)
            if self.pause.is_set():
                return self._suspend_for_pause()
            row = self._create(name, StepKind.DO, line, now, config=config.as_json())
            row.attempts = [self._try(now)]
            row.save(force_insert=True)
            return self._run(row)
        if row.status == StepStatus.COMPLETE:
            return {"state": "done", "output": row.output}
        if row.status == StepStatus.ERRORED:
            return {"state": "failed", "error": row.error}
        if row.status == StepStatus.RUNNING:
            # The attempt that ran it is gone: count that try as lost, like a failure.
            self._end_try(row, now, LOST)
            return self._after_failure(row, now, LOST)
        # Retrying: due, or still waiting for its delay.
        if row.wake_at and row.wake_at > now:
            if self.instant or (row.wake_at - now).total_seconds() * 1000 <= IN_PROCESS_WAIT_MS:
                return {"state": "wait", "ms": _ms_until(row.wake_at, now)}
            return self._suspend(row.wake_at)
        if self.pause.is_set():
            return self._suspend_for_pause()
        row.status, row.wake_at = StepStatus.RUNNING, None
        row.attempts = [*row.attempts, self._try(now)]
        row.save(update_fields=["status", "wake_at", "attempts"])
        return self._run(row)

    def _run(self, row: ExecutionStep) -> dict[str, Any]:
        config = self._config(row)
        return {"state": "run", "attempt": len(row.attempts), "timeoutMs": config.timeout_ms}

    def _after_failure(self, row, now, error) -> dict[str, Any]:
        config = self._config(row)
        tries = len(row.attempts)
        if tries > config.limit:
            return self._fail(row, now, error)
        delay_ms = config.delay_before(tries)
        row.status = StepStatus.RETRYING
        row.wake_at = now + dt.timedelta(milliseconds=delay_ms)
        row.save(update_fields=["status", "wake_at", "attempts"])
        if self.instant or delay_ms <= IN_PROCESS_WAIT_MS:
            return {"state": "wait", "ms": max(1, delay_ms)}
        return self._suspend(row.wake_at)

    def _fail(self, row, now, error) -> dict[str, Any]:
        row.status, row.error, row.finished_at, row.wake_at = StepStatus.ERRORED, error, now, None
        row.save(update_fields=["status", "error", "finished_at", "wake_at", "attempts"])
        return {"state": "failed", "error": error}

    # ---- step.sleep / step.sleepUntil -------------------------------------------------------
    def _begin_sleep(self, name, kind, options, line, row) -> dict[str, Any]:
        now = timezone.now()
        if row is None:
            until = sleep_target(kind, options, name, now)
            if self.pause.is_set():
                return self._suspend_for_pause()
            row = self._create(name, kind, line, now, config={"until": _iso(until)})
            row.wake_at = until
            row.status = StepStatus.SLEEPING
            row.save(force_insert=True)
        if row.status == StepStatus.COMPLETE:
            return {"state": "done", "output": None}
        if row.wake_at is None or row.wake_at <= now:
            row.status, row.finished_at = StepStatus.COMPLETE, now
            row.save(update_fields=["status", "finished_at"])
            return {"state": "done", "output": None}
        return self._suspend(row.wake_at)

    # ---- step.waitForEvent ------------------------------------------------------------------
    def _begin_wait(self, name, options, line, row) -> dict[str, Any]:
        if row is not None and row.status == StepStatus.COMPLETE:
            return {"state": "done", "output": row.output}
        if row is not None and row.status == StepStatus.ERRORED:
            return {"state": "failed", "error": row.error}
        now = timezone.now()
        if row is None:
            event_type, timeout_ms = wait_options(options, name)
            if self.pause.is_set():
                return self._suspend_for_pause()
            config = {"type": event_type, "timeout": timeout_ms}
            row = self._create(name, StepKind.WAIT_FOR_EVENT, line, now, config=config)
            row.status, row.event_type = StepStatus.WAITING, event_type
            row.wake_at = now + dt.timedelta(milliseconds=timeout_ms)
            row.save(force_insert=True)
        event = self._take_event(row)
        if event is not None:
            row.status, row.finished_at = StepStatus.COMPLETE, timezone.now()
            row.output = {
                "type": event.type,
                "payload": event.payload,
                "timestamp": _iso(event.received_at),
            }
            row.save(update_fields=["status", "finished_at", "output"])
            return {"state": "done", "output": row.output}
        if row.wake_at is not None and row.wake_at <= now:
            timeout = (row.config or {}).get("timeout")
            error = {
                "name": "WaitForEventTimeoutError",
                "message": f'No "{row.event_type}" event arrived for step "{name}" within '
                f"{timeout} ms.",
            }
            return self._fail(row, now, error)
        self.waits_for.add(row.event_type)
        return self._suspend(row.wake_at)

    def _take_event(self, row: ExecutionStep) -> InstanceEvent | None:
        """The oldest event of the type not taken yet (or one this step took before a crash
        kept it from completing), taken in a conditional UPDATE: two waits never share one."""
        events = InstanceEvent.objects.filter(execution_id=self.execution_id, type=row.event_type)
        mine = events.filter(taken_by=row.name).first()
        if mine is not None:
            return mine
        for event in events.filter(taken_by="")[:5]:
            if InstanceEvent.objects.filter(pk=event.pk, taken_by="").update(taken_by=row.name):
                return event
        return None

    # ---- helpers ----------------------------------------------------------------------------
    def _rows(self) -> dict[str, ExecutionStep]:
        if self.rows is None:
            stored = ExecutionStep.objects.filter(execution_id=self.execution_id)
            self.rows = {row.name: row for row in stored}
            self.next_position = max((row.position for row in self.rows.values()), default=-1) + 1
        return self.rows

    def _running(self, name: str) -> ExecutionStep:
        row = self._rows().get(check_name(name))
        if row is None or row.status != StepStatus.RUNNING:
            raise HostError("INVALID_STEP", f'Step "{name}" is not running.')
        return row

    def _create(self, name, kind, line, now, *, config) -> ExecutionStep:
        row = ExecutionStep(
            execution_id=self.execution_id,
            name=name,
            kind=kind,
            status=StepStatus.RUNNING,
            position=self.next_position,
            line=line,
            config=config,
            started_at=now,
        )
        self.next_position += 1
        assert self.rows is not None
        self.rows[name] = row
        return row

    def _config(self, row: ExecutionStep) -> StepConfig:
        retries = (row.config or {}).get("retries") or {}
        return StepConfig(
            limit=retries.get("limit", StepConfig.limit),
            delay_ms=retries.get("delay", StepConfig.delay_ms),
            backoff=retries.get("backoff", StepConfig.backoff),
            timeout_ms=(row.config or {}).get("timeout", StepConfig.timeout_ms),
        )

    @staticmethod
    def _try(now: dt.datetime) -> dict[str, Any]:
        return {"start": _iso(now), "end": None, "success": None, "error": None}

    @staticmethod
    def _end_try(row: ExecutionStep, now: dt.datetime, error: dict | None) -> None:
        attempts = list(row.attempts)
        last = dict(attempts[-1]) if attempts else {"start": _iso(now)}
        last.update(end=_iso(now), success=error is None, error=error)
        attempts[-1:] = [last]
        row.attempts = attempts

    def _suspend(self, until: dt.datetime) -> dict[str, Any]:
        if self.wake_at is None or until < self.wake_at:
            self.wake_at = until
        return {"state": "suspend"}

    def _suspend_for_pause(self) -> dict[str, Any]:
        self.paused = True
        return {"state": "suspend"}
