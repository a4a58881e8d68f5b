from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from apps.executions.forms import RANGE_CHOICES, ExecutionFilterForm
from apps.executions.live import live_read
from apps.executions.models import Execution, Status
from apps.executions.selectors import (
    TABS,
    LiveCursor,
    execution_page,
    execution_timing,
    execution_trace,
    tab_counts,
)
from apps.executions.services import execution_cancel, execution_create, execution_dispatch
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability

DETAIL = "executions/detail.html"


def get_execution_for_member(request, execution_id) -> Execution:
    return get_object_or_404(
        Execution.objects.select_related("workflow", "customer", "version"),
        space=request.space,
        id=execution_id,
    )


@require(Capability.VIEW)
def execution_list(request):
    form = ExecutionFilterForm(request.GET, space=request.space)
    filters = form.filters()
    page, next_cursor = execution_page(request.space, filters)
    counts = tab_counts(request.space, filters)
    context = {
        "filters": filters,
        "rows": page,
        "next_cursor": next_cursor,
        "older_query": filters.query(before=next_cursor) if next_cursor else "",
        "tabs": [(tab, filters.query(tab=tab, before=None), counts[tab]) for tab in TABS],
        "ranges": RANGE_CHOICES,
        "workflows": form.workflows,
        "customers": form.customer_options(filters.customer_id),
        "environments": form.environments,
        "has_running": any(not row.is_terminal for row in page),
    }
    if request.htmx:
        return render(request, "executions/list.html#results", context)
    return render(request, "executions/list.html", context)


@require(Capability.VIEW)
def execution_detail(request, execution_id):
    """The page; for its poll while a run goes on (`?after=<cursor>`), only what is new —
    appended by htmx, so nothing flickers and scrolling and open steps stay — and the whole
    trace once, when the attempt it showed has ended."""
    execution = get_execution_for_member(request, execution_id)
    attempts = list(execution.attempt_set.all())
    context = {
        "execution": execution,
        "attempts": attempts,
        "timing": execution_timing(execution, attempts),
    }
    cursor = LiveCursor.parse(request.GET.get("after")) if request.htmx else None
    if cursor is not None and cursor.continues(execution):
        new = ([], [])
        if execution.status == Status.RUNNING:
            new = live_read(
                execution.id, execution.attempts, logs_from=cursor.logs, steps_from=cursor.steps
            )
        if new is not None:
            logs, steps = new
            tail = {"new_logs": logs, "new_steps": steps}
            tail["cursor"] = cursor.advanced(len(logs), len(steps))
            return render(request, f"{DETAIL}#tail", {**context, **tail})
    trace = execution_trace(execution)
    context.update(trace=trace, cursor=trace.cursor(execution))
    if request.htmx:
        response = render(request, f"{DETAIL}#refresh", context)
        return retarget(reswap(response, "outerHTML"), "#live")
    return render(request, DETAIL, context)


@require_POST
@require(Capability.OPERATE)
def execution_cancel_view(request, execution_id):
    execution = get_execution_for_member(request, execution_id)
    if execution_cancel(execution, actor=actor(request)):
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
        actor=actor(request),
        customer=original.customer,
        environment=original.environment,
    )
    execution_dispatch(execution)
    messages.success(request, "Re-run started with the same input.")
    return redirect("execution_detail", space_slug=request.space.slug, execution_id=execution.id)
