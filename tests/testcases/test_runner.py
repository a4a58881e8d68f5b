"""Test cases run in the real sandbox on a real worker: MOCK runs never touch the network
(proved at the socket), LIVE runs do, results are kept per version, the publish check, and
"Save as test case" from an execution."""

from __future__ import annotations

import socket

import pytest

from apps.executions.services import workflow_test_run
from apps.runtime.source import code_hash
from apps.testcases import services as cases
from apps.testcases.models import TestResult, TestRun
from apps.workflows import services as workflows

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = """export default async function (ctx) {
  const orders = await fastn.connector.shopify.getOrders({ limit: ctx.input.limit });
  const res = await fastn.connector.http.request({ url: ctx.input.url });
  const count = await fastn.state.incr("seen", orders.length);
  return { count, total: orders.reduce((t, o) => t + o.total, 0), status: res.status,
           note: res.body.note };
}
"""


@pytest.fixture
def connects(monkeypatch):
    """Every address this process (the worker's threads included) connects a socket to."""
    seen = []
    real = socket.socket.connect

    def guarded(sock, address):
        seen.append(address)
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return seen


def run(workflow, case_list, actor, **kwargs):
    run = cases.test_run_start(
        workflow,
        cases=case_list,
        code=kwargs.pop("code", workflow.draft_code),
        actor=actor,
        **kwargs,
    )
    return cases.test_run_wait(run)


def test_mock_case_passes_in_the_sandbox_without_any_connection(
    celery_worker, cast, actor, make_workflow, make_case, listener, connects
):
    workflow = make_workflow(code=ORDERS)
    url = f"http://127.0.0.1:{listener.port}/orders"
    case = make_case(
        workflow,
        "Two orders",
        input={"limit": 2, "url": url},
        mocks=[
            {"call": "shopify.getOrders", "response": [{"total": 5}, {"total": 7}]},
            {"call": f"GET http://127.0.0.1:{listener.port}/*", "response": {"note": "mocked"}},
        ],
        expect={
            "kind": "equals",
            "output": {"count": 2, "total": 12, "status": 200, "note": "mocked"},
        },
    )
    finished = run(workflow, [case], actor)
    result = TestResult.objects.get(run=finished)
    assert finished.status == "done" and result.passed, result.failures
    assert TestRun.objects.get(pk=finished.pk).code == ""  # only its hash is kept
    assert result.code_hash == code_hash(ORDERS)
    assert [s["name"] for s in result.steps][:2] == [
        "connector.shopify.getOrders",
        "connector.http.request",
    ]
    assert listener.accepted == 0
    assert not [a for a in connects if isinstance(a, tuple) and a[1:2] == (listener.port,)]


def test_an_unmocked_call_fails_the_case_by_name_even_when_the_code_catches_it(
    celery_worker, cast, actor, make_workflow, make_case, listener, connects
):
    code = """export default async function (ctx) {
  try {
    await fastn.connector.http.request({ url: ctx.input.url });
  } catch (e) {
    return { caught: e.code };
  }
  return { caught: null };
}
"""
    workflow = make_workflow(code=code)
    url = f"http://127.0.0.1:{listener.port}/live"
    case = make_case(
        workflow,
        "No mock",
        input={"url": url},
        expect={"kind": "equals", "output": {"caught": "UNMOCKED_CALL"}},
    )
    result = TestResult.objects.get(run=run(workflow, [case], actor))
    assert not result.passed
    assert result.failures == [f"Unmocked call: fastn.connector.http.request GET {url}"]
    assert result.output == {"caught": "UNMOCKED_CALL"}
    assert listener.accepted == 0
    assert not [a for a in connects if isinstance(a, tuple) and a[1:2] == (listener.port,)]


def test_a_live_case_makes_the_real_call(
    celery_worker, cast, actor, make_workflow, make_case, listener
):
    code = """export default async (ctx) =>
  (await fastn.connector.http.request({ url: ctx.input.url })).body;"""
    workflow = make_workflow(code=code)
    case = make_case(
        workflow,
        "Live",
        mode="live",
        input={"url": f"http://127.0.0.1:{listener.port}/"},
        expect={
            "kind": "assertions",
            "assertions": [{"path": "$.real", "op": "equals", "value": True}],
        },
    )
    result = TestResult.objects.get(run=run(workflow, [case], actor))
    assert result.passed, result.failures
    assert listener.accepted == 1


def test_mock_state_starts_empty_for_each_run(celery_worker, cast, actor, make_workflow, make_case):
    code = 'export default async () => ({ n: await fastn.state.incr("n", 1) });'
    workflow = make_workflow(code=code)
    case = make_case(workflow, "Counter", expect={"kind": "equals", "output": {"n": 1}})
    for _ in range(2):
        assert TestResult.objects.filter(run=run(workflow, [case], actor), passed=True).exists()


def test_failure_has_reasons_and_diff_and_results_are_kept_per_version(
    celery_worker, cast, actor, make_workflow, make_case
):
    workflow = make_workflow(code="export default async (ctx) => ({ total: ctx.input.a * 2 });")
    workflows.workflow_publish(workflow, actor=actor)
    case = make_case(
        workflow, "Double", input={"a": 3}, expect={"kind": "equals", "output": {"total": 6}}
    )
    on_v1 = TestResult.objects.get(run=run(workflow, [case], actor, version_number=1))
    assert on_v1.passed and on_v1.version_number == 1
    broken = "export default async (ctx) => ({ total: ctx.input.a * 3 });"
    on_draft = TestResult.objects.get(run=run(workflow, [case], actor, code=broken))
    assert not on_draft.passed and on_draft.version_number is None
    assert on_draft.failures == ["$.total: expected 6, got 9"]
    assert '-  "total": 6' in on_draft.diff and '+  "total": 9' in on_draft.diff
    assert on_draft.code_hash != on_v1.code_hash


def test_publish_check_runs_only_approved_cases_and_lists_failures(
    celery_worker, cast, actor, make_workflow, make_case
):
    workflow = make_workflow(code="export default async (ctx) => ({ ok: ctx.input.ok });")
    assert cases.publish_check(workflow, code=workflow.draft_code, actor=actor).run is None
    good = make_case(
        workflow, "Good", input={"ok": True}, expect={"kind": "equals", "output": {"ok": True}}
    )
    bad = make_case(
        workflow, "Bad", input={"ok": False}, expect={"kind": "equals", "output": {"ok": True}}
    )
    make_case(
        workflow, "Unapproved", input={"ok": 1}, expect={"kind": "equals", "output": {"ok": 2}}
    )
    for case in (good, bad):
        cases.case_approve(case, approved=True, user=cast.owner, actor=actor)
    outcome = cases.publish_check(workflow, code=workflow.draft_code, actor=actor)
    assert [r.case.name for r in outcome.failed] == ["Bad"] and outcome.missing == 0
    assert outcome.run.results.count() == 2


def test_save_as_test_case_turns_an_execution_into_a_passing_mock_case(
    celery_worker, cast, actor, make_workflow, listener
):
    code = """export default async (ctx) => {
  const res = await fastn.connector.http.request({ url: ctx.input.url });
  return { got: res.body, who: ctx.headers["x-who"] };
};"""
    workflow = make_workflow(code=code)
    url = f"http://127.0.0.1:{listener.port}/thing"
    execution = workflow_test_run(
        workflow, code=code, input={"url": url}, headers={"x-who": "ada"}, actor=actor
    )
    assert execution.status == "completed" and listener.accepted == 1
    case = cases.case_from_execution(execution, actor=actor)
    assert case.input == {"url": url} and case.headers == {"x-who": "ada"}
    assert case.expect == {"kind": "equals", "output": {"got": {"real": True}, "who": "ada"}}
    assert [m["call"] for m in case.mocks] == [f"GET {url}"]
    assert not case.approved
    result = TestResult.objects.get(run=run(workflow, [case], actor))
    assert result.passed, result.failures
    assert listener.accepted == 1  # the mock answered: no second connection
