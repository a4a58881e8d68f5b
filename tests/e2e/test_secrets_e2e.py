"""Settings → Secrets in a real browser: create, see it listed without its value, rotate,
delete, and find every step in the Audit Log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.secrets.models import Secret
from apps.secrets.services import secret_resolve
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VALUE = "sk_live_Qw3Er5Ty7Ui9"
NEW_VALUE = "sk_live_As2Df4Gh6Jk8"


def test_create_list_rotate_delete_a_secret_and_see_it_in_the_audit_log(live_server, page, cast):
    slug = cast.space.slug
    browser_login(page, live_server, "owner@example.com")
    page.goto(f"{live_server.url}/s/{slug}/settings/secrets/")
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()

    # A JSON secret with a bad value: a field error, and the value is not sent back.
    page.click("text=Create secret")
    page.fill("input[name=name]", "STRIPE_KEY")
    page.check("input[name=type][value=json]")
    page.fill("textarea[name=value]", '{"key": "' + VALUE + '",}')
    page.click("button:has-text('Save secret')")
    expect(page.locator(".field-error")).to_contain_text("Not valid JSON")
    expect(page.locator("textarea[name=value]")).to_have_value("")
    assert VALUE not in page.content()

    # Text this time: saved, listed without its value.
    page.check("input[name=type][value=text]")
    page.fill("textarea[name=value]", VALUE)
    page.click("button:has-text('Save secret')")
    expect(page.locator(".flash")).to_contain_text("Secret STRIPE_KEY saved")
    row = page.locator("[data-testid=secrets-table] tbody tr", has_text="STRIPE_KEY")
    expect(row).to_contain_text("Space")
    expect(row).to_contain_text("Text")
    expect(row).to_contain_text("Never")
    assert VALUE not in page.content()
    assert secret_resolve(cast.space, name="STRIPE_KEY") == ("text", VALUE)

    # Rotate.
    row.locator("text=Rotate").click()
    expect(page.get_by_role("heading", name="Rotate STRIPE_KEY")).to_be_visible()
    page.fill("textarea[name=value]", NEW_VALUE)
    page.click("button:has-text('Save new value')")
    expect(page.locator(".flash")).to_contain_text("Secret STRIPE_KEY rotated")
    assert NEW_VALUE not in page.content() and VALUE not in page.content()
    assert secret_resolve(cast.space, name="STRIPE_KEY") == ("text", NEW_VALUE)

    # Delete, confirming the dialog.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=secrets-table] tbody tr", has_text="STRIPE_KEY").locator(
        "button:has-text('Delete')"
    ).click()
    expect(page.locator(".flash")).to_contain_text("Secret STRIPE_KEY deleted")
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()
    assert not Secret.objects.exists()

    # Every step is in the Audit Log, without the values.
    page.goto(f"{live_server.url}/s/{slug}/settings/audit-log/")
    table = page.locator("[data-testid=audit-table]")
    for action in ("secret.create", "secret.rotate", "secret.delete"):
        expect(table.locator("tr", has_text=action)).to_contain_text("STRIPE_KEY")
    content = page.content()
    assert VALUE not in content and NEW_VALUE not in content


def test_a_developer_sees_the_forbidden_page_for_secrets(live_server, page, cast):
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/secrets/")
    expect(page.locator("[data-testid=forbidden]")).to_be_visible()
