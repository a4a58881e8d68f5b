"""A trigger's routes with what each would run, read for every event by the router
(hand-written SQL, see fastn_console/rawsql.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from apps.environments.models import DRAFT, TEST, Environment
from apps.triggers.models import Route
from apps.workflows.models import Deployment, Workflow, WorkflowVersion
from fastn_console import rawsql

# --- routing: a trigger's routes with what each would run ---------------------------------------


@dataclass(frozen=True)
class RouteTarget:
    """A route, its workflow (without its draft code, loaded on access for DRAFT routes) and
    the version its environment serves now (None: DRAFT, or nothing is deployed there)."""

    route: Route
    workflow: Workflow
    version: WorkflowVersion | None


_ROUTE_FIELDS = ("id", "trigger", "position", "workflow", "environment", "headers", "filters",
                 "payload")  # fmt: skip
_WORKFLOW_FIELDS = tuple(f.name for f in Workflow._meta.concrete_fields if f.name != "draft_code")


def route_targets(trigger_id) -> list[RouteTarget]:
    """The trigger's routes in order, each with its workflow and the version it would run —
    what `resolve_version` answers, for every route in one statement (routing reads this for
    every event: hand-written, see fastn_console/rawsql.py)."""
    rows = rawsql_rows(_route_targets_sql(), [rawsql.db_value(Route, "trigger", trigger_id)])
    route_width, workflow_width = len(_ROUTE_FIELDS), len(_WORKFLOW_FIELDS)
    targets = []
    for row in rows:
        route = rawsql.instance(Route, row[:route_width], only=_ROUTE_FIELDS)
        workflow = rawsql.instance(
            Workflow, row[route_width : route_width + workflow_width], only=_WORKFLOW_FIELDS
        )
        route.workflow = workflow
        version_id, number = row[route_width + workflow_width :]
        version = None
        if version_id is not None:
            version = rawsql.instance(WorkflowVersion, [version_id, number], only=("id", "number"))
            version.workflow = workflow
        targets.append(RouteTarget(route, workflow, version))
    return targets


def rawsql_rows(sql: str, params) -> list[tuple]:
    with rawsql.db().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@functools.cache
def _route_targets_sql() -> str:
    """Portable SQL (PostgreSQL and SQLite): `test` serves the latest published version, an
    environment the version deployed to it, DRAFT nothing (the draft)."""
    versions, deployments = rawsql.table(WorkflowVersion), rawsql.table(Deployment)
    environments = rawsql.table(Environment)
    version = (
        f"CASE WHEN upper(r.environment) = '{DRAFT}' THEN NULL"
        f" WHEN lower(r.environment) = '{TEST}' THEN (SELECT lv.id FROM {versions} lv"
        " WHERE lv.workflow_id = w.id ORDER BY lv.number DESC LIMIT 1)"
        f" ELSE (SELECT d.version_id FROM {deployments} d JOIN {environments} de"
        " ON de.id = d.environment_id WHERE d.workflow_id = w.id"
        " AND de.slug = lower(r.environment)) END"
    )
    return (
        f"SELECT {rawsql.columns(Route, 'r', only=_ROUTE_FIELDS)},"
        f" {rawsql.columns(Workflow, 'w', only=_WORKFLOW_FIELDS)}, v.id, v.number"
        f" FROM {rawsql.table(Route)} r JOIN {rawsql.table(Workflow)} w ON w.id = r.workflow_id"
        f" LEFT JOIN {versions} v ON v.id = ({version})"
        " WHERE r.trigger_id = %s ORDER BY r.position, r.id"
    )
