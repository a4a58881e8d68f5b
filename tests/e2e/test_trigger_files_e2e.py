"""Triggers as files with the console: what a person builds in the Triggers form exports to a
file; the file, edited and imported, is what the console then shows; and saving the form
without a change leaves a file that imports as "unchanged"."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from apps.secrets.crypto import new_master_key_entry
from apps.triggers.models import Trigger
from tests.e2e.helpers import browser_login
from tests.triggers.ui_helpers import make_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def master_key(settings):
    settings.FASTN_MASTER_KEY = new_master_key_entry("trigger-files-e2e")


def trigger_command(*args) -> str:
    out = StringIO()
    call_command("trigger", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_build_in_the_console_export_edit_import_and_see_it_in_the_console(
    live_server, page, cast, tmp_path
):
    make_workflow(cast.space, "Fulfil order", "fulfil-order")
    make_workflow(cast.space, "Notify", "notify")
    make_workflow(cast.space, "Report", "report")
    browser_login(page, live_server, "owner@example.com")
    triggers_url = f"{live_server.url}/s/{cast.space.slug}/triggers/"

    # 1. A person builds a webhook in the form.
    page.goto(f"{triggers_url}new/webhook/")
    page.fill("input[name=name]", "Shop orders")
    route = page.get_by_test_id("route").first
    route.locator("select[name$=-workflow]").select_option(label="Fulfil order")
    route.get_by_role("button", name="Add header").click()
    route.locator("input[name$=-header-name]").fill("x-source")
    route.locator("input[name$=-header-value]").fill("shop")
    route.get_by_role("button", name="Add filter").click()
    route.locator("input[name$=-filter-path]").fill("type")
    route.locator("input[name$=-filter-value]").fill("order.created")
    page.get_by_test_id("save-trigger").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Shop orders created")
    trigger = Trigger.objects.get()

    # 2. Exported: the form's values, the workflow by slug.
    trigger_command("export", "--space", cast.space.slug, "--out", str(tmp_path))
    path = tmp_path / f"{trigger.id}.json"
    document = json.loads(path.read_text())
    assert document["format"] == "fastn.trigger/1" and document["name"] == "Shop orders"
    assert document["routes"] == [
        {
            "workflow": "fulfil-order",
            "environment": "live",
            "headers": {"x-source": "shop"},
            "filters": [{"path": "type", "operator": "eq", "value": "order.created"}],
        }
    ]

    # 3. Edited in git: renamed, a filter value changed, a second route; and a new scheduler.
    document["name"] = "Shop orders (from git)"
    document["routes"][0]["filters"][0]["value"] = "order.paid"
    document["routes"].append({"workflow": "notify", "environment": "test"})
    path.write_text(json.dumps(document, indent=2))
    (tmp_path / "report.json").write_text(json.dumps({
        "format": "fastn.trigger/1", "kind": "scheduler", "name": "Morning report",
        "schedule": {"preset": "daily", "time": "07:30", "timezone": "Europe/Berlin"},
        "routes": [{"workflow": "report", "payload": {"report": "daily"}}],
    }))  # fmt: skip
    output = trigger_command("import", str(tmp_path), "--space", cast.space.slug)
    assert "1 created, 1 updated" in output
    # As the command suggests, the new trigger's id goes into its file.
    created = re.search(r"report\.json as ([0-9a-f-]{36})", output)[1]
    scheduler = json.loads((tmp_path / "report.json").read_text())
    (tmp_path / "report.json").write_text(json.dumps(scheduler | {"id": created}))

    # 4. The console shows what the files say.
    page.goto(triggers_url)
    row = page.locator("[data-testid=trigger-row]", has_text="Shop orders (from git)")
    expect(row.get_by_test_id("routes")).to_have_text("2")
    page.get_by_test_id("tab-scheduler").click()
    report = page.locator("[data-testid=trigger-row]", has_text="Morning report")
    expect(report.get_by_test_id("schedule-words")).to_contain_text("07:30")
    expect(report).to_contain_text("Europe/Berlin")
    expect(report.get_by_test_id("next-run")).not_to_have_text("—")

    page.goto(f"{triggers_url}{trigger.id}/edit/")
    routes = page.get_by_test_id("route")
    expect(routes).to_have_count(2)
    expect(page.locator("input[name=name]")).to_have_value("Shop orders (from git)")
    expect(routes.nth(0).locator("input[name$=-filter-value]")).to_have_value("order.paid")
    expect(routes.nth(0).locator("input[name$=-header-value]")).to_have_value("shop")
    expect(routes.nth(1).locator("select[name$=-environment]")).to_have_value("test")

    # 5. Saved in the console without a change: the files still match.
    page.get_by_test_id("save-trigger").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Shop orders (from git) saved")
    output = trigger_command("import", str(tmp_path), "--space", cast.space.slug)
    assert "Nothing to change" in output, output
