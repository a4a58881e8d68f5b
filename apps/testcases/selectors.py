"""Reads of the test cases app: the Test Cases tab (cases with their latest result on the code
shown) and each case's results by version."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404

from apps.runtime.source import code_hash
from apps.testcases.models import Mode, TestCase, TestResult
from apps.workflows.models import Workflow, WorkflowVersion


def get_case_for_member(request, workflow: Workflow, case_id) -> TestCase:
    """A case of this workflow in the current Space, or 404 (another Space's id included)."""
    if workflow.space_id != request.space.id:
        raise AssertionError("workflow from another Space")
    case = get_object_or_404(
        TestCase.objects.select_related("approved_by"),
        space=request.space,
        workflow=workflow,
        id=case_id,
    )
    case.workflow = workflow
    return case


def version_hashes(workflow: Workflow) -> dict[str, list[int]]:
    """code hash → the version numbers whose code it is."""
    hashes: dict[str, list[int]] = {}
    for number, code in WorkflowVersion.objects.filter(workflow=workflow).values_list(
        "number", "code"
    ):
        hashes.setdefault(code_hash(code), []).append(number)
    return hashes


def target_label(result: TestResult, hashes: dict[str, list[int]]) -> str:
    if result.version_number:
        return f"v{result.version_number}"
    numbers = hashes.get(result.code_hash)
    if numbers:
        return "draft = " + ", ".join(f"v{n}" for n in sorted(numbers))
    return f"draft {result.code_hash[:7]}"


@dataclass
class CaseRow:
    case: TestCase
    result: TestResult | None


def case_rows(workflow: Workflow) -> list[CaseRow]:
    """Every case with its latest result (on whatever code it ran: the label says which), in
    group and name order."""
    latest = TestResult.objects.filter(case=OuterRef("pk")).order_by("-created_at")
    cases = list(
        TestCase.objects.filter(workflow=workflow, space=workflow.space)
        .annotate(latest_result=Subquery(latest.values("id")[:1]))
        .select_related("approved_by")
    )
    results = TestResult.objects.in_bulk([c.latest_result for c in cases if c.latest_result])
    return [CaseRow(c, results.get(c.latest_result)) for c in cases]


def counts(rows: list[CaseRow]) -> dict[str, int]:
    return {
        "total": len(rows),
        "live": sum(1 for r in rows if r.case.mode == Mode.LIVE),
        "approved": sum(1 for r in rows if r.case.approved),
        "passed": sum(1 for r in rows if r.result and r.result.passed),
        "failed": sum(1 for r in rows if r.result and not r.result.passed),
    }


def recent_results(workflow: Workflow, *, per_case: int, scan: int = 1000) -> dict:
    """case id → its latest results (at most `per_case`, newest first), from one query over
    the workflow's latest `scan` results: the history shown under each case."""
    history: dict = {}
    rows = (
        TestResult.objects.filter(case__workflow=workflow, space=workflow.space)
        .only("id", "case_id", "passed", "code_hash", "version_number", "created_at", "run_status")
        .order_by("-created_at")[:scan]
    )
    for result in rows:
        items = history.setdefault(result.case_id, [])
        if len(items) < per_case:
            items.append(result)
    return history
