"""Reads for the execution detail page's steps timeline: the durable steps of a run
(`fastn.step`) in order, the events sent to it, and the controls that apply to it now.

A step's result and an event's payload can be large (1 MiB each): they are read as text cut in
the database, so the page and each of its polls cost the same whatever the values hold."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast, Left, Length
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.executions.models import Execution, ExecutionStep, InstanceEvent, Status

# A step's result or an event's payload may be 1 MiB: the page reads at most this much of each
# (cut in the database, so a large value is never loaded whole) and shows the rest is cut.
VALUE_SHOWN = 20_000
PREVIEW_CHARS = 120
# The newest events of the run; the timeline says how many more there are.
EVENTS_SHOWN = 20


@dataclass(frozen=True)
class ShownValue:
    """A JSON value as the timeline shows it: a one-line preview and the (maybe cut) whole."""

    preview: str
    text: str
    size: int  # characters of the stored JSON
    cut: bool

    @classmethod
    def of(cls, head: str | None, size: int | None) -> ShownValue | None:
        """From the database's text of the value (`head`: its first VALUE_SHOWN + 1
        characters); None for no value."""
        if head is None:
            return None
        size = size or len(head)
        cut = size > VALUE_SHOWN
        text = head[:VALUE_SHOWN] if cut else _pretty(head)
        line = " ".join(head[: PREVIEW_CHARS * 2].split())
        preview = line if len(line) <= PREVIEW_CHARS and not cut else line[:PREVIEW_CHARS] + "…"
        return cls(preview, text, size, cut)


def _pretty(text: str) -> str:
    """Indented like the page's other JSON; the stored text as it is if it does not parse."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def shown_value(field: str) -> dict[str, Any]:
    """Annotations reading a JSON column's text cut to VALUE_SHOWN + 1 characters, and its size."""
    as_text = Cast(field, TextField())
    return {f"{field}_head": Left(as_text, VALUE_SHOWN + 1), f"{field}_size": Length(as_text)}


@dataclass(frozen=True)
class StepTry:
    """One try of a `do` step (an entry of ExecutionStep.attempts)."""

    number: int
    start: datetime | None
    end: datetime | None
    success: bool | None
    error: dict[str, Any] | None

    @property
    def duration_ms(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, (self.end - self.start).total_seconds() * 1000)


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    return moment if moment is not None and timezone.is_aware(moment) else None


@dataclass(frozen=True)
class TimelineStep:
    step: ExecutionStep
    tries: list[StepTry]
    output: ShownValue | None

    @property
    def retry_limit(self) -> int | None:
        """`config.retries.limit` of a `do` step: how many retries follow a failed try."""
        retries = (self.step.config or {}).get("retries") or {}
        limit = retries.get("limit") if isinstance(retries, dict) else None
        return limit if isinstance(limit, int) else None

    @property
    def retry_number(self) -> int:
        """Which retry a retrying step waits for: every try so far failed, so the next one is
        retry len(tries) (the first try is not a retry)."""
        return max(1, len(self.tries))

    @property
    def last_error(self) -> dict[str, Any] | None:
        failed = [t.error for t in self.tries if t.error]
        return failed[-1] if failed else self.step.error


@dataclass(frozen=True)
class Timeline:
    """The run's durable steps in order, with the events sent to it (newest EVENTS_SHOWN)."""

    steps: list[TimelineStep]
    events: list[tuple[InstanceEvent, ShownValue | None]]
    event_count: int

    @property
    def signature(self) -> str:
        """Changes whenever what the timeline shows changes: the page's poll swaps the timeline
        only then, so an expanded step stays expanded while nothing happens."""
        parts = [
            (
                t.step.pk, t.step.status, len(t.tries), t.step.wake_at, t.step.finished_at,
                t.output.size if t.output else None, bool(t.step.error),
            )
            for t in self.steps
        ]  # fmt: skip
        parts.append((self.event_count, [(e.pk, e.taken_by) for e, _ in self.events]))
        return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()

    def durable(self, execution: Execution) -> bool:
        """A run of fastn.step code, as far as can be told: it stored a step, was resumed,
        has an instance id, or is in a state only such runs reach."""
        return bool(
            self.steps
            or self.event_count
            or execution.instance_id
            or execution.replays
            or execution.pause_requested
            or execution.restart_requested
            or execution.status in (Status.WAITING, Status.PAUSED)
        )


def execution_timeline(execution: Execution) -> Timeline:
    """Two queries (three with more than EVENTS_SHOWN events), whatever the values' sizes."""
    rows = (
        ExecutionStep.objects.filter(execution=execution)
        .defer("output")
        .annotate(**shown_value("output"))
        .order_by("position", "id")
    )
    steps = [
        TimelineStep(row, _tries(row.attempts), ShownValue.of(row.output_head, row.output_size))
        for row in rows
    ]
    newest = list(
        InstanceEvent.objects.filter(execution=execution)
        .defer("payload")
        .annotate(**shown_value("payload"))
        .order_by("-received_at", "-id")[: EVENTS_SHOWN + 1]
    )
    count = len(newest)
    if count > EVENTS_SHOWN:
        newest = newest[:EVENTS_SHOWN]
        count = InstanceEvent.objects.filter(execution=execution).count()
    events = [(e, ShownValue.of(e.payload_head, e.payload_size)) for e in reversed(newest)]
    return Timeline(steps, events, count)


def _tries(attempts: Any) -> list[StepTry]:
    if not isinstance(attempts, list):
        return []
    return [
        StepTry(
            number=number,
            start=_moment(entry.get("start")),
            end=_moment(entry.get("end")),
            success=entry.get("success"),
            error=entry.get("error") if isinstance(entry.get("error"), dict) else None,
        )
        for number, entry in enumerate(attempts, start=1)
        if isinstance(entry, dict)
    ]


def execution_controls(execution: Execution, *, durable: bool) -> list[str]:
    """The controls (apps.executions.services.CONTROLS) that apply to the run as it is, in
    the order the page shows them; none for a run that is not durable (it keeps Cancel)."""
    if not durable:
        return []
    status = execution.status
    running = status == Status.RUNNING
    stopping = running and execution.cancel_requested  # terminating, or restarting
    controls = []
    if status in (Status.PENDING, Status.WAITING) or (
        running and not execution.pause_requested and not stopping
    ):
        controls.append("pause")
    if status == Status.PAUSED or (running and execution.pause_requested):
        controls.append("resume")
    if not execution.is_terminal and not stopping:
        controls.append("terminate")
    if not stopping:
        controls.append("restart")
    return controls
