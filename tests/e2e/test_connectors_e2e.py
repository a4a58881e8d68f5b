"""Integrations → Connectors in a real browser, as a person uses it: browse the cards, search
and filter them, open a connector's page and read its actions; create a custom connector and
add an action with parameters; import an OpenAPI document by pasting it (a bad one first),
read the report and publish to live; paste a document too long for a form field; and a
Viewer who sees everything but no control that changes a connector."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.connectors.models import Connector
from apps.connectors.services.connectors import connector_publish
from tests.connectors.console_helpers import (  # noqa: F401 (builtins is a fixture)
    SPECS,
    SYSTEM,
    builtins,
    make_connector,
)
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_connectors(page, live_server, cast, email="owner@example.com"):
    browser_login(page, live_server, email)
    page.goto(f"{live_server.url}/s/{cast.space.slug}/")
    page.locator("nav a.nav-link", has_text="Connectors").click()
    expect(page.get_by_role("heading", name="Connectors", exact=True)).to_be_visible()


def card(page, name):
    return page.locator("[data-testid=connector-card]", has_text=name)


@pytest.mark.usefixtures("builtins")
def test_browse_search_and_filter_the_cards_then_read_a_connectors_page(live_server, page, cast):
    make_connector(cast.space)
    open_connectors(page, live_server, cast)
    cards = page.get_by_test_id("connector-card")
    expect(cards).to_have_count(3)
    expect(card(page, "Paydemo").get_by_test_id("badge")).to_have_text("MANAGED")
    expect(card(page, "Acme CRM").get_by_test_id("badge")).to_have_text("PERSONAL")
    expect(card(page, "Acme CRM").get_by_test_id("connect")).to_have_text("Connect")
    expect(card(page, "Acme CRM").get_by_test_id("connect")).to_have_attribute(
        "href", f"/s/{cast.space.slug}/connections/new/?connector=crm"
    )

    # Search as you type: the description matches too.
    page.get_by_test_id("connector-search").fill("refunds")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Paydemo")
    page.get_by_test_id("connector-search").fill("")
    expect(cards).to_have_count(3)
    page.get_by_test_id("category-filter").select_option("CRM")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Acme CRM")
    # Straight to a tab after clearing the category: the tab asks with what the filters say
    # now, whatever answer is still on its way.
    page.get_by_test_id("category-filter").select_option("")
    page.get_by_test_id("tab-managed").click()
    expect(cards).to_have_count(2)
    expect(page).to_have_url(re.compile(r"kind=managed"))
    expect(page.get_by_test_id("tab-managed")).to_have_class("tab active")
    page.get_by_test_id("connector-search").fill("no such thing")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No connectors match")
    page.get_by_test_id("connector-search").fill("pay")

    card(page, "Paydemo").get_by_test_id("connector-link").click()
    expect(page.get_by_role("heading", name="Paydemo")).to_be_visible()
    expect(page.get_by_test_id("base-url")).to_have_text("https://api.paydemo.example.test")
    refund = page.locator("[data-testid=action][data-name=refundCharge]")
    expect(refund.get_by_test_id("method")).to_have_text("POST")
    expect(refund.get_by_test_id("kind")).to_have_text("Write")
    expect(refund.get_by_test_id("parameters")).to_be_hidden()
    refund.locator("summary").first.click()
    charge = refund.locator("[data-testid=parameter][data-name=charge]")
    expect(charge).to_contain_text("path")
    expect(charge).to_contain_text("string")
    expect(charge).to_contain_text("required")
    events = page.get_by_test_id("events")
    expect(events).to_contain_text("charge.refunded")
    events.get_by_text("Payload schema").click()
    expect(events.locator(".json-tree")).to_contain_text("id")
    default = page.locator("[data-testid=auth-method][data-type=API_KEY]")
    expect(default.get_by_test_id("default-auth")).to_be_visible()
    expect(default).to_contain_text("X-Pay-Key")
    expect(page.get_by_test_id("no-connections")).to_be_visible()


def test_create_a_custom_connector_add_an_action_and_see_it_listed(live_server, page, cast):
    open_connectors(page, live_server, cast, "developer@example.com")
    page.get_by_test_id("create-connector").click()
    expect(page.get_by_role("heading", name="New connector")).to_be_visible()

    page.fill("input[name=name]", "Acme Billing")
    expect(page.locator("input[name=slug]")).to_have_value("acme-billing")
    page.fill("textarea[name=description]", "Invoices and payments of Acme.")
    page.fill("input[name=category]", "Finance")
    page.fill("input[name=base_url]", "https://billing.acme.test/v2")
    # API Key is preselected; its options are shown, OAuth's are not until it is checked.
    expect(page.locator("[data-auth-options=API_KEY]")).to_be_visible()
    expect(page.locator("[data-auth-options=OAUTH_2]")).to_be_hidden()
    page.check("input[name=auth_types][value=OAUTH_2]")
    expect(page.locator("[data-auth-options=OAUTH_2]")).to_be_visible()
    page.fill("input[name=oauth_authorization_url]", "https://billing.acme.test/oauth/authorize")
    page.click("[data-testid=save-connector]")
    # The token URL is missing: the field says so, what was typed stays.
    expect(page.locator(".field-error")).to_contain_text("Required for OAuth 2.0.")
    expect(page.locator("input[name=name]")).to_have_value("Acme Billing")
    page.fill("input[name=oauth_token_url]", "https://billing.acme.test/oauth/token")
    page.fill("input[name=api_key_name]", "X-Billing-Key")
    page.click("[data-testid=save-connector]")

    expect(page.locator(".flash")).to_contain_text("Connector Acme Billing created (v1)")
    expect(page.get_by_test_id("no-actions")).to_be_visible()
    page.get_by_test_id("add-action").click()
    page.fill("input[name=name]", "getInvoice")
    page.fill("input[name=title]", "Get an invoice")
    page.fill("input[name=path]", "/invoices/{invoiceId}")
    page.get_by_role("button", name="Add parameter").click()
    row = page.get_by_test_id("param-row").nth(0)
    row.locator("input[name=param-name]").fill("invoiceId")
    row.locator("select[name=param-in]").select_option("path")
    row.locator("select[name=param-required]").select_option("yes")
    page.get_by_role("button", name="Add parameter").click()
    second = page.get_by_test_id("param-row").nth(1)
    second.locator("input[name=param-name]").fill("expand")
    second.locator("select[name=param-type]").select_option("array")
    page.get_by_role("button", name="Add parameter").click()
    page.get_by_test_id("param-row").nth(2).get_by_role("button", name="Remove parameter").click()
    expect(page.get_by_test_id("param-row")).to_have_count(2)
    page.click("[data-testid=save-action]")

    expect(page.locator(".flash")).to_contain_text("Saved as v2.")
    action = page.locator("[data-testid=action][data-name=getInvoice]")
    expect(action.get_by_test_id("method")).to_have_text("GET")
    action.locator("summary").first.click()
    expect(action.locator("[data-testid=parameter][data-name=invoiceId]")).to_contain_text(
        "required"
    )
    expect(action.locator("[data-testid=parameter][data-name=expand]")).to_contain_text("array")
    expect(page.get_by_test_id("latest-version")).to_contain_text("v2")
    expect(page.get_by_test_id("live-version")).to_contain_text("Not published")

    page.locator("nav a.nav-link", has_text="Connectors").click()
    billing = card(page, "Acme Billing")
    expect(billing.get_by_test_id("badge")).to_have_text("PERSONAL")
    expect(billing).to_contain_text("1 action")
    expect(billing).to_contain_text("Finance")
    expect(billing).to_contain_text("v2 · not published")


def test_import_a_pasted_document_read_the_report_and_publish_to_live(live_server, page, cast):
    open_connectors(page, live_server, cast, "developer@example.com")
    page.get_by_test_id("import-connector").click()

    # A document that does not validate: the validator's message with its path.
    page.fill("textarea[name=text]", "openapi: 3.0.3\ninfo:\n  title: Broken\npaths: {}\n")
    page.click("[data-testid=run-import]")
    expect(page.get_by_test_id("import-error")).to_contain_text(
        "$.info: 'version' is a required property"
    )
    expect(page.get_by_test_id("import-error")).to_contain_text("Nothing was imported.")

    page.fill("textarea[name=text]", (SPECS / "swagger-petstore-openapi3.yaml").read_text())
    page.fill("input[name=name]", "Petstore")
    expect(page.locator("input[name=slug]")).to_have_value("petstore")
    page.click("[data-testid=run-import]")

    expect(page.get_by_role("heading", name="Import report: Petstore v1")).to_be_visible()
    expect(page.get_by_test_id("imported-count")).to_have_text("19")
    expect(page.get_by_test_id("imported-row")).to_have_count(19)
    skipped = page.get_by_test_id("skipped")
    expect(skipped).to_contain_text("security scheme petstore_auth · implicit flow")
    expect(skipped).to_contain_text("the connection sets this header")
    expect(page.get_by_test_id("report-auth")).to_contain_text("API_KEY (header api_key)")

    page.get_by_test_id("open-connector").click()
    expect(page.get_by_test_id("live-version")).to_contain_text("Not published")
    page.get_by_test_id("action-filter").fill("order")
    expect(page.locator("[data-testid=action]:visible")).to_have_count(3)
    expect(page.locator("[data-testid=action][data-name=getOrderById]")).to_be_visible()
    page.get_by_test_id("action-filter").fill("no such action")
    expect(page.get_by_test_id("no-action-match")).to_be_visible()
    page.get_by_test_id("action-filter").fill("")
    expect(page.locator("[data-testid=action]:visible")).to_have_count(19)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("publish-live").click()
    expect(page.locator(".flash")).to_contain_text("v1 of Petstore is live.")
    expect(page.get_by_test_id("live-version")).to_contain_text("v1")
    expect(page.get_by_test_id("live-badge")).to_be_visible()
    expect(page.get_by_test_id("publish-live")).to_have_count(0)
    connector = Connector.objects.get(space=cast.space, slug="petstore")
    assert connector.live_version_id == connector.latest_version_id


def test_a_pasted_document_longer_than_a_form_field_is_sent_as_a_file(live_server, page, cast):
    """The Stripe document (1.2 MB) is over FASTN_MAX_BODY_BYTES (1 MiB) for a form field;
    the page sends it as a file instead, which the import takes up to 5 MiB."""
    open_connectors(page, live_server, cast, "developer@example.com")
    page.get_by_test_id("import-connector").click()
    text = (SPECS / "stripe-trimmed-openapi3.json").read_text()
    page.locator("textarea[name=text]").evaluate("(area, text) => { area.value = text; }", text)
    page.fill("input[name=slug]", "stripe-mini")
    page.click("[data-testid=run-import]")

    expect(page.get_by_test_id("imported-count")).to_have_text("59", timeout=60_000)
    assert Connector.objects.get(space=cast.space).slug == "stripe-mini"


def test_a_viewer_sees_connectors_but_no_control_that_changes_them(live_server, page, cast):
    connector = make_connector(cast.space)
    connector_publish(connector, actor=SYSTEM)
    open_connectors(page, live_server, cast, "viewer@example.com")
    expect(card(page, "Acme CRM")).to_be_visible()
    expect(page.get_by_test_id("create-connector")).to_have_count(0)
    expect(page.get_by_test_id("import-connector")).to_have_count(0)
    expect(page.get_by_test_id("connect")).to_have_count(0)
    expect(card(page, "Acme CRM").locator("details.row-menu")).to_have_count(0)

    card(page, "Acme CRM").get_by_test_id("connector-link").click()
    expect(page.get_by_test_id("live-version")).to_contain_text("v1")
    expect(page.locator("[data-testid=action][data-name=listContacts]")).to_be_visible()
    for control in ("edit-connector", "add-action", "publish-live", "delete-connector"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    page.locator("[data-testid=action][data-name=listContacts] summary").click()
    expect(page.get_by_role("link", name="Edit action")).to_have_count(0)

    page.goto(f"{live_server.url}/s/{cast.space.slug}/connectors/crm/edit/")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
    page.goto(f"{live_server.url}/s/{cast.space.slug}/connectors/new/")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
