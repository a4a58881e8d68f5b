"""PostgreSQL unnests the recorded steps for the run statistics (apps/insight/selectors.py,
_STEP_ROWS): whatever a step holds, it must read it exactly as `step_trace` reads it in
Python (the SQLite path), so the two databases give the same statistics."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.executions.models import Execution
from apps.insight.selectors import recent_runs
from apps.insight.stats import StepTrace, step_trace
from tests.insight.helpers import make_workflow

pytestmark = pytest.mark.django_db

STEPS = [
    {
        "kind": "state",
        "name": "state.get",
        "line": 3,
        "durationMs": 1.5,
        "error": None,
        "startedAt": "2026-01-01T00:00:00.250Z",
    },
    {"kind": "db", "name": "db.query", "durationMs": 2, "error": {"code": "X"}},
    {"kind": "db", "name": "db.query", "line": "7", "durationMs": "x"},
    {"kind": 5, "name": "x"},
    {"name": "no kind"},
    {"kind": "", "name": ""},
    {"kind": "s", "name": "n", "line": 2.5},
    {"kind": "s", "name": "n", "line": 12.0},
    {"kind": "s", "name": "n", "line": 1e12},
    {"kind": "s", "name": "n", "line": -3},
    {"kind": "s", "name": "n", "line": True},
    {"kind": "s", "name": "n", "error": {}},
    {"kind": "s", "name": "n", "error": "boom"},
    {"kind": "s", "name": "n", "error": False},
    {"kind": "s", "name": "n", "startedAt": 5},
    {"kind": "s", "name": "n", "durationMs": True},
    {"kind": "s", "name": "n", "durationMs": -1.25e3},
    {"kind": "s", "name": "n", "line": "12"},
    {"kind": "s", "name": "n", "line": 7.5e1},
    {"kind": "s", "name": "n", "line": 0},
    {"kind": "s", "name": "n", "line": None, "error": None},
    {"kind": "s", "name": "n", "error": 0},
    {"kind": "s", "name": "n", "error": []},
    {"kind": "s", "name": "n", "error": [0]},
    {"kind": 'quote " and \\ backslash', "name": "ünïcödé ✓ \n newline", "startedAt": "x\ty"},
    {"kind": ["a"], "name": {"b": 1}},
    {},
]
# Not objects: the runtime never writes them; the statistics skip them (a slower query).
NOT_STEPS = ["not a step", ["nor", "this"], 5, None]


def expected(steps) -> tuple[StepTrace, ...]:
    traces = (step_trace(step) for step in steps if isinstance(step, dict))
    return tuple(trace for trace in traces if trace is not None)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL of PostgreSQL")
@pytest.mark.parametrize("odd", [False, True], ids=["objects", "with-non-objects"])
def test_postgresql_reads_every_step_as_step_trace_does(cast, odd):
    workflow = make_workflow(cast.space, cast.owner)
    steps_of_run = STEPS + NOT_STEPS if odd else STEPS
    for steps in (steps_of_run, [], {"not": "a list"}):
        Execution.objects.create(
            space=cast.space, workflow=workflow, workflow_name=workflow.name, version_number=1,
            environment="live", tier="instant", timeout_seconds=30, triggered_by="api",
            status="completed", duration_ms=10.0, steps=steps,
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        runs = recent_runs(workflow, environment="live", version=1, limit=10)
    # Non-objects make the usual query fail; the fallback reads each value in SQL.
    assert any("jsonb_array_elements" in q["sql"] for q in queries.captured_queries) is odd
    assert sorted(len(run.steps) for run in runs) == [0, 0, len(expected(STEPS))]
    (full,) = [run for run in runs if run.steps]
    assert full.steps == expected(STEPS)
    assert [run.status for run in runs] == ["completed"] * 3
