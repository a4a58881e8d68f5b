from __future__ import annotations

import uuid

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.executions.models import Execution
from apps.executions.selectors import (
    RANGES,
    TABS,
    ExecutionFilters,
    execution_page,
    parse_cursor,
    tab_counts,
)
from apps.executions.services import execution_cancel, execution_create, execution_dispatch
from apps.spaces.access import require
from apps.spaces.audit import Actor
from apps.spaces.models import Capability
from apps.workflows.models import Workflow


def get_execution_for_member(request, execution_id) -> Execution:
    return get_object_or_404(
        Execution.objects.select_related("workflow", "customer", "version"),
        space=request.space,
        id=execution_id,
    )


def filters_from(request, **overrides) -> ExecutionFilters:
    """The list's filters from the query string. A value that is not one we offer (a tab, a
    range, a workflow of this Space, a cursor we made) is ignored, never an error."""
    get = request.GET
    tab = get.get("tab", "all")
    range_ = get.get("range", "24h")
    workflow = uuid_or_none(get.get("workflow"))
    if workflow and not Workflow.objects.filter(space=request.space, id=workflow).exists():
        workflow = None
    before = get.get("before") or None
    return ExecutionFilters(
        tab=tab if tab in TABS else "all",
        range=range_ if range_ in RANGES else "24h",
        workflow_id=workflow,
        before=before if parse_cursor(before) else None,
        **overrides,
    )


def uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


@require(Capability.VIEW)
def execution_list(request):
    filters = filters_from(request)
    page, next_cursor = execution_page(request.space, filters)
    context = {
        "filters": filters,
        "rows": page,
        "next_cursor": next_cursor,
        "counts": tab_counts(request.space, filters),
        "tabs": list(TABS),
        "ranges": [
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
        ],
        "workflows": Workflow.objects.filter(space=request.space).only("id", "name"),
        "has_running": any(not row.is_terminal for row in page),
    }
    if request.htmx:
        return render(request, "executions/list.html#results", context)
    return render(request, "executions/list.html", context)


@require(Capability.VIEW)
def execution_detail(request, execution_id):
    execution = get_execution_for_member(request, execution_id)
    context = {"execution": execution, "attempts": execution.attempt_set.all()}
    if request.htmx:
        return render(request, "executions/detail.html#live", context)
    return render(request, "executions/detail.html", context)


@require_POST
@require(Capability.OPERATE)
def execution_cancel_view(request, execution_id):
    execution = get_execution_for_member(request, execution_id)
    if execution_cancel(execution, actor=Actor.for_user(request.user)):
        messages.success(request, "Cancellation requested.")
    else:
        messages.error(request, "This execution has already ended.")
    return redirect("execution_detail", space_slug=request.space.slug, execution_id=execution.id)


@require_POST
@require(Capability.OPERATE)
def execution_rerun(request, execution_id):
    original = get_execution_for_member(request, execution_id)
    if original.workflow is None:
        messages.error(request, "The workflow of this execution was deleted.")
        return redirect("execution_detail", space_slug=request.space.slug, execution_id=original.id)
    execution = execution_create(
        original.workflow,
        version=original.version,
        code=original.draft_code if original.version is None else None,
        input=original.input,
        headers=original.headers,
        triggered_by="manual",
        actor=Actor.for_user(request.user),
        customer=original.customer,
        environment=original.environment,
    )
    execution_dispatch(execution)
    messages.success(request, "Re-run started with the same input.")
    return redirect("execution_detail", space_slug=request.space.slug, execution_id=execution.id)
