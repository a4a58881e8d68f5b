"""Reads for workflows: which version serves a stage, the STATUS rule, the Workflows table."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.db.models import Count, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery

from apps.environments.models import DRAFT, LIVE, TEST, Environment
from apps.environments.selectors import ensure_builtin_environments
from apps.environments.usage import EnvironmentUsage
from apps.spaces.models import Space
from apps.workflows.models import Deployment, Tier, Workflow, WorkflowVersion
from fastn_console import rawsql


def resolve_version(workflow: Workflow, stage: str) -> WorkflowVersion | Literal["DRAFT"] | None:
    """The code a run of `workflow` on `stage` executes (DESIGN §3).

    - ``"DRAFT"`` (any case) → the string ``"DRAFT"``: run ``workflow.draft_code``;
    - ``"test"`` → the latest published version, or None if never published;
    - ``"live"`` or a named environment's slug → the version deployed there, or None when
      nothing is deployed there (or no such environment exists).
    """
    if stage.upper() == DRAFT:
        return DRAFT
    stage = stage.lower()
    if stage == TEST:
        return workflow.versions.order_by("-number").first()
    deployment = (
        Deployment.objects.filter(workflow=workflow, environment__slug=stage)
        .select_related("version")
        .first()
    )
    return deployment.version if deployment else None


# What an API call needs of a workflow and its version: never the (possibly large) code.
_TARGET_WORKFLOW_FIELDS = tuple(
    f.name for f in Workflow._meta.concrete_fields if f.name not in {"draft_code"}
)
_TARGET_VERSION_FIELDS = ("id", "workflow", "number", "created_at")


# The public API reads the workflow a request runs, and its deployed version, in the same
# statement as the API key (apps.api.auth); hand-written, see fastn_console/rawsql.py.
@functools.cache
def deployed_target_columns() -> str:
    """The select list of what `deployed_target_join` adds, in `deployed_target_from_row`'s
    order."""
    w, v = _TARGET_WORKFLOW_FIELDS, _TARGET_VERSION_FIELDS
    return (
        f"{rawsql.columns(Workflow, 'w', only=w)}, {rawsql.columns(WorkflowVersion, 'v', only=v)}"
    )


@functools.cache
def deployed_target_join(space_column: str) -> str:
    """A LEFT JOIN adding, as `w` and `v`, the enabled workflow (slug: first parameter) of the
    Space in `space_column` and the version deployed to its environment (slug: second
    parameter); NULLs when there is none."""
    return (
        f" LEFT JOIN ({rawsql.table(Deployment)} d"
        f" JOIN {rawsql.table(Workflow)} w ON w.id = d.workflow_id"
        f" JOIN {rawsql.table(Environment)} e ON e.id = d.environment_id"
        f" JOIN {rawsql.table(WorkflowVersion)} v ON v.id = d.version_id)"
        f" ON w.space_id = {space_column} AND w.slug = %s AND w.enabled"
        f" AND e.space_id = {space_column} AND e.slug = %s"
    )


def deployed_target_from_row(row) -> tuple[Workflow, WorkflowVersion] | None:
    """The workflow and version from a row of `deployed_target_columns()` (None: the join
    found none)."""
    w, v = _TARGET_WORKFLOW_FIELDS, _TARGET_VERSION_FIELDS
    if row[0] is None:
        return None
    workflow = rawsql.instance(Workflow, row[: len(w)], only=w)
    version = rawsql.instance(WorkflowVersion, row[len(w) :], only=v)
    version.workflow = workflow
    return workflow, version


def workflow_is_active(workflow: Workflow, stage: str = LIVE) -> bool:
    """STATUS: active when enabled and deployed to `live` (for `test`: when published; for a
    named environment: when deployed there)."""
    if not workflow.enabled:
        return False
    if stage.lower() == TEST:
        return workflow.versions.exists()
    return Deployment.objects.filter(workflow=workflow, environment__slug=stage.lower()).exists()


def run_target(workflow: Workflow) -> tuple[WorkflowVersion | None, str]:
    """What the Run dialog of the Workflows table runs: the version deployed to live, else the
    latest published one (what `test` serves), else the draft. Answers (version, stage)."""
    live = resolve_version(workflow, LIVE)
    if live is not None:
        return live, LIVE
    latest = resolve_version(workflow, TEST)
    if latest is not None:
        return latest, TEST
    return None, DRAFT


def deployed_environments(workflow_ids) -> dict:
    """The slugs of the environments each workflow is deployed to (`live` first, then named
    ones in the order they were created), in one query: {workflow id: [slug, …]}."""
    out: dict = {}
    rows = (
        Deployment.objects.filter(workflow_id__in=list(workflow_ids))
        .order_by("-environment__builtin", "environment__created_at", "environment__slug")
        .values_list("workflow_id", "environment__slug")
    )
    for workflow_id, slug in rows:
        out.setdefault(workflow_id, []).append(slug)
    return out


def api_sample_stage(workflow: Workflow, deployed: list[str]) -> str:
    """The `stage` the API tab's sample calls: the environment the workflow is deployed to
    (`live` first), else `test` once published, else DRAFT."""
    if deployed:
        return deployed[0]
    return TEST if workflow.versions.exists() else DRAFT


# --- The Workflows table --------------------------------------------------------------------


def workflow_rows(space: Space, *, tier: str = "", q: str = "") -> QuerySet[Workflow]:
    """Workflows of the table, newest change first, each annotated with `latest_number` (the
    current published vN or None) and `live_number` (the version serving live or None): two
    correlated subqueries instead of one query per row."""
    rows = workflow_search(space, q)
    if tier in Tier.values:
        rows = rows.filter(tier=tier)
    latest = WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-number")
    live = Deployment.objects.filter(workflow=OuterRef("pk"), environment__slug=LIVE)
    return (
        rows.annotate(
            latest_number=Subquery(latest.values("number")[:1]),
            live_number=Subquery(live.values("version__number")[:1]),
        )
        .only("id", "space_id", "name", "slug", "description", "tier", "enabled", "updated_at")
        .order_by("-updated_at", "-id")
    )


def workflow_search(space: Space, q: str = "") -> QuerySet[Workflow]:
    rows = Workflow.objects.filter(space=space)
    q = q.strip()
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    return rows


def tier_counts(space: Space, *, q: str = "") -> dict[str, int]:
    """Counts for the All | Instant | Standard | Long tabs, in one query."""
    counts = workflow_search(space, q).aggregate(
        all=Count("id"), **{t: Count("id", filter=Q(tier=t)) for t in Tier.values}
    )
    return counts


# --- The editor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentState:
    """What one environment serves for one workflow, for the editor's "Deployed" list."""

    environment: Environment
    version_number: int | None
    deployed_by: str
    deployed_at: datetime | None

    @property
    def follows_latest(self) -> bool:
        return self.environment.slug == TEST


def workflow_environments(workflow: Workflow, latest_number: int | None) -> list[EnvironmentState]:
    """Every environment of the Space with what it serves of `workflow`, in one query: `test`
    the latest published version, the others their deployment (if any)."""
    rows = _environments_with_deployment(workflow)
    if not {TEST, LIVE} <= {env.slug for env in rows}:
        ensure_builtin_environments(workflow.space)
        rows = _environments_with_deployment(workflow)
    return [
        EnvironmentState(env, latest_number, "", None)
        if env.slug == TEST
        else EnvironmentState(
            env, env.deployed_number, env.deployed_by_email or "", env.deployed_when
        )
        for env in rows
    ]


def _environments_with_deployment(workflow: Workflow) -> list[Environment]:
    return list(
        Environment.objects.filter(space_id=workflow.space_id)
        .annotate(
            deployment=FilteredRelation("deployments", condition=Q(deployments__workflow=workflow)),
            deployed_number=F("deployment__version__number"),
            deployed_when=F("deployment__deployed_at"),
            deployed_by_email=F("deployment__deployed_by__email"),
        )
        .order_by("-builtin", "created_at")
    )


def workflow_versions(workflow: Workflow) -> QuerySet[WorkflowVersion]:
    return (
        WorkflowVersion.objects.filter(workflow=workflow)
        .select_related("created_by")
        .defer("code")
        .order_by("-number")
    )


def environment_usage(space: Space) -> EnvironmentUsage:
    """What the Environments page shows of the workflows: the deployments serving each
    environment of `space`, by workflow name, and how many workflows are published (what `test`
    serves). Registered with apps.environments.usage by WorkflowsConfig.ready."""
    deployed: dict[Any, list[Deployment]] = {}
    deployments = (
        Deployment.objects.filter(environment__space=space)
        .select_related("workflow", "version")
        .order_by("workflow__name")
    )
    for deployment in deployments:
        deployed.setdefault(deployment.environment_id, []).append(deployment)
    published = Workflow.objects.filter(space=space, versions__isnull=False).distinct().count()
    return EnvironmentUsage(deployed=deployed, published_count=published)
