from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from apps.executions.forms import (
    RANGE_CHOICES,
    ControlForm,
    EventForm,
    ExecutionFilterForm,
    RunForm,
)
from apps.executions.live import live_read
from apps.executions.models import Execution, Status
from apps.executions.selectors import (
    TABS,
    LiveCursor,
    execution_page,
    execution_timing,
    execution_trace,
    tab_counts,
    workflow_recent_executions,
)
from apps.executions.services import (
    ControlConflict,
    execution_cancel,
    execution_control,
    execution_create,
    execution_dispatch,
    instance_event_send,
    manual,
)
from apps.executions.timeline import execution_controls, execution_timeline
from apps.spaces.access import deny, require
from apps.spaces.audit import actor
from apps.spaces.models import Capability
from apps.workflows.access import get_workflow_for_member
from apps.workflows.forms import WorkflowForm
from apps.workflows.selectors import run_target
from fastn_console.listing import list_context

DETAIL = "executions/detail.html"
# The Test tab's result and the Executions tab are partials of the workflow editor's page.
EDITOR = "workflows/editor.html"


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
    tabs = [(tab, tab.capitalize()) for tab in TABS]
    context = {
        **list_context(filters, page, next_cursor, counts, tabs),
        "ranges": RANGE_CHOICES,
        "workflows": form.workflows,
        "customers": form.customer_options(filters.customer_id),
        "environments": form.environments,
        "has_running": any(not row.is_terminal for row in page),
    }
    if request.htmx:
        return render(request, "executions/list.html#results", context)
    return render(request, "executions/list.html", context)


def detail_context(execution: Execution) -> dict:
    """What the page and each of its polls show, but the logs and calls (see the view)."""
    attempts = list(execution.attempt_set.all())
    timeline = execution_timeline(execution)
    durable = timeline.durable(execution)
    return {
        "execution": execution,
        "attempts": attempts,
        "timing": execution_timing(execution, attempts),
        "timeline": timeline,
        "durable": durable,
        "controls": execution_controls(execution, durable=durable),
    }


@require(Capability.VIEW)
def execution_detail(request, execution_id):
    """The page; for its poll while a run goes on (`?after=<cursor>`), only what is new —
    appended by htmx, so nothing flickers and scrolling and open steps stay — and the whole
    trace once, when the attempt it showed has ended. The durable steps' timeline is sent
    again only when it changed (`&timeline=<signature>` of what the page shows)."""
    execution = get_execution_for_member(request, execution_id)
    context = detail_context(execution)
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
            tail["timeline_changed"] = request.GET.get("timeline") != context["timeline"].signature
            return render(request, f"{DETAIL}#tail", {**context, **tail})
    return render_detail(request, execution, context)


def render_detail(request, execution, context, *, status: int = 200):
    trace = execution_trace(execution)
    context.update(trace=trace, cursor=trace.cursor(execution))
    context.setdefault("event_form", EventForm())
    if request.htmx:
        response = render(request, f"{DETAIL}#refresh", context)
        return retarget(reswap(response, "outerHTML"), "#live")
    return render(request, DETAIL, context, status=status)


def to_detail(request, execution):
    return redirect("execution_detail", space_slug=request.space.slug, execution_id=execution.id)


# What the page says after each control, by the status the run has then.
CONTROL_DONE = {
    ("pause", Status.PAUSED): "Paused. Resume to continue from the stored steps.",
    ("pause", Status.RUNNING): "Pausing: the run pauses at its next step.",
    ("resume", Status.RUNNING): "The pause is called off.",
    ("terminate", Status.RUNNING): "Terminating: the running attempt is being stopped.",
    ("restart", Status.RUNNING): "Restarting: the running attempt is stopped first.",
}
CONTROL_DEFAULT = {
    "pause": "Paused.",
    "resume": "Resumed: the run continues from its stored steps.",
    "terminate": "Terminated.",
    "restart": "Restarted from the beginning; the stored step results were discarded.",
}


@require_POST
@require(Capability.OPERATE)
def execution_control_view(request, execution_id):
    """Pause, Resume, Terminate and Restart of a durable run. A control that no longer applies
    (the run moved on since the page was drawn) is said on the page."""
    execution = get_execution_for_member(request, execution_id)
    form = ControlForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown control: use Pause, Resume, Terminate or Restart.")
        return to_detail(request, execution)
    control = form.cleaned_data["control"]
    try:
        execution = execution_control(execution, control, actor=actor(request))
    except ControlConflict as exc:
        messages.error(request, str(exc))
    else:
        done = CONTROL_DONE.get((control, execution.status), CONTROL_DEFAULT[control])
        messages.success(request, done)
    return to_detail(request, execution)


@require_POST
@require(Capability.OPERATE)
def execution_event_view(request, execution_id):
    """ "Send event": kept for the run, and delivered to a step waiting for its type."""
    execution = get_execution_for_member(request, execution_id)
    form = EventForm(request.POST)
    if not form.is_valid():
        context = {**detail_context(execution), "event_form": form}
        return render_detail(request, execution, context, status=400)
    event_type = form.cleaned_data["type"]
    try:
        instance_event_send(execution, type=event_type, payload=form.cleaned_data["payload"])
    except ControlConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Event {event_type!r} sent.")
    return to_detail(request, execution)


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


# --- Running from the workflow editor and the Workflows table -------------------------------------


@require(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def workflow_run(request, workflow_id):
    """The Run dialog of the table: GET shows the input form, POST runs (OPERATE)."""
    workflow = get_workflow_for_member(request, workflow_id)
    version, stage = run_target(workflow)
    context = {"workflow": workflow, "target_version": version, "target_stage": stage}
    if request.method == "GET":
        context["form"] = RunForm(initial={"input": "{}"})
        return render(request, "workflows/list.html#run_dialog", context)
    if not request.membership.can(Capability.OPERATE):
        return deny(request, Capability.OPERATE)
    form = RunForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "workflows/list.html#run_dialog", context, status=400)
    context["execution"] = manual.workflow_run(
        workflow,
        input=form.cleaned_data["input"],
        headers=form.cleaned_data["headers"],
        actor=actor(request),
    )
    return render(request, "workflows/list.html#run_dialog", context)


@require(Capability.OPERATE)
@require_POST
def workflow_test(request, workflow_id):
    """The Test tab: run the editor's unsaved code (builders) or the saved draft (operators,
    who may run but not change code) with ctx.input / ctx.headers."""
    workflow = get_workflow_for_member(request, workflow_id)
    form = RunForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, f"{EDITOR}#test_result", {"run_errors": form.errors}, status=400)
    code = form.cleaned_data["code"]
    if code is None or not request.membership.can(Capability.BUILD):
        code = workflow.draft_code
    try:
        execution = manual.workflow_test_run(
            workflow,
            code=code,
            input=form.cleaned_data["input"],
            headers=form.cleaned_data["headers"],
            actor=actor(request),
        )
    except ValidationError as exc:
        errors = {"code": exc.messages}
        return render(request, f"{EDITOR}#test_result", {"run_errors": errors}, status=400)
    return run_result_response(request, execution)


# How the Test tab of a new workflow names the configuration fields its run depends on.
RUN_FIELD_LABELS = {"tier": "Execution Tier", "timeout_seconds": "Execution Timeout"}


@require(Capability.BUILD)
@require_POST
def workflow_test_new(request):
    """The Test tab of a workflow not created yet: run the editor's code with the tier and
    timeout of its Configuration panel (sent along with ctx.input / ctx.headers), saving
    nothing but the execution record. BUILD, like running unsaved code of a saved workflow."""
    run = RunForm(request.POST, request.FILES)
    config = WorkflowForm(request.POST)
    if not (run.is_valid() & config.is_valid()):
        errors = {**run.errors, **labelled(config.errors)}
        return render(request, f"{EDITOR}#test_result", {"run_errors": errors}, status=400)
    try:
        execution = manual.workflow_test_run_new(
            request.space,
            fields={**config.workflow_fields(), "code": run.cleaned_data["code"] or ""},
            input=run.cleaned_data["input"],
            headers=run.cleaned_data["headers"],
            actor=actor(request),
        )
    except ValidationError as exc:
        errors = labelled(exc.message_dict)
        return render(request, f"{EDITOR}#test_result", {"run_errors": errors}, status=400)
    return run_result_response(request, execution)


def labelled(errors) -> dict[str, list[str]]:
    """Configuration errors as the Test tab shows them: each message led by its field's label
    (the fields themselves are in another panel)."""
    out: dict[str, list[str]] = {}
    for field, texts in errors.items():
        label = RUN_FIELD_LABELS.get(field) or field.replace("_", " ").capitalize()
        out[field] = [m if field == "code" else f"{label}: {m}" for m in texts]
    return out


def run_result_response(request, execution):
    """The run's result in the Test tab; a failure with a line moves the cursor there."""
    response = render(request, f"{EDITOR}#test_result", {"execution": execution})
    error = execution.error or {}
    if error.get("line"):
        trigger_client_event(
            response,
            "workflowRunError",
            {
                "line": error["line"],
                "column": error.get("column") or 1,
                "message": error.get("message", ""),
            },
        )
    return response


EXECUTIONS_TAB_LIMIT = 20


@require(Capability.VIEW)
@require_GET
def workflow_executions(request, workflow_id):
    """The editor's Executions tab: the latest runs of this workflow (lazy-loaded)."""
    workflow = get_workflow_for_member(request, workflow_id)
    context = {
        "rows": workflow_recent_executions(request.space, workflow, limit=EXECUTIONS_TAB_LIMIT),
        "workflow": workflow,
        "all_url": reverse("executions", kwargs={"space_slug": request.space.slug}),
    }
    return render(request, f"{EDITOR}#executions_tab", context)
