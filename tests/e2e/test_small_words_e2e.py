"""Small words, in a real browser: "just now" instead of "0 minutes ago"; signing up from an
invitation asks for no Space name and says where the confirmation email really went."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.spaces.audit import Actor
from apps.spaces.models import Membership
from apps.spaces.services import invitation_create
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-unusual-passphrase-42"


def test_fresh_rows_say_just_now(live_server, page, cast):
    browser_login(page, live_server, "owner@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/api-keys/")
    page.fill("input[name=name]", "backend")
    page.click("button:has-text('Create key')")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/api-keys/")
    row = page.locator("[data-testid=keys-table] tr", has_text="backend")
    expect(row).to_contain_text("just now")
    expect(page.locator("body")).not_to_contain_text("0 minutes ago")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/people/")
    expect(page.locator("[data-testid=people-table]")).not_to_contain_text("0\u00a0minutes")


def test_invitee_signs_up_without_naming_a_space_and_learns_where_the_email_went(
    live_server, page, cast, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    _invitation, token = invitation_create(
        cast.space,
        email="grace@example.com",
        role="operator",
        invited_by=cast.owner,
        actor=Actor.for_user(cast.owner),
    )
    page.goto(f"{live_server.url}/invitations/{token}/")
    page.click("text=Sign up")
    expect(page.locator("[data-testid=signup-invitation]")).to_contain_text(
        "You are joining Acme as Operator"
    )
    expect(page.locator("input[name=space_name]")).to_have_count(0)
    expect(page.locator("input[name=email]")).to_have_value("grace@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")

    expect(page.get_by_role("heading", name="Join Acme")).to_be_visible()
    notes = page.locator(".flash-stack")
    expect(notes).to_contain_text("no email was sent to grace@example.com")
    expect(notes).to_contain_text("written to the console log (standard output) of the web process")
    expect(notes).not_to_contain_text("Confirmation email sent")

    page.click("button:has-text('Accept invitation')")
    expect(page.get_by_role("heading", name="Welcome to Acme")).to_be_visible()
    spaces = Membership.objects.filter(user__email="grace@example.com")
    assert [(m.space_id, m.role) for m in spaces] == [(cast.space.id, "operator")]
