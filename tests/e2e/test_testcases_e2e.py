"""The editor's Test Cases tab in a real browser: create a MOCK case from the calls found in
the code, run it in the sandbox (a real worker) and read the diff; Save as test case from an
execution; the publish gate (confirm lists the failing case, Cancel keeps the draft
unpublished, Publish anyway publishes); what a viewer sees."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.executions.services import workflow_test_run
from apps.spaces.audit import Actor
from apps.testcases import services as cases
from apps.testcases.models import TestCase
from apps.workflows import services
from apps.workflows.models import WorkflowVersion
from tests.e2e.helpers import browser_login
from tests.testcases.conftest import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT = 30000


@pytest.fixture
def listener():
    """A loopback server counting connections: what a MOCK case must never reach."""
    server = Listener()
    yield server
    server.close()


def orders_code(port: int) -> str:
    return f"""export default async function (ctx) {{
  const orders = await fastn.connector.shopify.getOrders({{ status: ctx.input.status }});
  const res = await fastn.connector.http.request({{ url: "http://127.0.0.1:{port}/rates/eur" }});
  return {{ count: orders.length, rate: res.body.rate }};
}}
"""


def make(cast, code: str, name="Orders"):
    return services.workflow_create(
        cast.space, name=name, actor=Actor.for_user(cast.owner), code=code
    )


def open_cases(page, live_server, workflow, query=""):
    page.goto(f"{live_server.url}/s/{workflow.space.slug}/workflows/{workflow.id}/{query}")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.click("#tab-cases")
    expect(page.locator("[data-testid=cases-header]")).to_be_visible()


def test_create_a_mock_case_run_it_read_the_diff_then_fix_the_code(
    live_server, page, cast, celery_worker, listener
):
    workflow = make(cast, orders_code(listener.port))
    browser_login(page, live_server, "developer@example.com")
    open_cases(page, live_server, workflow)
    expect(page.locator("[data-testid=cases-header]")).to_have_text("Test Cases — 0, 0 Live")
    expect(page.locator("[data-testid=cases-empty]")).to_be_visible()

    page.click("[data-testid=case-new]")
    rows = page.locator("[data-testid=mock-row]")
    expect(rows).to_have_count(2)
    shopify = page.locator("[data-testid=mock-row][data-call='shopify.getOrders']")
    rates = page.locator(
        f"[data-testid=mock-row][data-call='GET http://127.0.0.1:{listener.port}/rates/eur']"
    )
    expect(shopify).to_contain_text("found in the code")
    page.fill("[data-testid=case-name]", "Two open orders")
    page.fill("[data-testid=case-group]", "orders")
    page.fill("[data-testid=case-input]", '{"status": "open"}')
    shopify.locator("[data-testid=mock-response]").fill('[{"id": 1}, {"id": 2}]')
    rates.locator("[data-testid=mock-response]").fill('{"rate": 1.5}')
    page.fill("[data-testid=case-expected]", '{"count": 2, "rate": 2}')
    page.click("[data-testid=case-save]")

    expect(page.locator("[data-testid=cases-header]")).to_have_text("Test Cases — 1, 0 Live")
    row = page.locator("[data-testid=case-row]", has_text="Two open orders")
    expect(row.locator("[data-testid=case-mode]")).to_have_text("MOCK")
    expect(row.locator("[data-testid=case-result]")).to_have_text("Not run")
    expect(page.locator("[data-testid=cases-running]")).to_be_hidden()
    row.locator("[data-testid=case-run]").click()

    row = page.locator("[data-testid=case-row]", has_text="Two open orders")
    expect(row.locator("[data-testid=case-result]")).to_have_text("Failed", timeout=RUN_TIMEOUT)
    expect(row.locator("[data-testid=case-failures]")).to_contain_text(
        "$.rate: expected 2, got 1.5"
    )
    diff = row.locator("[data-testid=case-diff]")
    expect(diff.locator(".tc-diff-del")).to_contain_text(['"rate": 2'])
    expect(diff.locator(".tc-diff-add")).to_contain_text(['"rate": 1.5'])
    assert listener.accepted == 0  # the mocks answered: no connection reached the network

    # Fix the code in the editor, unsaved, by typing: the case runs the editor's code.
    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(
        "export default async (ctx) => ({ count: 2, rate: Math.ceil((await "
        f"fastn.connector.http.request({{ url: 'http://127.0.0.1:{listener.port}/rates/eur' }}"
        ")).body.rate) });",
        delay=5,
    )
    page.keyboard.press("Escape")
    page.wait_for_function("() => window.wfEditor.getValue().includes('Math.ceil')")
    row.locator("[data-testid=case-run]").click()
    row = page.locator("[data-testid=case-row]", has_text="Two open orders")
    expect(row.locator("[data-testid=case-result]")).to_have_text("Passed", timeout=RUN_TIMEOUT)
    expect(row.locator("[data-testid=case-history]")).to_contain_text("Failed")
    assert listener.accepted == 0
    assert TestCase.objects.get().results.count() == 2


def test_save_as_test_case_from_an_execution(live_server, page, cast, celery_worker, listener):
    workflow = make(
        cast,
        orders_code(listener.port).replace(
            "fastn.connector.shopify.getOrders({ status: ctx.input.status })", "[ctx.input.status]"
        ),
    )
    execution = workflow_test_run(
        workflow,
        code=workflow.draft_code,
        input={"status": "open"},
        headers={"x-shop": "eu"},
        actor=Actor.for_user(cast.owner),
    )
    assert execution.status == "completed" and listener.accepted == 1
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    page.click("[data-testid=save-as-test-case]")

    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    expect(page.locator("#tab-cases")).to_have_attribute("aria-selected", "true")
    row = page.locator("[data-testid=case-row]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("open", "")
    expect(row).to_contain_text('"status": "open"')
    expect(row.locator("[data-testid=case-mocks]")).to_contain_text(
        f"GET http://127.0.0.1:{listener.port}/rates/eur"
    )
    row.locator("[data-testid=case-run]").click()
    expect(page.locator("[data-testid=case-result]")).to_have_text("Passed", timeout=RUN_TIMEOUT)
    assert listener.accepted == 1  # the saved response answered: no second call
    case = TestCase.objects.get()
    assert case.headers == {"x-shop": "eu"} and case.expect["output"] == execution.output


def approved_case(workflow, cast, name, expected):
    actor = Actor.for_user(cast.owner)
    case = cases.case_create(
        workflow,
        data={"name": name, "input": {"n": 2}, "expect": {"kind": "equals", "output": expected}},
        actor=actor,
    )
    return cases.case_approve(case, approved=True, user=cast.owner, actor=actor)


def test_publish_asks_before_publishing_code_that_fails_an_approved_case(
    live_server, page, cast, celery_worker
):
    workflow = make(cast, "export default async (ctx) => ({ double: ctx.input.n * 2 });")
    approved_case(workflow, cast, "Doubles two", {"double": 4})
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.evaluate(
        "(t) => window.wfEditor.setValue(t)",
        "export default async (ctx) => ({ double: ctx.input.n * 3 });",
    )

    page.click("[data-action=publish] >> nth=0")
    page.click("[data-testid=confirm-publish]")
    gate = page.locator("[data-testid=gate-dialog]")
    expect(gate).to_be_visible(timeout=RUN_TIMEOUT)
    expect(gate.locator("[data-testid=gate-case]")).to_have_text(["Doubles two"])
    expect(gate).to_contain_text("$.double: expected 4, got 6")
    gate.locator("[data-testid=gate-cancel]").click()
    expect(gate).to_be_hidden()
    expect(page.locator("[data-testid=footer-version]")).to_have_text("Draft · not published")
    assert WorkflowVersion.objects.count() == 0
    workflow.refresh_from_db()
    assert "* 2" in workflow.draft_code  # nothing was saved either

    page.click("[data-action=publish] >> nth=0")
    page.click("[data-testid=confirm-publish]")
    expect(gate).to_be_visible(timeout=RUN_TIMEOUT)
    gate.locator("[data-testid=gate-publish]").click()
    expect(page.locator("[data-testid=footer-version]")).to_have_text("Latest: v1")
    assert WorkflowVersion.objects.get().code.endswith("* 3 });")

    # Results are kept per version: the gate's run is labelled with v1 now.
    page.click("#tab-cases")
    row = page.locator("[data-testid=case-row]", has_text="Doubles two")
    expect(row.locator("[data-testid=case-result]")).to_have_text("Failed")
    row.locator("summary").click()
    expect(row.locator("[data-testid=case-last-result]")).to_contain_text("Failed on draft = v1")
    page.select_option("[data-testid=cases-target]", "1")
    page.click("[data-testid=cases-run-all]")
    row = page.locator("[data-testid=case-row]", has_text="Doubles two")
    expect(row.locator("[data-testid=case-result] + span")).to_have_text("v1", timeout=RUN_TIMEOUT)


def test_assertions_by_json_path_from_the_form(live_server, page, cast, celery_worker):
    workflow = make(cast, "export default async (ctx) => ({ items: [ctx.input.n, 5], ok: true });")
    browser_login(page, live_server, "developer@example.com")
    open_cases(page, live_server, workflow)
    page.click("[data-testid=case-new]")
    page.fill("[data-testid=case-name]", "Shape")
    page.fill("[data-testid=case-input]", '{"n": 3}')
    expect(page.locator("[data-testid=assert-rows]")).to_be_hidden()
    page.check("[data-testid=expect-assertions]")
    expect(page.locator("[data-testid=case-expected]")).to_be_hidden()
    rows = page.locator("[data-testid=assert-row]")
    rows.nth(0).locator("[data-testid=assert-path]").fill("$.items[-1]")
    rows.nth(0).locator("[data-testid=assert-op]").select_option("gt")
    rows.nth(0).locator("[data-testid=assert-value]").fill("4")
    page.click("[data-testid=assert-add]")
    rows.nth(1).locator("[data-testid=assert-path]").fill("$.items")
    rows.nth(1).locator("[data-testid=assert-op]").select_option("contains")
    rows.nth(1).locator("[data-testid=assert-value]").fill("7")
    page.click("[data-testid=case-save]")
    row = page.locator("[data-testid=case-row]", has_text="Shape")
    expect(row.locator("[data-testid=case-assertions]")).to_contain_text("$.items[-1] gt")
    row.locator("[data-testid=case-run]").click()
    row = page.locator("[data-testid=case-row]", has_text="Shape")
    expect(row.locator("[data-testid=case-result]")).to_have_text("Failed", timeout=RUN_TIMEOUT)
    expect(row.locator("[data-testid=case-failures]")).to_have_text(
        "$.items: expected it contains 7, got [3, 5]"
    )


def test_publish_is_unchanged_when_the_approved_cases_pass(live_server, page, cast, celery_worker):
    workflow = make(cast, "export default async (ctx) => ({ double: ctx.input.n * 2 });")
    approved_case(workflow, cast, "Doubles two", {"double": 4})
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.click("[data-action=publish] >> nth=0")
    page.click("[data-testid=confirm-publish]")
    expect(page.locator("[data-testid=footer-version]")).to_have_text(
        "Latest: v1", timeout=RUN_TIMEOUT
    )
    expect(page.locator("[data-testid=gate-dialog]")).to_have_count(0)
    assert WorkflowVersion.objects.count() == 1


def test_a_viewer_reads_cases_but_cannot_change_or_run_them(live_server, page, cast):
    workflow = make(cast, "export default async (ctx) => ctx.input;")
    approved_case(workflow, cast, "Echo", {"n": 2})
    browser_login(page, live_server, "viewer@example.com")
    open_cases(page, live_server, workflow)
    expect(page.locator("[data-testid=cases-header]")).to_have_text("Test Cases — 1, 0 Live")
    row = page.locator("[data-testid=case-row]")
    row.locator("summary").click()
    expect(row.locator("[data-testid=case-approved]")).to_be_visible()
    for control in (
        "case-new",
        "cases-run-all",
        "case-run",
        "case-edit",
        "case-approve",
        "case-feedback",
    ):
        expect(page.locator(f"[data-testid={control}]")).to_have_count(0)
