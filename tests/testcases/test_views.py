"""The Test Cases tab's views: the header, create/edit with validation, approval, role gating
and Space isolation. (Runs are in test_runner.py and the browser tests.)"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.spaces.models import AuditEvent
from apps.testcases.models import TestCase
from tests.conftest import login

pytestmark = pytest.mark.django_db

CODE = """export default async (ctx) => {
  const a = await fastn.connector.shopify.getOrders({});
  const b = await fastn.connector.http.request({
    method: "POST", url: "https://api.example.com/x" });
  return { a, b };
};"""


def url(name, workflow, **kwargs):
    return reverse(
        name, kwargs={"space_slug": workflow.space.slug, "workflow_id": workflow.id, **kwargs}
    )


def form(name="Happy path", **extra):
    return {
        "intent": "save",
        "name": name,
        "mode": "mock",
        "group": "orders",
        "scenario": "A small order",
        "input": '{"n": 1}',
        "headers": '{"X-Src": "shop"}',
        "expect_kind": "equals",
        "expected_output": '{"ok": true}',
        "mock_call": ["shopify.getOrders", "POST https://api.example.com/x", "crm.unused"],
        "mock_response": ['[{"id": 1}]', '{"status": 201}', ""],
        **extra,
    }


def test_header_counts_cases_and_live_ones(client, cast, make_workflow, make_case):
    workflow = make_workflow(code=CODE)
    make_case(workflow, "One")
    make_case(workflow, "Two", mode="live")
    make_case(workflow, "Three", mode="live")
    login(client, cast.viewer)
    response = client.get(url("testcases", workflow), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Test Cases — 3, 2 Live" in response.content.decode()


def test_new_case_form_offers_the_calls_found_in_the_editor_code(client, cast, make_workflow):
    workflow = make_workflow(code="export default async () => 1;")
    login(client, cast.developer)
    response = client.post(url("testcase_new", workflow), {"intent": "form", "code": CODE})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-call="shopify.getOrders"' in html
    assert 'data-call="POST https://api.example.com/x"' in html


def test_a_builder_creates_a_case_with_mocks_and_an_expectation(client, cast, make_workflow):
    workflow = make_workflow(code=CODE)
    login(client, cast.developer)
    response = client.post(url("testcase_new", workflow), form(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()
    case = TestCase.objects.get(workflow=workflow)
    assert case.space == cast.space and case.group == "orders"
    assert case.input == {"n": 1} and case.headers == {"x-src": "shop"}
    assert case.mocks == [
        {"call": "shopify.getOrders", "response": [{"id": 1}]},
        {"call": "POST https://api.example.com/x", "response": {"status": 201}},
    ]
    assert case.expect == {"kind": "equals", "output": {"ok": True}}
    assert AuditEvent.objects.filter(action="testcase.create").exists()


def test_assertion_rows_are_saved_and_checked(client, cast, make_workflow):
    workflow = make_workflow(code=CODE)
    login(client, cast.developer)
    body = form(
        expect_kind="assertions",
        assert_path=["$.a[0].id", "$.b", ""],
        assert_op=["gt", "exists", "equals"],
        assert_value=["0", "", ""],
    )
    assert client.post(url("testcase_new", workflow), body).status_code == 200
    assert TestCase.objects.get().expect == {
        "kind": "assertions",
        "assertions": [
            {"path": "$.a[0].id", "op": "gt", "value": 0},
            {"path": "$.b", "op": "exists"},
        ],
    }
    bad = form(
        name="Bad",
        expect_kind="assertions",
        assert_path=["items"],
        assert_op=["equals"],
        assert_value=["1"],
    )
    response = client.post(url("testcase_new", workflow), bad)
    assert response.status_code == 400 and "must start with $" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input", "{oops", "is not valid JSON"),
        ("headers", '{"a": 1}', "must be a JSON object of strings"),
        ("expected_output", "[1,", "is not valid JSON"),
        ("name", "", "This field is required"),
    ],
)
def test_bad_input_is_answered_at_the_field_never_a_500(
    client, cast, make_workflow, field, value, message
):
    workflow = make_workflow(code=CODE)
    login(client, cast.developer)
    response = client.post(url("testcase_new", workflow), form(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TestCase.objects.exists()


def test_oversized_input_is_refused(client, cast, make_workflow):
    workflow = make_workflow(code=CODE)
    login(client, cast.developer)
    response = client.post(url("testcase_new", workflow), form(input='"' + "x" * 1_000_001 + '"'))
    assert response.status_code == 400 and "the limit is 1,000,000" in response.content.decode()


def test_bad_mock_json_names_the_problem(client, cast, make_workflow):
    workflow = make_workflow(code=CODE)
    login(client, cast.developer)
    body = form(mock_call=["shopify.getOrders"], mock_response=["{nope"])
    response = client.post(url("testcase_new", workflow), body)
    assert response.status_code == 400 and "is not valid JSON" in response.content.decode()


def test_duplicate_names_are_refused(client, cast, make_workflow, make_case):
    workflow = make_workflow(code=CODE)
    make_case(workflow, "Happy path")
    login(client, cast.developer)
    response = client.post(url("testcase_new", workflow), form())
    assert response.status_code == 400 and "already a test case" in response.content.decode()


def test_editing_what_a_case_runs_withdraws_its_approval_but_a_note_does_not(
    client, cast, make_workflow, make_case
):
    workflow = make_workflow(code=CODE)
    case = make_case(workflow, "Happy path", input={"n": 1})
    login(client, cast.developer)
    client.post(url("testcase_approve", workflow, case_id=case.id), {"approved": "true"})
    case.refresh_from_db()
    assert case.approved and case.approved_by == cast.developer
    client.post(url("testcase_feedback", workflow, case_id=case.id), {"feedback": "Checked"})
    case.refresh_from_db()
    assert case.approved and case.feedback == "Checked"
    client.post(url("testcase_edit", workflow, case_id=case.id), form(input='{"n": 2}'))
    case.refresh_from_db()
    assert case.input == {"n": 2} and not case.approved


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_cannot_change_cases(client, cast, make_workflow, make_case, role):
    workflow = make_workflow(code=CODE)
    case = make_case(workflow, "Keep")
    login(client, cast.member(role))
    for name, kwargs, body in (
        ("testcase_new", {}, form()),
        ("testcase_edit", {"case_id": case.id}, form(name="Changed")),
        ("testcase_approve", {"case_id": case.id}, {"approved": "true"}),
        ("testcase_feedback", {"case_id": case.id}, {"feedback": "x"}),
        ("testcase_delete", {"case_id": case.id}, {}),
        ("testcases_gate", {}, {"code": CODE}),
    ):
        assert client.post(url(name, workflow, **kwargs), body).status_code == 403, name
    case.refresh_from_db()
    assert case.name == "Keep" and not case.approved and case.feedback == ""


def test_viewers_cannot_run_cases(client, cast, make_workflow, make_case):
    workflow = make_workflow(code=CODE)
    case = make_case(workflow, "Keep")
    login(client, cast.viewer)
    assert client.post(url("testcase_run", workflow, case_id=case.id)).status_code == 403
    assert client.post(url("testcases_run", workflow)).status_code == 403
    page = client.get(url("testcases", workflow)).content.decode()
    assert 'data-testid="case-run"' not in page and 'data-testid="case-edit"' not in page


def test_another_spaces_case_ids_are_404(client, cast, make_workflow, make_case):
    mine = make_workflow(code=CODE)
    theirs = make_workflow("Theirs", space=cast.other_space, code=CODE)
    their_case = make_case(theirs, "Secret case")
    login(client, cast.owner)
    for name in (
        "testcase_edit",
        "testcase_run",
        "testcase_approve",
        "testcase_delete",
        "testcase_feedback",
    ):
        # Their case id under my workflow, and their workflow under my Space: both 404.
        assert client.post(url(name, mine, case_id=their_case.id), form()).status_code == 404
        wrong = reverse(
            name,
            kwargs={
                "space_slug": cast.space.slug,
                "workflow_id": theirs.id,
                "case_id": their_case.id,
            },
        )
        assert client.post(wrong, form()).status_code == 404
    their_case.refresh_from_db()
    assert their_case.name == "Secret case" and not their_case.approved


def test_save_as_test_case_is_for_builders_and_finished_runs(client, cast, make_workflow):
    from apps.executions.services import execution_create

    workflow = make_workflow(code=CODE)
    execution = execution_create(
        workflow,
        version=None,
        code=CODE,
        input={"a": 1},
        headers={},
        triggered_by="manual",
        actor=None,
    )
    target = reverse(
        "execution_save_test_case",
        kwargs={"space_slug": cast.space.slug, "execution_id": execution.id},
    )
    login(client, cast.operator)
    assert client.post(target).status_code == 403
    login(client, cast.developer)
    response = client.post(target)  # still pending: nothing to save yet
    assert response.status_code == 302 and not TestCase.objects.exists()
    type(execution).objects.filter(pk=execution.pk).update(status="completed", output={"ok": 1})
    response = client.post(target)
    case = TestCase.objects.get()
    assert response.url.endswith(f"?case={case.id}#cases")
    assert case.input == {"a": 1} and case.expect == {"kind": "equals", "output": {"ok": 1}}
    detail = client.get(
        reverse(
            "execution_detail", kwargs={"space_slug": cast.space.slug, "execution_id": execution.id}
        )
    )
    assert 'data-testid="save-as-test-case"' in detail.content.decode()
