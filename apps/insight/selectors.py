"""Reads for the Docs tab: what serves each environment, the runs behind the statistics, the
triggers attached to a workflow and what the connector catalog says about its actions."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DataError, connection, transaction

from apps.connectors.catalog import builtin_connectors
from apps.connectors.models import Connector
from apps.connectors.selectors import resolve_connector
from apps.environments.models import LIVE, TEST
from apps.executions.models import TERMINAL, Execution
from apps.insight.stats import RunTrace, StepTrace, step_trace
from apps.spaces.models import Space
from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.selectors import workflow_environments

RUN_COUNTS = (50, 100, 1000)
DEFAULT_RUNS = 100
# The definitions a workflow's calls are looked up in: a Space's own connector at its latest
# version (what the draft and `test` call).
CATALOG_STAGE = TEST


@dataclass(frozen=True)
class ServedVersion:
    """One environment and the version of the workflow it serves (None: nothing yet)."""

    slug: str
    number: int | None

    @property
    def label(self) -> str:
        return f"{self.slug} · v{self.number}" if self.number else f"{self.slug} · not deployed"


def served_versions(workflow: Workflow) -> list[ServedVersion]:
    """Every environment of the Space with the version it serves of `workflow` (`test`: the
    latest published one: `workflow.latest_number` when the lookup annotated it), `live`
    first."""
    latest = getattr(workflow, "latest_number", None)
    if not hasattr(workflow, "latest_number"):
        latest = (
            WorkflowVersion.objects.filter(workflow=workflow)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )
    states = workflow_environments(workflow, latest)
    served = [ServedVersion(s.environment.slug, s.version_number) for s in states]
    return sorted(served, key=lambda s: (s.slug != LIVE, s.slug != TEST))


def default_environment(served: list[ServedVersion]) -> ServedVersion | None:
    """`live` when something is deployed there, else the first environment serving a version."""
    return next((s for s in served if s.number), None)


def version_code(workflow: Workflow, number: int) -> str | None:
    return (
        WorkflowVersion.objects.filter(workflow=workflow, number=number)
        .values_list("code", flat=True)
        .first()
    )


def recent_runs(
    workflow: Workflow, *, environment: str, version: int, limit: int
) -> list[RunTrace]:
    """The last `limit` finished runs of version `version` on `environment`, newest first,
    with their steps (the index on (workflow, queued_at) walks them in order)."""
    rows = Execution.objects.filter(
        space_id=workflow.space_id,
        workflow=workflow,
        environment=environment,
        version_number=version,
        status__in=TERMINAL,
    ).order_by("-queued_at", "-id")
    if connection.vendor == "postgresql":
        sql, params = rows.values("id", "status", "duration_ms", "steps", "queued_at")[
            :limit
        ].query.sql_with_params()
        return _runs_from_step_rows(_step_rows(sql, params))
    runs = []
    for status, duration_ms, steps in rows.values_list("status", "duration_ms", "steps")[:limit]:
        traces = (step_trace(step) for step in steps or () if isinstance(step, dict))
        runs.append(RunTrace(status, duration_ms, tuple(t for t in traces if t is not None)))
    return runs


# Hand-written (fastn_console/rawsql.py's rule: where a benchmark showed the cost): a thousand
# runs' full traces are megabytes of JSON (arguments, results) to build into objects, and the
# statistics read six fields of each step. PostgreSQL unnests the steps of the selected runs
# into rows of just those fields, in order: bench_insight's 1,000 runs × 12 steps went from
# 730 ms to under half of that.
#
# _STEP_FIELDS, the usual way: `jsonb_to_recordset` takes the six fields of each step in one
# pass (looking each key up with `->` cost twice as much server time), as JSON text — quotes
# and all, so a string tells from a number — and Python reads them as `step_trace` reads the
# JSON (`_runs_from_step_rows`). Run numbers instead of ids: a UUID per row was a tenth of the
# time. A step that is not an object stops `jsonb_to_recordset`: the runtime never writes one,
# and a trace that holds one is read by _STEP_VALUES, which takes each field with `->`.
# The selected runs, numbered newest first.
_RECENT = """
WITH recent AS (
    SELECT row_number() OVER (ORDER BY q.queued_at DESC, q.id DESC) AS n, q.status,
           q.duration_ms, q.steps
    FROM ({runs}) q
)
"""
_STEP_FIELDS = (
    _RECENT
    + """
SELECT r.n, r.status, r.duration_ms, s.kind::text, s.name::text, s.line::text,
       s.took::text, s.started::text,
       s.error NOT IN ('false'::jsonb, '""'::jsonb, '0'::jsonb, '{{}}'::jsonb, '[]'::jsonb)
FROM recent r
LEFT JOIN LATERAL ROWS FROM (jsonb_to_recordset(
    CASE WHEN jsonb_typeof(r.steps) = 'array' THEN r.steps ELSE '[]'::jsonb END
) AS (kind json, name json, line json, "durationMs" json, "startedAt" json, error jsonb))
    WITH ORDINALITY AS s(kind, name, line, took, started, error, position) ON true
ORDER BY r.n, s.position
"""
)
_STEP_VALUES = (
    _RECENT
    + """
SELECT r.n, r.status, r.duration_ms, (s.value->'kind')::text, (s.value->'name')::text,
       (s.value->'line')::text, (s.value->'durationMs')::text, (s.value->'startedAt')::text,
       coalesce(s.value->'error', 'null'::jsonb) NOT IN (
           'null'::jsonb, 'false'::jsonb, '""'::jsonb, '0'::jsonb, '{{}}'::jsonb, '[]'::jsonb)
FROM recent r
LEFT JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(r.steps) = 'array' THEN r.steps ELSE '[]'::jsonb END
) WITH ORDINALITY AS s(value, position) ON true
ORDER BY r.n, s.position
"""
)


def _step_rows(runs_sql: str, params) -> list[tuple]:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_STEP_FIELDS.format(runs=runs_sql), params)
            return cursor.fetchall()
    except DataError:  # a step that is not an object
        with connection.cursor() as cursor:
            cursor.execute(_STEP_VALUES.format(runs=runs_sql), params)
            return cursor.fetchall()


def _runs_from_step_rows(rows: list[tuple]) -> list[RunTrace]:
    """The rows of _STEP_FIELDS (the steps' fields as JSON text) as RunTraces, reading each
    field as `step_trace` reads the JSON value: strings for kind, name and startedAt, a
    positive integer line, a number of milliseconds. One loop over twelve thousand rows: the
    few kinds, names and lines of a thousand runs are each read once."""
    runs: list[RunTrace] = []
    strings: dict[str | None, str | None] = {}
    lines: dict[str | None, int | None] = {}
    current, status, duration, steps = None, "", None, []
    for number, run_status, run_duration, kind, name, line, took, started, failed in rows:
        if number != current:
            if current is not None:
                runs.append(RunTrace(status, duration, tuple(steps)))
            current, status, duration, steps = number, run_status, run_duration, []
        if kind not in strings:
            strings[kind] = _json_string(kind)
        if name not in strings:
            strings[name] = _json_string(name)
        kind, name = strings[kind], strings[name]
        if kind is None or name is None:
            continue
        if line not in lines:
            lines[line] = _positive_integer(line)
        try:
            milliseconds = float(took)  # JSON text: a string keeps its quotes and fails here
        except (TypeError, ValueError):
            milliseconds = 0.0
        if started is not None:
            started = _json_string(started)
        steps.append(StepTrace(kind, name, lines[line], milliseconds, started, failed is True))
    if current is not None:
        runs.append(RunTrace(status, duration, tuple(steps)))
    return runs


def _json_string(text: str | None) -> str | None:
    """The value of a JSON string's text; None for any other JSON value."""
    if text is None or text[:1] != '"':
        return None
    return json.loads(text) if "\\" in text else text[1:-1]


def _positive_integer(text: str | None) -> int | None:
    """A JSON number's text that is a whole number above 0 (no fraction, no exponent)."""
    if text and text.isascii() and text.isdigit() and text[0] != "0":
        return int(text)
    return None


# --- Triggers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachedTrigger:
    kind: str  # webhook | scheduler | app-event
    name: str
    detail: str  # the schedule in words, the app event, the webhook id
    environment: str  # what the route runs: DRAFT, test, live or a named environment
    enabled: bool

    @property
    def kind_label(self) -> str:
        return {"webhook": "Webhook", "scheduler": "Schedule", "app-event": "App event"}.get(
            self.kind, self.kind.title()
        )


def attached_triggers(workflow: Workflow) -> list[AttachedTrigger]:
    """The triggers with a route to `workflow`. Read through the routes' reverse relation
    (`Workflow.routes`, declared by apps.triggers): the insight and triggers apps are
    independent siblings in the layers and do not import each other."""
    rows = (
        workflow.routes.filter(trigger__space_id=workflow.space_id)
        .order_by("trigger__kind", "trigger__name", "position")
        .values_list(
            "trigger__kind",
            "trigger__name",
            "trigger__enabled",
            "trigger__schedule",
            "trigger__connector",
            "trigger__event_name",
            "trigger__webhook_id",
            "environment",
        )
    )
    out = []
    for kind, name, enabled, schedule, connector, event, webhook_id, environment in rows:
        if kind == "scheduler":
            detail = schedule_words(schedule or {})
        elif kind == "app-event":
            detail = f"{connector} · {event}" if event else connector
        else:
            detail = f"POST …/webhooks/{webhook_id}"
        out.append(AttachedTrigger(kind, name, detail, environment, enabled))
    return out


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def schedule_words(schedule: dict) -> str:
    """A stored schedule (apps/triggers/schedules.py `Schedule.to_dict`) in a few words."""
    preset = schedule.get("preset")
    zone = schedule.get("timezone") or "UTC"
    at = schedule.get("time", "")
    if preset == "interval":
        return f"every {schedule.get('every')} {schedule.get('unit')}"
    if preset == "daily":
        return f"daily at {at} {zone}"
    if preset == "weekly":
        days = ", ".join(
            WEEKDAYS[d] for d in schedule.get("weekdays", []) if isinstance(d, int) and 0 <= d < 7
        )
        return f"weekly on {days or '–'} at {at} {zone}"
    if preset == "monthly":
        return f"monthly on day {schedule.get('day')} at {at} {zone}"
    if preset == "custom":
        return f"cron {schedule.get('cron', '')} ({zone})"
    return "schedule"


def trigger_label(triggers: list[AttachedTrigger]) -> str:
    """The TRIGGER node's label: the attached triggers, else how the workflow can still run."""
    if not triggers:
        return "API or manual run (no trigger attached)"
    names = [f"{t.kind_label}: {t.name}" for t in triggers[:3]]
    if len(triggers) > 3:
        names.append(f"{len(triggers) - 3} more")
    return " · ".join(names)


# --- Connector actions ----------------------------------------------------------------------


@dataclass(frozen=True)
class ActionInfo:
    connector: str  # the connector's name ("Shopify")
    kind: str  # "read" | "write"
    title: str
    description: str


class ActionCatalog:
    """What the catalog says about `fastn.connector.<slug>.<action>`: looked up lazily (the
    parser asks only about the calls it meets), once per connector."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.definitions: dict[str, object] = {}

    def info(self, slug: str, action: str) -> ActionInfo | None:
        if slug not in self.definitions:
            resolved = resolve_connector(self.space, slug, environment=CATALOG_STAGE)
            self.definitions[slug] = resolved.definition if resolved else None
        definition = self.definitions[slug]
        if definition is None:
            return None
        found = next((a for a in definition.actions if a.name == action), None)
        if found is None:
            return None
        return ActionInfo(definition.name, found.kind, found.title, found.description)

    def kind(self, slug: str, action: str) -> str | None:
        found = self.info(slug, action)
        return found.kind if found else None

    @property
    def action_kind(self) -> Callable[[str, str], str | None]:
        return self.kind


@functools.cache
def _builtin_fingerprint() -> str:
    text = "|".join(f"{d.slug}:{d.version}:{len(d.actions)}" for d in builtin_connectors().values())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def catalog_fingerprint(space: Space) -> str:
    """Changes whenever an action's READ/WRITE may have: a new connector or version in the
    Space (the built-in catalog only changes with a deploy). Part of the Flow's cache key."""
    own = Connector.objects.filter(space=space).order_by("slug")
    text = ";".join(
        f"{slug}:{version}" for slug, version in own.values_list("slug", "latest_version_id")
    )
    return hashlib.sha256(f"{_builtin_fingerprint()}|{text}".encode()).hexdigest()[:16]
