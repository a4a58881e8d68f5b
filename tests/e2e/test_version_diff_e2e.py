"""The Compare dialog shows the configuration beside the code: setting by setting, old → new,
changed rows marked — for two versions and for a version against unsaved edits."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.spaces.audit import Actor
from apps.workflows import services
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_compare_shows_config_changes_beside_the_code(live_server, page, cast):
    actor = Actor.for_user(cast.owner)
    workflow = services.workflow_create(cast.space, name="Echo", actor=actor)
    services.workflow_publish(workflow, actor=actor)
    fields = services.fields_of(workflow)
    fields.update(timeout_seconds=120, description="Now with docs", retry_enabled=True,
                  code="export default async () => ({ version: 2 });\n")  # fmt: skip
    services.workflow_update(workflow, expected_revision=None, actor=actor, **fields)
    services.workflow_publish(workflow, actor=actor)

    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.click("[data-version='1'] >> text=Diff")
    dialog = page.locator("#wf-diff-dialog")
    expect(dialog.locator(".editor.modified")).to_contain_text("version: 2")
    config = dialog.locator("[data-testid=diff-config]")
    expect(config.locator("[data-testid=diff-config-summary]")).to_have_text(
        "3 of 10 settings changed · v1 → Draft"
    )
    timeout = config.locator("tr[data-field=timeout_seconds]")
    expect(timeout).to_have_class("is-changed")
    expect(timeout.locator(".wf-cfg-old")).to_have_text("1 min")
    expect(timeout.locator(".wf-cfg-new")).to_have_text("→ 2 min")
    expect(config.locator("tr[data-field=retry_enabled]")).to_contain_text("changed")
    expect(config.locator("tr[data-field=tier]")).to_have_attribute("data-changed", "false")
    expect(config.locator("tr[data-field=tier]")).to_contain_text("Instant")
    expect(config.locator("tr.is-changed")).to_have_count(3)

    page.select_option("[data-testid=diff-right]", "2")
    expect(config.locator("[data-testid=diff-config-summary]")).to_contain_text("v1 → v2")
    expect(config.locator("tr.is-changed")).to_have_count(3)
    dialog.locator("[data-close-dialog]").click()

    # Unsaved edits in the Configuration panel count, as unsaved code does.
    page.fill("#wf-name", "Echo renamed")
    page.select_option("#wf-tier", "standard")
    page.click("[data-version='2'] >> text=Diff")
    expect(config.locator("[data-testid=diff-config-summary]")).to_contain_text("v2 → Draft")
    name = config.locator("tr[data-field=name]")
    expect(name).to_have_attribute("data-changed", "true")
    expect(name.locator(".wf-cfg-new")).to_have_text("→ Echo renamed")
    expect(config.locator("tr[data-field=tier] .wf-cfg-new")).to_have_text("→ Standard")
    expect(config.locator("tr[data-field=description]")).to_have_attribute("data-changed", "false")
    page.screenshot(path="/tmp/diff_dialog.png")
