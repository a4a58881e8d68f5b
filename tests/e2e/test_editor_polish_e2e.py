"""The workflow editor, polished (issue 10): running a workflow that was never saved, tier and
timeout, Discard in place, confirming a deploy to a protected environment, release notes, the
environments of the Workflows table, and an API tab whose curl sample works when pasted.

Tests that execute code use the real runtime through a Celery worker (`celery_worker`)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.workflows.models import DEFAULT_CODE, Workflow
from tests.e2e.helpers import browser_login
from tests.e2e.test_workflows_e2e import (
    editor_value,
    replace_code_by_typing,
    wait_for_monaco,
    workflow_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# --- Item 2: Run works on a new, never-saved workflow ---------------------------------------


def test_a_new_workflow_runs_from_the_test_tab_before_it_is_created(
    live_server, page, cast, celery_worker
):
    from apps.executions.models import Execution

    browser_login(page, live_server, "developer@example.com")
    page.goto(workflow_url(live_server, cast))
    page.click("[data-testid=create-workflow]")
    wait_for_monaco(page)
    tab = page.locator("#wf-tab-test")
    expect(tab.locator("[data-testid=test-banner]")).to_have_text(
        "Hit Run to execute without saving"
    )
    expect(tab).not_to_contain_text("Create the workflow first")

    page.fill("#wf-name", "Greeter draft")
    page.select_option("#wf-tier", "standard")
    page.fill("#wf-timeout", "30")
    code = (
        "export default async (ctx) => { console.log('tier', ctx.tier); "
        "return { hello: ctx.input.name, tier: ctx.tier }; };"
    )
    replace_code_by_typing(page, code)
    page.fill("[data-testid=ctx-input]", '{"name": "Ada"}')
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=run-result]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    expect(result.locator("[data-testid=run-output]")).to_contain_text('"hello": "Ada"')
    expect(result.locator("[data-testid=run-output]")).to_contain_text('"tier": "standard"')
    expect(result.locator("[data-testid=run-logs]")).to_contain_text("tier standard")

    # Nothing was created; the page is still the unsaved new workflow with its edits.
    expect(page).to_have_url(re.compile(r"/workflows/new/$"))
    expect(page.locator("[data-testid=dirty]")).to_be_visible()
    assert editor_value(page) == code
    assert not Workflow.objects.exists()
    execution = Execution.objects.get()
    assert execution.workflow_id is None and execution.workflow_name == "Greeter draft"
    assert (execution.tier, execution.timeout_seconds) == ("standard", 30)
    assert (execution.triggered_by, execution.environment) == ("manual", "DRAFT")
    assert (execution.version_number, execution.draft_code) == (None, code)
    assert execution.input == {"name": "Ada"}

    # A timeout outside the tier's range is refused next to the Run button, and nothing runs.
    page.select_option("#wf-tier", "instant")
    page.fill("#wf-timeout", "600")
    page.click("[data-testid=run]")
    expect(page.locator("[data-testid=run-invalid]")).to_contain_text(
        "Execution Timeout: Instant workflows time out between 1 s and 2 min"
    )
    assert Execution.objects.count() == 1

    # Ctrl+Enter in the editor runs too, with the instant tier now chosen.
    page.fill("#wf-timeout", "60")
    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+Enter")
    expect(result.locator("[data-testid=run-output]")).to_contain_text(
        '"tier": "instant"', timeout=30000
    )
    assert Execution.objects.count() == 2

    page.click("button:has-text('Create Workflow')")
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    workflow = Workflow.objects.get()
    assert workflow.draft_code == code and workflow.draft_code != DEFAULT_CODE
