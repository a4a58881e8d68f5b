"""Case services without a worker: Save as test case from executions of every kind, the mocks
taken from a run's steps, approval withdrawal."""

from __future__ import annotations

import pytest

from apps.executions.services import execution_create
from apps.testcases import services as cases

pytestmark = pytest.mark.django_db


def finished(workflow, **fields):
    execution = execution_create(
        workflow,
        version=None,
        code=workflow.draft_code,
        input={"q": 1},
        headers={"x-a": "b"},
        triggered_by="manual",
        actor=None,
    )
    type(execution).objects.filter(pk=execution.pk).update(**fields)
    execution.refresh_from_db()
    return execution


def test_mocks_come_from_the_runs_connector_steps(cast, make_workflow):
    steps = [
        {
            "kind": "connector",
            "name": "connector.shopify.getOrders",
            "args": {"params": {}},
            "result": [{"id": 1}],
        },
        {
            "kind": "connector",
            "name": "connector.shopify.getOrders",
            "args": {"params": {}},
            "result": [{"id": 2}],
        },  # the first answer is kept
        {
            "kind": "connector",
            "name": "connector.http.request",
            "args": {"params": {"method": "post", "url": "https://x.io/a"}},
            "result": {"status": 201},
        },
        {"kind": "connector", "name": "connector.crm.update", "args": {}, "error": {"code": "E"}},
        {
            "kind": "connector",
            "name": "connector.big.list",
            "args": {},
            "result": {"truncated": True, "bytes": 9000, "preview": "["},
        },
        {"kind": "state", "name": "state.get", "args": {"key": "k"}, "result": 1},
    ]
    assert cases.mocks_from_steps(steps) == [
        {"call": "shopify.getOrders", "response": [{"id": 1}]},
        {"call": "POST https://x.io/a", "response": {"status": 201}},
    ]


def test_a_failed_run_becomes_a_case_expecting_its_error(cast, make_workflow, actor):
    workflow = make_workflow()
    execution = finished(
        workflow, status="failed", error={"code": "RUNTIME_ERROR", "message": "boom"}
    )
    case = cases.case_from_execution(execution, actor=actor)
    assert case.expect == {
        "kind": "assertions",
        "assertions": [{"path": "$error.code", "op": "equals", "value": "RUNTIME_ERROR"}],
    }
    assert case.headers == {"x-a": "b"} and case.mode == "mock" and not case.approved
    again = cases.case_from_execution(execution, actor=actor)
    assert again.name == case.name + " (2)"


def test_approval_survives_a_rename_but_not_a_new_expectation(
    cast, make_workflow, make_case, actor
):
    workflow = make_workflow()
    case = make_case(workflow, "A", expect={"kind": "equals", "output": 1})
    cases.case_approve(case, approved=True, user=cast.owner, actor=actor)
    data = cases.cases_export_one(case)
    cases.case_update(case, data={**data, "name": "B"}, actor=actor)
    assert case.approved
    cases.case_update(
        case, data={**data, "name": "B", "expect": {"kind": "equals", "output": 2}}, actor=actor
    )
    case.refresh_from_db()
    assert not case.approved and case.approved_by is None
