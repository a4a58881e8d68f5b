"""Workflows in a real browser: the table, creating, the Monaco editor (typing, completions,
squiggles, shortcuts), the Test tab, the lifecycle (save, publish, diff, restore), deploying and
rolling back, environments, unsaved changes and two-tab conflicts, roles.

Tests that execute code (Run) use the real runtime through a Celery worker (`celery_worker`)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.environments.models import Environment
from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.workflows import services
from apps.workflows.models import DEFAULT_CODE, Workflow, WorkflowVersion
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# --- Helpers --------------------------------------------------------------------------------


def make(cast, name="Echo", **fields) -> Workflow:
    return services.workflow_create(
        cast.space, name=name, actor=Actor.for_user(cast.owner), **fields
    )


def publish(workflow: Workflow, cast, code: str | None = None) -> WorkflowVersion:
    actor = Actor.for_user(cast.owner)
    if code is not None:
        services.workflow_update(workflow, expected_revision=None, actor=actor, code=code)
    return services.workflow_publish(workflow, actor=actor)


def open_editor(page, live_server, workflow: Workflow) -> None:
    page.goto(f"{live_server.url}/s/{workflow.space.slug}/workflows/{workflow.id}/")
    wait_for_monaco(page)


def wait_for_monaco(page) -> None:
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)


def editor_value(page) -> str:
    return page.evaluate("window.wfEditor.getValue()")


def focus_code(page) -> None:
    page.click("#wf-monaco .view-lines")


def replace_code_by_typing(page, text: str) -> None:
    """Select everything in Monaco and type `text` key by key (one line: Monaco's auto-closing
    brackets are typed over)."""
    focus_code(page)
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text, delay=5)
    page.keyboard.press("Escape")


def set_code(page, text: str) -> None:
    page.evaluate("(text) => window.wfEditor.setValue(text)", text)


def workflow_url(live_server, cast, suffix="") -> str:
    return f"{live_server.url}/s/{cast.space.slug}/workflows/{suffix}"


# --- 1. The Workflows table -----------------------------------------------------------------


def test_table_tabs_search_pagination_and_empty_state(live_server, page, cast):
    browser_login(page, live_server, "owner@example.com")
    page.goto(workflow_url(live_server, cast))
    expect(page.locator("[data-testid=empty-state]")).to_contain_text("No workflows yet")
    expect(page.get_by_role("link", name="Build with AI")).to_be_visible()

    for i in range(27):
        make(cast, f"Instant {i:02}")
    make(cast, "Nightly backfill", slug="backfill", tier="long", description="Loads everything")
    make(cast, "Sync deals", tier="standard")
    page.goto(workflow_url(live_server, cast))
    expect(page.locator("[data-testid=tab-all] .count")).to_have_text("29")
    expect(page.locator("[data-testid=tab-instant] .count")).to_have_text("27")
    expect(page.locator("[data-testid=tab-long] .count")).to_have_text("1")
    expect(page.locator("[data-testid=workflow-row]")).to_have_count(25)
    page.click("text=Next →")
    expect(page.locator("[data-testid=workflow-row]")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"page=2"))

    page.click("[data-testid=tab-long]")
    expect(page.locator("[data-testid=workflow-row]")).to_have_count(1)
    row = page.locator("[data-testid=workflow-row]")
    expect(row).to_contain_text("Nightly backfill")
    expect(row).to_contain_text("backfill")
    expect(row).to_contain_text("Loads everything")
    expect(row.locator("[data-testid=status]")).to_have_text("inactive")
    expect(row.locator("[data-testid=version]")).to_contain_text("draft")
    expect(row.locator("time")).to_have_attribute("title", re.compile(r"\d{4}-\d\d-\d\d"))

    page.click("[data-testid=tab-all]")
    page.fill("#wf-q", "sync")
    expect(page.locator("[data-testid=workflow-row]")).to_have_count(1)
    expect(page.locator("[data-testid=tab-all] .count")).to_have_text("1")
    page.fill("#wf-q", "no-such-thing")
    expect(page.locator("[data-testid=empty-state]")).to_contain_text("No workflows match")


def test_table_status_version_and_delete_with_confirm(live_server, page, cast):
    live_flow = make(cast, "Live flow")
    v1 = publish(live_flow, cast)
    publish(live_flow, cast, code="// v2\n")
    services.workflow_deploy(
        live_flow,
        version=v1,
        environment=environment_by_slug(cast.space, "live"),
        actor=Actor.for_user(cast.owner),
    )
    make(cast, "Doomed")
    browser_login(page, live_server, "developer@example.com")
    page.goto(workflow_url(live_server, cast))
    row = page.locator("[data-testid=workflow-row][data-slug=live-flow]")
    expect(row.locator("[data-testid=status]")).to_have_text("active")
    expect(row.locator("[data-testid=version]")).to_contain_text("v2")
    expect(row.locator("[data-testid=version]")).to_contain_text("live: v1")

    doomed = page.locator("[data-testid=workflow-row][data-slug=doomed]")
    messages = []
    page.once("dialog", lambda d: (messages.append(d.message), d.dismiss()))
    doomed.locator("button:has-text('Delete')").click()
    assert "Delete the workflow “Doomed”" in messages[0]
    assert Workflow.objects.filter(slug="doomed").exists()
    page.once("dialog", lambda d: d.accept())
    doomed.locator("button:has-text('Delete')").click()
    expect(page.locator("[data-testid=workflow-row][data-slug=doomed]")).to_have_count(0)
    expect(page.locator(".flash-success")).to_contain_text("deleted")
    assert not Workflow.objects.filter(slug="doomed").exists()


def test_run_dialog_runs_the_deployed_version_and_shows_the_result(
    live_server, page, cast, celery_worker
):
    workflow = make(
        cast, "Greeter", code="export default async (ctx) => ({ hi: ctx.input.name });\n"
    )
    v1 = publish(workflow, cast)
    publish(workflow, cast, code="export default async () => ({ hi: 'not deployed' });\n")
    services.workflow_deploy(
        workflow,
        version=v1,
        environment=environment_by_slug(cast.space, "live"),
        actor=Actor.for_user(cast.owner),
    )
    browser_login(page, live_server, "operator@example.com")
    page.goto(workflow_url(live_server, cast))
    page.locator("[data-testid=workflow-row]").get_by_role("button", name="Run", exact=True).click()
    dialog = page.locator("#run-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-testid=run-target]")).to_contain_text("v1")
    dialog.locator("textarea[name=input]").fill("{not json")
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(dialog.locator("[data-json-error]")).to_contain_text("Invalid JSON")
    dialog.locator("textarea[name=input]").fill('{"name": "Ada"}')
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(dialog.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    expect(dialog.locator("[data-testid=run-output]")).to_contain_text('"hi": "Ada"')


# --- 2. Create Workflow ---------------------------------------------------------------------


def test_create_workflow_from_the_default_template(live_server, page, cast):
    make(cast, "Taken name")
    browser_login(page, live_server, "developer@example.com")
    page.goto(workflow_url(live_server, cast))
    page.click("[data-testid=create-workflow]")
    wait_for_monaco(page)
    assert editor_value(page) == DEFAULT_CODE
    expect(page.locator("[data-testid=file-name]")).to_have_text("workflow.js")

    page.fill("#wf-name", "Taken name")
    expect(page.locator("#wf-slug")).to_have_value("taken-name")
    page.click("button:has-text('Create Workflow')")
    expect(page.locator("[data-testid=slug-error]")).to_contain_text(
        "already uses the slug “taken-name”"
    )
    assert Workflow.objects.count() == 1

    page.fill("#wf-name", "Sync New Deals")
    expect(page.locator("#wf-slug")).to_have_value("sync-new-deals")
    expect(page.locator("[data-testid=file-name]")).to_have_text("sync-new-deals.js")
    page.fill("#wf-slug", "deals-sync")
    page.fill("#wf-name", "Sync New Deals Daily")
    expect(page.locator("#wf-slug")).to_have_value("deals-sync")  # edited by hand: kept
    page.click("button:has-text('Create Workflow')")
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    wait_for_monaco(page)
    workflow = Workflow.objects.get(slug="deals-sync")
    assert workflow.name == "Sync New Deals Daily" and workflow.draft_code == DEFAULT_CODE
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()


# --- 3. The editor --------------------------------------------------------------------------


def test_typing_in_monaco_autocompletes_ctx_and_fastn_with_docs(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    expect(page.locator("[data-testid=file-name]")).to_have_text("echo.js")
    expect(page.locator(".wf-code-head")).to_contain_text(
        "JavaScript · export default async function(ctx)"
    )
    focus_code(page)
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("ctx.")
    suggest = page.locator(".suggest-widget")
    expect(suggest).to_be_visible()
    expect(suggest).to_contain_text("input")
    expect(suggest).to_contain_text("headers")
    expect(suggest).to_contain_text("execution")
    expect(suggest).to_contain_text("tenant")
    page.keyboard.type("exe")
    page.keyboard.press("Enter")
    page.keyboard.type(".")
    expect(suggest).to_contain_text("attempt")
    page.keyboard.type("attempt;")
    page.keyboard.press("Escape")

    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("fastn.")
    expect(suggest).to_be_visible()
    for member in ("connector", "connectors", "state", "db", "secrets", "envConfig"):
        expect(suggest).to_contain_text(member)
    page.keyboard.type("state.")
    expect(suggest).to_contain_text("get")
    expect(suggest).to_contain_text("delete")
    page.keyboard.type("g")
    expect(suggest.locator(".monaco-list-row.focused")).to_contain_text("get")
    details = page.locator(".suggest-details")
    # The TypeScript worker resolves the focused item's documentation; once it has, the row
    # offers Read More, and Ctrl+Space shows the documentation beside the list.
    expect(suggest.locator(".monaco-list-row.focused .can-expand-details")).to_be_attached()
    page.keyboard.press("Control+Space")
    expect(details).to_contain_text("FastnState.get")
    expect(details).to_contain_text("resolves to null when the key is missing or expired")
    page.keyboard.press("Escape")
    assert "ctx.execution.attempt;" in editor_value(page)
    expect(page.locator("[data-testid=dirty]")).to_be_visible()


def test_syntax_errors_are_squiggled_and_the_footer_counts_bytes(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    footer = page.locator("[data-testid=code-footer]")
    expect(footer).to_contain_text("Draft · not published")
    expect(footer).to_contain_text("Edited manually")
    expect(footer).to_contain_text(f"{len(DEFAULT_CODE)} bytes")
    replace_code_by_typing(page, "export default async (ctx) => { const = ; }")
    expect(page.locator("#wf-monaco .squiggly-error").first).to_be_visible(timeout=10000)
    expect(footer).to_contain_text(f"{len(editor_value(page).encode())} bytes")


def test_configuration_panel_tier_resets_timeout_and_retry_preview(live_server, page, cast):
    workflow = make(cast, retry_enabled=True)  # new workflows start with Retry off
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    expect(page.locator("#wf-timeout-range")).to_have_attribute("max", "120")
    page.fill("#wf-timeout", "2")
    expect(page.locator("#wf-timeout-label")).to_have_text("2 s")
    page.select_option("#wf-tier", "standard")
    # 2 s is below Standard's 5 s – 15 min: the timeout becomes Standard's default.
    expect(page.locator("#wf-timeout")).to_have_value("900")
    expect(page.locator("#wf-timeout-range")).to_have_attribute("max", "900")
    page.select_option("#wf-tier", "long")
    expect(page.locator("#wf-timeout")).to_have_value("21600")  # was Standard's default
    expect(page.locator("#wf-timeout-limits")).to_contain_text("30 s – 6 h")
    page.fill("#wf-timeout", "30")
    page.locator("#wf-timeout-range").focus()
    page.keyboard.press("End")
    expect(page.locator("#wf-timeout")).to_have_value("21600")
    expect(page.locator("#wf-timeout-label")).to_have_text("6 h")

    preview = page.locator("#wf-retry-preview")
    expect(preview).to_contain_text("5s → 10s")
    page.fill("#wf-retry-attempts", "4")
    expect(preview).to_contain_text("5s → 10s → 20s")
    page.fill("#wf-retry-max", "15000")
    expect(preview).to_contain_text("5s → 10s → 15s")
    page.click("label:has(#wf-retry)")
    expect(page.locator("#wf-retry-fields")).to_be_hidden()
    page.click("label:has(#wf-enabled)")
    expect(page.locator("label:has(#wf-enabled) .wf-switch-text")).to_have_text("Disabled")

    page.keyboard.press("Control+s")
    expect(page.locator(".wf-toast")).to_contain_text("Draft saved.")
    workflow.refresh_from_db()
    assert (workflow.tier, workflow.timeout_seconds) == ("long", 21600)
    assert (workflow.retry_enabled, workflow.enabled) == (False, False)
    assert (workflow.retry_max_attempts, workflow.retry_max_interval_ms) == (4, 15000)


def test_bad_input_shows_errors_next_to_fields_and_saves_nothing(live_server, page, cast):
    workflow = make(cast, retry_enabled=True)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    page.fill("#wf-name", "")
    page.fill("#wf-retry-initial", "9000")
    page.fill("#wf-retry-max", "1000")
    page.click("button:has-text('Save Workflow')")
    expect(page.locator("[data-testid=form-errors]")).to_contain_text("Nothing was saved")
    expect(page.locator(".field:has(#wf-name) .field-error")).to_have_text(
        "Give the workflow a name."
    )
    expect(page.locator(".field:has(#wf-retry-max) .field-error")).to_contain_text(
        "cannot be shorter"
    )
    expect(page.locator("[data-testid=dirty]")).to_be_visible()
    workflow.refresh_from_db()
    assert workflow.name == "Echo" and workflow.draft_revision == 1


def test_code_over_one_megabyte_is_refused_before_sending(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    set_code(page, "//" + "x" * (1024 * 1024))
    page.keyboard.press("Control+s")
    expect(page.locator("[data-testid=code-error]")).to_contain_text("1 MB")
    workflow.refresh_from_db()
    assert workflow.draft_code == DEFAULT_CODE


def test_viewer_sees_the_editor_read_only(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "viewer@example.com")
    open_editor(page, live_server, workflow)
    expect(page.locator("[data-testid=read-only]")).to_be_visible()
    expect(page.locator("button:has-text('Save Workflow')")).to_have_count(0)
    expect(page.locator("[data-action=publish]")).to_have_count(0)
    expect(page.locator("#wf-name")).to_be_disabled()
    focus_code(page)
    page.keyboard.type("// vandalism")
    assert editor_value(page) == DEFAULT_CODE
    expect(page.locator("[data-testid=run]")).to_have_count(0)


# --- 4. The Test tab ------------------------------------------------------------------------


def test_run_unsaved_code_typed_in_monaco(live_server, page, cast, celery_worker):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    expect(page.locator("[data-testid=test-banner]")).to_have_text(
        "Hit Run to execute without saving"
    )
    code = "export default async (ctx) => ({ hello: ctx.input.name, id: ctx.headers['x-id'] });"
    replace_code_by_typing(page, code)
    assert editor_value(page) == code

    page.fill("[data-testid=ctx-input]", '{"name": ')
    page.click("[data-testid=run]")
    expect(page.locator("#wf-tab-test [data-json-error]").first).to_contain_text("Invalid JSON")
    expect(page.locator("[data-testid=run-result]")).to_have_count(0)

    page.fill("[data-testid=ctx-input]", '{"name": "Ada"}')
    page.fill("[data-testid=ctx-headers]", '{"x-id": "42"}')
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=run-result]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    expect(result.locator("[data-testid=run-output]")).to_contain_text('"hello": "Ada"')
    expect(result.locator("[data-testid=run-output]")).to_contain_text('"id": "42"')
    expect(result.locator("[data-testid=run-duration]")).to_have_text(re.compile(r"\d"))
    workflow.refresh_from_db()
    assert workflow.draft_code == DEFAULT_CODE  # ran without saving

    from apps.executions.models import Execution

    execution = Execution.objects.get()
    assert (execution.triggered_by, execution.version_number) == ("manual", None)


def test_run_shows_logs_steps_and_moves_the_cursor_to_the_failing_line(
    live_server, page, cast, celery_worker
):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    set_code(
        page,
        "export default async function (ctx) {\n"
        "  console.log('checking', ctx.input.n);\n"
        "  await fastn.state.set('last', ctx.input.n);\n"
        "  if (ctx.input.n > 1) {\n"
        "    throw new Error('n is too big');\n"
        "  }\n"
        "  return { ok: true };\n"
        "}\n",
    )
    page.fill("[data-testid=ctx-input]", '{"n": 1}')
    focus_code(page)
    page.keyboard.press("Control+Enter")
    result = page.locator("[data-testid=run-result]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    expect(result.locator("[data-testid=run-logs]")).to_contain_text("checking 1")
    expect(result.locator("[data-testid=run-steps]")).to_contain_text("state")

    page.fill("[data-testid=ctx-input]", '{"n": 5}')
    page.click("[data-testid=run]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Failed", timeout=30000)
    expect(page.locator("[data-testid=run-error]")).to_contain_text("n is too big")
    page.wait_for_function("() => window.wfEditor.getPosition().lineNumber === 5")


# --- 5. Lifecycle ---------------------------------------------------------------------------


def test_save_publish_twice_diff_view_and_restore(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)

    page.click("[data-action=publish] >> nth=0")
    page.click("[data-testid=confirm-publish]")
    expect(page.locator(".wf-toast")).to_contain_text("Published v1.")
    expect(page.locator("[data-testid=footer-version]")).to_have_text("Latest: v1")
    expect(page.locator("#wf-slug")).to_have_attribute("readonly", "")

    page.click("[data-action=publish] >> nth=0")
    page.click("[data-testid=confirm-publish]")
    expect(page.locator("[data-testid=publish-error]")).to_contain_text("Nothing changed since v1")
    assert WorkflowVersion.objects.count() == 1

    replace_code_by_typing(page, "export default async (ctx) => ({ version: 2 });")
    page.click("button:has-text('Save Workflow')")
    expect(page.locator(".wf-toast").last).to_contain_text("Draft saved.")
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()
    assert WorkflowVersion.objects.count() == 1
    page.click("button:has-text('Publish snapshot')")
    page.click("[data-testid=confirm-publish]")
    expect(page.locator("[data-testid=footer-version]")).to_have_text("Latest: v2")
    expect(page.locator("[data-testid=versions] li")).to_have_count(2)
    expect(page.locator("[data-testid=versions] li").first).to_contain_text("developer@example.com")

    page.click("[data-version='1'] >> text=Diff")
    diff = page.locator("#wf-diff-dialog")
    expect(diff).to_be_visible()
    expect(diff.locator(".monaco-diff-editor")).to_be_visible()
    expect(diff.locator(".editor.modified")).to_contain_text("version: 2")
    expect(diff.locator(".editor.original")).to_contain_text("Hello from workflow!")
    expect(diff.locator(".editor.modified .line-insert").first).to_be_attached()
    page.select_option("[data-testid=diff-right]", "2")
    expect(diff.locator("h2")).to_have_text("Compare v1 with v2")
    diff.locator("[data-close-dialog]").click()

    page.click("[data-version='1'] >> text=View")
    viewer = page.locator("#wf-version-dialog")
    expect(viewer).to_contain_text("v1 · read-only")
    expect(viewer.locator("[data-testid=version-code]")).to_contain_text("Hello from workflow!")
    expect(viewer.locator("[data-testid=version-config]")).to_contain_text('"tier": "instant"')
    viewer.locator("[data-testid=version-code] .view-lines").click()
    page.keyboard.type("// no")
    expect(viewer.locator("[data-testid=version-code]")).not_to_contain_text("// no")
    viewer.locator("[data-close-dialog]").click()

    page.once("dialog", lambda d: d.accept())
    # The restore answers with a redirect that htmx follows: wait for that page, not the old one.
    with page.expect_navigation():
        page.click("[data-version='1'] >> text=Restore to draft")
    wait_for_monaco(page)
    page.wait_for_function("() => window.wfEditor.getValue().includes('Hello from workflow!')")
    expect(page.locator(".flash-success")).to_contain_text("v1 restored to the draft")
    workflow.refresh_from_db()
    assert workflow.draft_code == DEFAULT_CODE and workflow.versions.count() == 2


def test_discard_asks_then_reverts_unsaved_changes_in_place(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    focus_code(page)
    page.keyboard.type("// unsaved ")
    page.once("dialog", lambda d: d.dismiss())
    page.click("button:has-text('Discard')")
    assert "// unsaved " in editor_value(page)  # dismissed: nothing changed
    page.once("dialog", lambda d: d.accept())
    page.click("button:has-text('Discard')")
    page.wait_for_function(f"() => window.wfEditor.getValue() === {DEFAULT_CODE!r}")
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    workflow.refresh_from_db()
    assert workflow.draft_code == DEFAULT_CODE


# --- 6. Environments, deploy and roll back --------------------------------------------------


def test_environments_deploy_and_roll_back(live_server, page, cast):
    workflow = make(cast)
    publish(workflow, cast)
    publish(workflow, cast, code="// v2\n")
    browser_login(page, live_server, "owner@example.com")

    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/environments/")
    table = page.locator("[data-testid=environments-table]")
    expect(table.locator("tr[data-env=test]")).to_contain_text("latest published")
    expect(table.locator("tr[data-env=live]")).to_contain_text("Protected")
    page.fill("input[name=name]", "Staging")
    page.click("button:has-text('Create environment')")
    expect(table.locator("tr[data-env=staging]")).to_contain_text("Nothing deployed")

    open_editor(page, live_server, workflow)
    deployments = page.locator("[data-testid=deployments]")
    expect(deployments.locator("[data-testid=env-version-test]")).to_have_text("v2")
    expect(deployments.locator("[data-testid=env-version-live]")).to_have_text("—")
    page.fill("#wf-description", "typed but not saved")
    page.select_option("[data-testid=deploy-version]", "2")
    page.select_option("[data-testid=deploy-environment]", label="live")
    page.click("button:has-text('Deploy to environment')")
    page.click("[data-testid=confirm-deploy]")  # live is protected: asked first
    expect(deployments.locator("[data-testid=env-version-live]")).to_have_text("v2")
    expect(page.locator("#wf-description")).to_have_value("typed but not saved")
    expect(page.locator(".wf-toast").last).to_contain_text("v2 now serves live")
    page.select_option("[data-testid=deploy-version]", "1")
    page.select_option("[data-testid=deploy-environment]", label="live")
    page.click("button:has-text('Deploy to environment')")
    page.click("[data-testid=confirm-deploy]")
    expect(deployments.locator("[data-testid=env-version-live]")).to_have_text("v1")
    page.select_option("[data-testid=deploy-version]", "2")
    page.select_option("[data-testid=deploy-environment]", label="staging")
    page.click("button:has-text('Deploy to environment')")
    expect(deployments.locator("[data-testid=env-version-staging]")).to_have_text("v2")

    page.once("dialog", lambda d: d.accept())  # leave despite the unsaved description
    page.goto(workflow_url(live_server, cast))
    row = page.locator("[data-testid=workflow-row]")
    expect(row.locator("[data-testid=status]")).to_have_text("active")
    expect(row.locator("[data-testid=version]")).to_contain_text("live: v1")

    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/environments/")
    page.once("dialog", lambda d: d.accept())
    table.locator("tr[data-env=staging] button:has-text('Delete')").click()
    expect(page.locator(".flash-error")).to_contain_text("deployed to staging")
    assert Environment.objects.filter(slug="staging").exists()


def test_operator_cannot_deploy_to_live(live_server, page, cast):
    workflow = make(cast)
    publish(workflow, cast)
    browser_login(page, live_server, "operator@example.com")
    open_editor(page, live_server, workflow)
    expect(page.locator("button:has-text('Deploy to environment')")).to_have_count(0)
    expect(page.locator("[data-testid=deployments]")).to_contain_text(
        "follows the latest published"
    )
    expect(page.locator("text=Your role can't deploy to live")).to_be_visible()


# --- 7. Unsaved changes and two tabs --------------------------------------------------------


def test_leaving_with_unsaved_changes_asks_first(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    focus_code(page)
    page.keyboard.type("// not yet saved ")
    expect(page.locator("[data-testid=dirty]")).to_be_visible()
    asked = []
    page.once("dialog", lambda d: (asked.append(d.type), d.dismiss()))  # "Stay on page"
    with page.expect_event("dialog"):
        page.click(".wf-crumbs >> text=Workflows")
    assert asked == ["beforeunload"]
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))

    page.keyboard.press("Control+s")
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()
    page.click(".wf-crumbs >> text=Workflows")
    expect(page).to_have_url(re.compile(r"/workflows/$"))


def test_second_tab_does_not_silently_overwrite_the_first(live_server, page, browser, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    other = page.context.new_page()
    open_editor(other, live_server, workflow)

    replace_code_by_typing(page, "// saved by tab one")
    page.keyboard.press("Control+s")
    expect(page.locator(".wf-toast")).to_contain_text("Draft saved.")

    replace_code_by_typing(other, "// saved by tab two")
    other.keyboard.press("Control+s")
    conflict = other.locator("[data-testid=conflict]")
    expect(conflict).to_contain_text("changed since you opened it")
    workflow.refresh_from_db()
    assert workflow.draft_code == "// saved by tab one"
    assert editor_value(other) == "// saved by tab two"  # the second tab keeps its edits

    conflict.locator("button:has-text('Overwrite with my version')").click()
    expect(other.locator(".wf-toast").last).to_contain_text("Draft saved.")
    workflow.refresh_from_db()
    assert workflow.draft_code == "// saved by tab two"


def test_right_hand_tabs_are_honest_about_what_exists(live_server, page, cast, celery_worker):
    workflow = make(cast, "Tabs")
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    page.click("#tab-docs")
    expect(page.locator("[data-testid=insight-canvas] svg")).to_be_visible()  # the Flow
    expect(page.locator("#wf-tab-docs")).to_contain_text("fastn.state.get / set / delete")
    expect(page.locator("#wf-tab-test")).to_be_hidden()
    page.click("#tab-cases")
    expect(page.locator("[data-testid=cases-header]")).to_have_text("Test Cases — 0, 0 Live")
    page.click("#tab-api")
    expect(page.locator("[data-testid=api-snippet]")).to_contain_text("/api/v1/tabs")
    expect(page.locator("[data-testid=api-snippet]")).to_contain_text(str(cast.space.id))
    page.click("#tab-executions")
    expect(page.locator("#wf-tab-executions")).to_contain_text("No runs yet")

    page.click("#tab-test")
    page.click("[data-testid=run]")
    expect(page.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    page.click("#tab-executions")
    table = page.locator("[data-testid=workflow-executions]")
    expect(table).to_contain_text("Completed")
    expect(table).to_contain_text("draft")
    expect(table).to_contain_text("Manual")
