"""Home in a real browser: a first-run guide for an empty Space; once there is something,
recent workflows, the latest runs and today's failures, whose cards and rows are links; only
this Space's data; nothing offered that the member's role cannot do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.executions.models import Execution, Status
from tests.e2e.helpers import browser_login
from tests.executions.factories import make_workflow

HUBSPOT_401 = "Error: HubSpot said 401"
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_run(workflow, status, *, minutes_ago=5, error=None):
    return Execution.objects.create(
        space=workflow.space, workflow=workflow, workflow_name=workflow.name,
        tier=workflow.tier, timeout_seconds=workflow.timeout_seconds, triggered_by="api",
        status=status, error=error, duration_ms=42.0,
        queued_at=timezone.now() - timedelta(minutes=minutes_ago),
    )  # fmt: skip


def test_an_empty_space_guides_the_first_workflow(live_server, page, cast):
    browser_login(page, live_server, "developer@example.com")
    expect(page.get_by_role("heading", name="Create your first workflow")).to_be_visible()
    expect(page.locator("[data-testid=home-stats]")).to_have_count(0)
    page.locator("[data-testid=home-create]").click()
    expect(page).to_have_url(re.compile(r"/workflows/new/$"))


def test_home_shows_what_happened_and_every_card_leads_somewhere(live_server, page, cast):
    echo = make_workflow(cast.space, slug="echo", name="Echo")
    sync = make_workflow(cast.space, slug="sync-deals", name="Sync deals")
    make_run(echo, Status.COMPLETED, minutes_ago=30)
    failed = make_run(sync, Status.FAILED, minutes_ago=3,
                      error={"code": "RUNTIME_ERROR", "message": HUBSPOT_401})  # fmt: skip
    theirs = make_workflow(cast.other_space, slug="globex", name="Globex payroll")
    make_run(theirs, Status.FAILED, error={"code": "RUNTIME_ERROR", "message": "globex boom"})

    browser_login(page, live_server, "owner@example.com")
    expect(page.get_by_role("heading", name="Create your first workflow")).to_have_count(0)
    expect(page.locator("[data-testid=stat-workflows] .home-stat-value")).to_have_text("2")
    expect(page.locator("[data-testid=stat-runs] .home-stat-value")).to_have_text("2")
    expect(page.locator("[data-testid=stat-failed] .home-stat-value")).to_have_text("1")
    recent = page.locator("[data-testid=home-workflows]")
    expect(recent).to_contain_text("Sync deals")
    expect(recent).to_contain_text("Echo")
    runs = page.locator("[data-testid=home-executions]")
    expect(runs.locator("a[data-status=failed]")).to_contain_text("Sync deals")
    expect(runs.locator("a[data-status=completed]")).to_contain_text("Echo")
    failures = page.locator("[data-testid=home-failures]")
    expect(failures).to_contain_text(HUBSPOT_401)
    expect(failures).to_contain_text(re.compile(r"3\s+minutes ago"))
    body = page.locator("main")
    expect(body).not_to_contain_text("Globex payroll")
    expect(body).not_to_contain_text("globex boom")
    page.screenshot(path="/tmp/home.png", full_page=True)

    failures.locator("a.home-row").first.click()
    expect(page).to_have_url(re.compile(rf"/activity/executions/{failed.id}/$"))
    page.go_back()
    page.locator("[data-testid=stat-failed]").click()
    expect(page).to_have_url(re.compile(r"/activity/executions/\?tab=failed&range=24h$"))
    expect(page.locator("[data-testid=tab-failed]")).to_have_class(re.compile("active"))
    expect(page.locator("[data-testid=executions-table]")).to_contain_text("Sync deals")
    page.go_back()
    recent.get_by_text("Sync deals").click()
    expect(page).to_have_url(re.compile(rf"/workflows/{sync.id}/$"))


def test_a_viewer_is_offered_no_create_or_admin_actions(live_server, page, cast):
    make_run(make_workflow(cast.space, slug="echo", name="Echo"), Status.COMPLETED)
    browser_login(page, live_server, "viewer@example.com")
    expect(page.locator("[data-testid=home-executions]")).to_contain_text("Echo")
    expect(page.locator("[data-testid=home-create]")).to_have_count(0)
    links = page.locator("[data-testid=home-links]")
    expect(links).to_contain_text("Executions")
    expect(links).not_to_contain_text("New workflow")
    expect(links).not_to_contain_text("API keys")
    expect(page.locator("main a[href$='/workflows/new/']")).to_have_count(0)
