"""Activity → Executions in a real browser: rows update by themselves, tabs and filters work,
and the detail page shows what ran."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.executions.services import execution_create, execution_dispatch, execution_run_sync
from tests.e2e.helpers import browser_login
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SLOW = "export default async (ctx) => { await new Promise(r => setTimeout(r, 2500)); return 1 }"


def test_running_rows_update_without_reload_and_tabs_filter(live_server, page, cast, celery_worker):
    fast = make_workflow(cast.space, slug="fast")
    execution_run_sync(fast, code=fast.draft_code, input={"a": 1}, headers={})
    failing = make_workflow(cast.space, slug="failing", code="export default () => { throw 1 }")
    execution_run_sync(failing, code=failing.draft_code, input={}, headers={})
    slow = make_workflow(cast.space, slug="slow", tier="standard", timeout=30, code=SLOW)
    running = execution_create(
        slow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(running)

    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/")
    table = page.locator("[data-testid=executions-table]")
    expect(table.locator("tbody tr")).to_have_count(3)
    slow_row = table.locator("tr", has_text="Slow")
    expect(slow_row).to_contain_text("Standard")
    expect(slow_row).to_contain_text("Completed", timeout=15_000)  # no reload: htmx polling
    expect(slow_row).to_contain_text("API")

    page.click("[data-testid=tab-failed]")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Failing")
    expect(page.locator("[data-testid=tab-completed] .count")).to_have_text("2")

    page.click("[data-testid=tab-all]")
    page.select_option("select[name=workflow]", label="Fast")
    expect(table.locator("tbody tr")).to_have_count(1)
    table.locator("tr", has_text="Fast").locator("a").first.click()
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Completed")
    expect(page.locator("[data-testid=exec-input]")).to_contain_text('"a": 1')
    expect(page.locator("[data-testid=exec-output]")).to_contain_text('"ok": true')


def test_detail_updates_live_and_cancel_stops_the_run(live_server, page, cast, celery_worker):
    endless = make_workflow(
        cast.space, slug="endless", tier="standard", timeout=60,
        code="export default async () => { console.log('started'); await null; while (true) {} }",
    )  # fmt: skip
    execution = execution_create(
        endless, version=None, code=None, input={"x": 1}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(execution)
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Running", timeout=10_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Cancel')")
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Cancelled", timeout=10_000)
    execution.refresh_from_db()
    assert execution.status == "cancelled" and execution.attempts == 1


def test_open_in_editor_loads_the_code_and_input_that_ran(live_server, page, cast, celery_worker):
    workflow = make_workflow(cast.space, slug="replayed")
    ran = "export default async (ctx) => ({ replayed: ctx.input.n })"
    execution = execution_run_sync(workflow, code=ran, input={"n": 42}, headers={})
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    page.click("[data-testid=open-in-editor]")
    expect(page.locator("[data-testid=replay-banner]")).to_be_visible()
    expect(page.locator("[data-testid=ctx-input]")).to_have_value('{\n  "n": 42\n}')
    expect(page.locator(".view-lines")).to_contain_text("replayed: ctx.input.n", timeout=15_000)
    page.click("[data-testid=run]")
    expect(page.locator("#wf-test-result")).to_contain_text("42", timeout=15_000)
