"""The editor's Test Cases tab (htmx partials), the publish gate, and "Save as test case" on an
execution's page. Viewers read; operators also run; builders create, edit and approve."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from apps.executions.views import get_execution_for_member
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability
from apps.testcases import selectors, services
from apps.testcases.expect import OPERATORS
from apps.testcases.forms import CaseForm, FeedbackForm
from apps.testcases.models import Mode, TestCase, TestRun
from apps.testcases.scan import calls_in
from apps.workflows.access import get_version_for_member, get_workflow_for_member

PANEL = "testcases/panel.html"
HISTORY_PER_CASE = 8


def panel_context(request, workflow, *, open_case=None, run: TestRun | None = None) -> dict:
    rows = selectors.case_rows(workflow)
    hashes = selectors.version_hashes(workflow)
    history = selectors.recent_results(workflow, per_case=HISTORY_PER_CASE)
    for row in rows:
        row.history = history.get(row.case.id, [])
        for result in [row.result, *row.history]:
            if result is not None:
                result.target = selectors.target_label(result, hashes)
    return {
        "workflow": workflow,
        "rows": rows,
        "counts": selectors.counts(rows),
        "versions": sorted({n for numbers in hashes.values() for n in numbers}, reverse=True),
        "open_case": str(open_case) if open_case else "",
        "run": run,
        "can_edit": request.membership.can(Capability.BUILD),
        "can_run": request.membership.can(Capability.OPERATE),
        "operators": OPERATORS,
    }


def panel(request, workflow, *, status=200, toast=None, **extra):
    response = render(
        request, f"{PANEL}#panel", panel_context(request, workflow, **extra), status=status
    )
    if toast:
        trigger_client_event(response, "toast", toast)
    return response


@require(Capability.VIEW)
@require_GET
def cases_panel(request, workflow_id):
    workflow = get_workflow_for_member(request, workflow_id)
    return panel(request, workflow, open_case=request.GET.get("case"))


def form_rows(form: CaseForm | None, case: TestCase | None, code: str) -> dict:
    """The mock and assertion rows to show: what was posted, else the case's, plus each call
    found in the code that has no mock yet (offered, empty)."""
    if form is not None and form.is_bound:
        mocks = [
            {"call": c, "response": r, "found": False}
            for c, r in form.rows("mock_call", "mock_response")
        ]
        asserts = [
            {"path": p, "op": o, "value": v}
            for p, o, v in form.rows("assert_path", "assert_op", "assert_value")
        ]
    else:
        mocks = [
            {"call": m["call"], "response": services.json_text(m["response"]), "found": False}
            for m in (case.mocks if case else [])
        ]
        asserts = []
        if case and case.expect.get("kind") == "assertions":
            asserts = [
                {
                    "path": a["path"],
                    "op": a["op"],
                    "value": services.json_text(a["value"]) if "value" in a else "",
                }
                for a in case.expect["assertions"]
            ]
    known = {m["call"] for m in mocks}
    mocks += [
        {"call": call, "response": "", "found": True}
        for call in calls_in(code)
        if call not in known
    ]
    return {
        "mock_rows": mocks,
        "assert_rows": asserts or [{"path": "$", "op": "equals", "value": ""}],
    }


def initial_of(case: TestCase | None) -> dict:
    if case is None:
        return {
            "mode": Mode.MOCK,
            "input": "{}",
            "headers": "{}",
            "expect_kind": "equals",
            "expected_output": "",
        }
    expect = case.expect or {"kind": "equals", "output": None}
    return {
        "name": case.name,
        "mode": case.mode,
        "scenario": case.scenario,
        "group": case.group,
        "input": services.json_text(case.input),
        "headers": services.json_text(case.headers),
        "expect_kind": expect.get("kind", "equals"),
        "expected_output": services.json_text(expect.get("output"))
        if expect.get("kind") == "equals"
        else "",
        "feedback": case.feedback,
    }


def render_form(request, workflow, form, case, *, status=200):
    code = request.POST.get("code") or workflow.draft_code
    context = {
        "workflow": workflow,
        "form": form,
        "case": case,
        "operators": OPERATORS,
        **form_rows(form, case, code),
    }
    return render(request, f"{PANEL}#case_form", context, status=status)


@require(Capability.BUILD)
@require_POST
def case_new(request, workflow_id):
    """`intent=form` renders the blank form (the calls in the posted editor code offered as
    mock rows); `intent=save` creates the case."""
    workflow = get_workflow_for_member(request, workflow_id)
    if request.POST.get("intent") != "save":
        return render_form(request, workflow, CaseForm(initial=initial_of(None)), None)
    form = CaseForm(request.POST)
    if not form.is_valid():
        return render_form(request, workflow, form, None, status=400)
    try:
        case = services.case_create(
            workflow, data=form.case_data, actor=actor(request), request=request
        )
    except services.CaseDataError as exc:
        form.add_error("name" if exc.field == "name" else None, exc.message)
        return render_form(request, workflow, form, None, status=400)
    return panel(
        request,
        workflow,
        open_case=case.id,
        toast={"level": "success", "message": f"Test case “{case.name}” created."},
    )


@require(Capability.BUILD)
@require_POST
def case_edit(request, workflow_id, case_id):
    workflow = get_workflow_for_member(request, workflow_id)
    case = selectors.get_case_for_member(request, workflow, case_id)
    if request.POST.get("intent") != "save":
        return render_form(request, workflow, CaseForm(initial=initial_of(case)), case)
    form = CaseForm(request.POST)
    if not form.is_valid():
        return render_form(request, workflow, form, case, status=400)
    was_approved = case.approved
    try:
        case = services.case_update(
            case, data=form.case_data, actor=actor(request), request=request
        )
    except services.CaseDataError as exc:
        form.add_error("name" if exc.field == "name" else None, exc.message)
        return render_form(request, workflow, form, case, status=400)
    message = f"Test case “{case.name}” saved."
    if was_approved and not case.approved:
        message += " Its approval was withdrawn: approve it again once it is right."
    return panel(
        request, workflow, open_case=case.id, toast={"level": "success", "message": message}
    )


@require(Capability.BUILD)
@require_POST
def case_approve(request, workflow_id, case_id):
    workflow = get_workflow_for_member(request, workflow_id)
    case = selectors.get_case_for_member(request, workflow, case_id)
    approve = request.POST.get("approved") == "true"
    services.case_approve(
        case, approved=approve, user=request.user, actor=actor(request), request=request
    )
    word = "approved: Publish checks it" if approve else "no longer approved"
    return panel(
        request,
        workflow,
        open_case=case.id,
        toast={"level": "success", "message": f"“{case.name}” {word}."},
    )


@require(Capability.BUILD)
@require_POST
def case_feedback(request, workflow_id, case_id):
    workflow = get_workflow_for_member(request, workflow_id)
    case = selectors.get_case_for_member(request, workflow, case_id)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return panel(
            request,
            workflow,
            open_case=case.id,
            status=400,
            toast={"level": "error", "message": " ".join(form.errors["feedback"])},
        )
    data = {**services.cases_export_one(case), "feedback": form.cleaned_data["feedback"]}
    # A note changes nothing the case runs: its approval stays.
    services.case_update(case, data=data, actor=actor(request), request=request)
    return panel(
        request,
        workflow,
        open_case=case.id,
        toast={"level": "success", "message": "Feedback note saved."},
    )


@require(Capability.BUILD)
@require_POST
def case_delete(request, workflow_id, case_id):
    workflow = get_workflow_for_member(request, workflow_id)
    case = selectors.get_case_for_member(request, workflow, case_id)
    name = case.name
    services.case_delete(case, actor=actor(request), request=request)
    return panel(request, workflow, toast={"level": "success", "message": f"Deleted “{name}”."})


def run_code(request, workflow) -> tuple[str, int | None]:
    """What a run runs: a published version (`target=N`), else the editor's code (posted by
    a builder; others run the saved draft)."""
    target = request.POST.get("target", "draft")
    if target.isdigit():
        version = get_version_for_member(request, workflow, int(target))
        return version.code, version.number
    code = request.POST.get("code")
    if code is None or not request.membership.can(Capability.BUILD):
        code = workflow.draft_code
    return code, None


def run_and_show(request, workflow, cases, *, open_case=None):
    code, number = run_code(request, workflow)
    if not cases:
        return panel(request, workflow, toast={"level": "info", "message": "No test cases to run."})
    run = services.test_run_start(
        workflow, cases=cases, code=code, version_number=number, actor=actor(request)
    )
    run = services.test_run_wait(run)
    results = list(run.results.all())
    failed = sum(1 for r in results if not r.passed)
    if run.error:
        toast = {"level": "error", "message": run.error}
    elif failed:
        toast = {
            "level": "error",
            "message": f"{failed} of {len(results)} failed on {run.target_label}.",
        }
    else:
        toast = {"level": "success", "message": f"{len(results)} passed on {run.target_label}."}
    return panel(request, workflow, open_case=open_case, run=run, toast=toast)


@require(Capability.OPERATE)
@require_POST
def case_run(request, workflow_id, case_id):
    workflow = get_workflow_for_member(request, workflow_id)
    case = selectors.get_case_for_member(request, workflow, case_id)
    return run_and_show(request, workflow, [case], open_case=case.id)


@require(Capability.OPERATE)
@require_POST
def cases_run_all(request, workflow_id):
    workflow = get_workflow_for_member(request, workflow_id)
    cases = list(TestCase.objects.filter(workflow=workflow, space=request.space))
    return run_and_show(request, workflow, cases)


@require(Capability.BUILD)
@require_POST
def publish_gate(request, workflow_id):
    """Before Publish: run the approved cases on the editor's code. The answer is the list of
    failures for the confirmation dialog (`data-failures="0"`: publish straight away)."""
    workflow = get_workflow_for_member(request, workflow_id)
    code = request.POST.get("code")
    if code is None:
        code = workflow.draft_code
    outcome = services.publish_check(workflow, code=code, actor=actor(request))
    context = {"workflow": workflow, "outcome": outcome}
    return render(request, f"{PANEL}#gate", context)


@require(Capability.BUILD)
@require_POST
def save_from_execution(request, execution_id):
    execution = get_execution_for_member(request, execution_id)
    detail = reverse(
        "execution_detail", kwargs={"space_slug": request.space.slug, "execution_id": execution.id}
    )
    if execution.workflow_id is None or not execution.is_terminal:
        messages.error(
            request, "Only a finished run of an existing workflow can become a test case."
        )
        return redirect(detail)
    try:
        case = services.case_from_execution(execution, actor=actor(request), request=request)
    except services.CaseDataError as exc:
        messages.error(request, f"Could not save it as a test case: {exc.message}")
        return redirect(detail)
    messages.success(request, f"Saved as test case “{case.name}”: review it, then approve it.")
    editor = reverse(
        "workflow_editor",
        kwargs={"space_slug": request.space.slug, "workflow_id": execution.workflow_id},
    )
    return redirect(f"{editor}?case={case.id}#cases")
