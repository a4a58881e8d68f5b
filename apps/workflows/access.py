"""Access helpers for workflows: lookups inside the current Space only (outsiders get 404, like
ids that do not exist), and the rules of who may deploy where."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404

from apps.environments.models import TEST, Environment
from apps.spaces.models import Capability, Membership
from apps.workflows.models import Workflow, WorkflowVersion


def get_workflow_for_member(request, workflow_id, *, with_latest_number=False) -> Workflow:
    """The workflow of the current Space, or 404. `with_latest_number` annotates the number
    of its latest published version (None when never published) in the same query."""
    rows = Workflow.objects.filter(space=request.space)
    if with_latest_number:
        latest = WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-number")
        rows = rows.annotate(latest_number=Subquery(latest.values("number")[:1]))
    workflow = get_object_or_404(rows, id=workflow_id)
    workflow.space = request.space
    return workflow


def get_version_for_member(request, workflow: Workflow, number: int) -> WorkflowVersion:
    if workflow.space_id != request.space.id:  # defence in depth: callers pass a looked-up one
        raise AssertionError("workflow from another Space")
    return get_object_or_404(WorkflowVersion, workflow=workflow, number=number)


def get_environment_for_member(request, environment_id) -> Environment:
    return get_object_or_404(Environment, space=request.space, id=environment_id)


def deploy_capability(environment: Environment) -> Capability:
    """`test` is for anyone who operates; `live` and named environments serve real traffic
    and need DEPLOY_LIVE (Owner, Admin, Developer). Operators deploy to `test` only."""
    return Capability.OPERATE if environment.slug == TEST else Capability.DEPLOY_LIVE


def can_deploy(membership: Membership | None, environment: Environment) -> bool:
    return membership is not None and membership.can(deploy_capability(environment))
