"""What a new user does first, in a real browser: sign up, log out and in, create a second
Space and switch, invite someone who accepts, create and revoke an API key, read the Audit Log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.spaces.models import ApiKey, Membership, Space
from tests.conftest import make_user
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-unusual-passphrase-42"


def sign_up(page, live_server, email: str, space_name: str) -> None:
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.fill("input[name=space_name]", space_name)
    page.click("button[type=submit]")


def test_sign_up_log_out_log_in_and_switch_spaces(live_server, page):
    sign_up(page, live_server, "ada@example.com", "Analytical Engines")
    expect(page.get_by_role("heading", name="Welcome to Analytical Engines")).to_be_visible()
    assert Space.objects.get(name="Analytical Engines").memberships.get().role == "owner"

    page.click(".user-menu summary")
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    browser_login(page, live_server, "ada@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Welcome to Analytical Engines")).to_be_visible()

    page.click("[data-testid=space-switcher] summary")
    page.click("text=+ New Space")
    page.fill("input[name=name]", "Difference Engines")
    page.click("button:has-text('Create Space')")
    expect(page.get_by_role("heading", name="Welcome to Difference Engines")).to_be_visible()
    page.click("[data-testid=space-switcher] summary")
    page.click(".menu-panel >> text=Analytical Engines")
    expect(page.get_by_role("heading", name="Welcome to Analytical Engines")).to_be_visible()


def test_sign_up_with_a_taken_email_or_weak_password_explains(live_server, page):
    make_user("taken@example.com")
    sign_up(page, live_server, "taken@example.com", "X")
    expect(page.locator("body")).to_contain_text("already registered")
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=email]", "new@example.com")
    page.fill("input[name=password1]", "password")
    page.fill("input[name=password2]", "password")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("too common")
    assert not Space.objects.filter(memberships__user__email="new@example.com").exists()


def test_invite_accept_api_key_and_audit_log(live_server, page, browser, cast):
    slug = cast.space.slug
    browser_login(page, live_server, "owner@example.com")

    # Invite a new person as Operator; the link is shown once.
    page.goto(f"{live_server.url}/s/{slug}/settings/people/")
    page.click("text=Invite User")
    page.fill("input[name=email]", "grace@example.com")
    page.select_option("select[name=role]", "operator")
    page.click("button:has-text('Send invitation')")
    link = page.locator("[data-testid=invite-link]").input_value()
    page.goto(f"{live_server.url}/s/{slug}/settings/people/")
    row = page.locator("[data-testid=people-table] tr", has_text="grace@example.com")
    expect(row).to_contain_text("Invited")

    # The invitee signs up from the link in a separate browser session and accepts.
    invitee = browser.new_context().new_page()
    invitee.goto(link)
    invitee.click("text=Sign up")
    invitee.fill("input[name=email]", "grace@example.com")
    invitee.fill("input[name=password1]", PASSWORD)
    invitee.fill("input[name=password2]", PASSWORD)
    invitee.click("button[type=submit]")
    invitee.goto(link)
    invitee.click("button:has-text('Accept invitation')")
    expect(invitee.get_by_role("heading", name="Welcome to Acme")).to_be_visible()
    assert Membership.objects.get(space=cast.space, user__email="grace@example.com").role == (
        "operator"
    )
    invitee.goto(link)
    invitee.click("button:has-text('Accept invitation')")
    expect(invitee.locator("[data-testid=invitation-problem]")).to_contain_text("already been used")

    # Create a live API key: shown once, then listed masked; revoke it.
    page.goto(f"{live_server.url}/s/{slug}/settings/api-keys/")
    page.fill("input[name=name]", "backend")
    page.check("input[value=live]")
    page.click("button:has-text('Create key')")
    raw = page.locator("#new-key").input_value()
    assert raw.startswith("fsk_live_")
    page.goto(f"{live_server.url}/s/{slug}/settings/api-keys/")
    assert raw not in page.content()
    key_row = page.locator("[data-testid=keys-table] tr", has_text="backend")
    expect(key_row).to_contain_text("…" + raw[-4:])
    page.once("dialog", lambda dialog: dialog.accept())
    key_row.locator("button:has-text('Revoke')").click()
    expect(page.locator("[data-testid=keys-table] tr", has_text="backend")).to_contain_text(
        "Revoked"
    )
    assert ApiKey.objects.get(name="backend").revoked_at is not None

    # All of it is in the Audit Log, newest first, and filterable.
    page.goto(f"{live_server.url}/s/{slug}/settings/audit-log/")
    table = page.locator("[data-testid=audit-table]")
    for action in ("member.invite", "member.join", "apikey.create", "apikey.revoke", "auth.login"):
        expect(table).to_contain_text(action)
    page.fill("input[name=action]", "apikey.")
    page.press("input[name=action]", "Enter")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first).to_contain_text("apikey.revoke")


def test_viewer_sees_403_page_for_api_keys(live_server, page, cast):
    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/api-keys/")
    expect(page.locator("[data-testid=forbidden]")).to_be_visible()


def test_console_shell_works_on_a_narrow_window(live_server, page, cast):
    page.set_viewport_size({"width": 420, "height": 800})
    browser_login(page, live_server, "owner@example.com")
    expect(page.locator(".sidebar")).not_to_be_in_viewport()
    page.click("[data-toggle-nav]")
    expect(page.locator(".sidebar")).to_be_in_viewport()
    page.click(".sidebar >> text=Customers")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
