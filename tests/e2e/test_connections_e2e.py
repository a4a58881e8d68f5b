"""Integrations → Connections and Settings → OAuth Apps in a real browser, as a person uses
them: the OAuth app configured in Settings, New connection → Connect → Approve at the fake
provider (real redirects on loopback) → back on Connections with the connection Active; the
Basic, Bearer and API key forms (the credential never rendered back, not even after a
validation error); Test connection; Make default and Disconnect from the row menu."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.connectors.credentials import unseal
from apps.connectors.models import Connection, OAuthApp
from apps.connectors.services.connections import create_connection
from apps.connectors.services.oauth_apps import oauth_app_create
from apps.secrets.crypto import new_master_key_entry
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from tests.connectors.factories import definition, make_connector
from tests.connectors.fake_oauth import FakeOAuthProvider, oauth_connector_definition
from tests.connectors.fakes import FakeService
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLIENT_ID, CLIENT_SECRET = "console-e2e-client", "e2e-client-secret-4242"
PASSWORD = "pw-e2e-never-rendered-77"
TOKEN = "tok-e2e-never-rendered-88"
API_KEY = "key-e2e-never-rendered-99"


@pytest.fixture(autouse=True)
def console_settings(settings):
    settings.FASTN_MASTER_KEY = new_master_key_entry("connections-e2e")
    settings.FASTN_HTTP_ALLOW_LOOPBACK = True


@pytest.fixture(scope="module")
def provider():
    running = FakeOAuthProvider()
    yield running
    running.close()


@pytest.fixture(scope="module")
def service():
    running = FakeService()
    yield running
    running.close()


ACME_METHODS = [
    {"type": "BASIC"},
    {"type": "BEARER"},
    {"type": "API_KEY", "in": "header", "name": "X-Acme-Key"},
]


def stored(connection: Connection):
    return unseal(Connection.objects.select_related("data_key").get(pk=connection.pk))


def test_oauth_app_then_connect_through_the_providers_consent_page(
    live_server, page, cast, provider
):
    provider.reset()
    provider.add_client(CLIENT_ID, CLIENT_SECRET)
    make_connector(cast.space, oauth_connector_definition(provider))
    slug = cast.space.slug
    browser_login(page, live_server, "owner@example.com")

    # Settings → OAuth Apps: the redirect URI to register, then the client id and secret.
    page.goto(f"{live_server.url}/s/{slug}/")
    page.locator("nav a.nav-link", has_text="OAuth Apps").click()
    expect(page.get_by_role("heading", name="OAuth Apps", exact=True)).to_be_visible()
    expect(page.locator("[data-testid=redirect-uri]")).to_have_value(
        f"{live_server.url}/oauth/callback"
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/oauth/callback"
    row = page.locator("[data-testid=oauth-app-row][data-connector=fakehub]")
    expect(row).to_contain_text("Not configured")
    row.get_by_role("link", name="Configure").click()
    page.fill("input[name=client_id]", CLIENT_ID)
    page.fill("input[name=client_secret]", CLIENT_SECRET)
    page.click("button:has-text('Save OAuth app')")
    expect(page.locator(".flash")).to_contain_text("The client secret is not shown again")
    expect(row).to_contain_text(CLIENT_ID)
    expect(row).to_contain_text("Set")
    assert CLIENT_SECRET not in page.content()
    assert (
        unseal(OAuthApp.objects.select_related("data_key").get())["clientSecret"] == CLIENT_SECRET
    )

    # Integrations → Connections → New connection → FakeHub (OAuth 2.0 is its default).
    page.locator("nav a.nav-link", has_text="Connections").click()
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    page.click("[data-testid=new-connection]")
    page.select_option("[data-testid=connector-select]", "fakehub")
    expect(page.locator("[data-testid=connection-form] h2")).to_have_text("FakeHub")
    page.fill("input[name=name]", "FakeHub for sales")
    expect(page.locator("input[name=auth_method][value=OAUTH_2]")).to_be_checked()
    expect(page.locator("[data-testid=panel-OAUTH_2]")).to_contain_text(CLIENT_ID)
    connect = page.locator("[data-testid=save-connection]")
    expect(connect).to_have_text("Connect")
    connect.click()

    # The provider's consent page, then back through /oauth/callback.
    page.wait_for_url(f"{provider.base_url}/authorize?**")
    expect(page.locator("#scopes")).to_have_text("read write")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{live_server.url}/s/{slug}/connections/")
    expect(page.locator(".flash")).to_contain_text("FakeHub for sales is connected")
    row = page.locator("[data-testid=connection-row]", has_text="FakeHub for sales")
    expect(row.locator("[data-testid=status]")).to_have_text("Active")
    expect(row.locator("[data-testid=default]")).to_have_text("Default")

    # Test connection: the connector's test action (GET /me) with the stored token.
    row.get_by_role("link", name="FakeHub for sales").click()
    page.click("[data-testid=test-connection]")
    expect(page.locator("[data-testid=test-outcome]")).to_contain_text("OK · HTTP 200")

    connection = Connection.objects.get()
    credential = stored(connection)
    assert credential["accessToken"] in provider.issued_access_tokens()
    assert credential["refreshToken"] in provider.refresh_tokens()
    token_request = provider.state.token_requests[0]["form"]
    assert token_request["grant_type"] == "authorization_code" and token_request["code_verifier"]
    # The token is on no page.
    for path in (
        "connections/",
        f"connections/{connection.id}/",
        f"connections/{connection.id}/reconnect/",
    ):
        page.goto(f"{live_server.url}/s/{slug}/{path}")
        content = page.content()
        assert (
            credential["accessToken"] not in content and credential["refreshToken"] not in content
        )
    page.goto(f"{live_server.url}/s/{slug}/settings/audit-log/")
    expect(page.locator("[data-testid=audit-table]")).to_contain_text("connection.oauth")
    assert credential["accessToken"] not in page.content() and CLIENT_SECRET not in page.content()


def test_a_refusal_at_the_provider_leaves_the_connection_failed_with_its_reason(
    live_server, page, cast, provider
):
    provider.reset()
    provider.add_client(CLIENT_ID, CLIENT_SECRET)
    make_connector(cast.space, oauth_connector_definition(provider))
    oauth_app_create(cast.space, connector_slug="fakehub", client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, actor=Actor.system("test"))  # fmt: skip
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/connections/new/?connector=fakehub")
    page.click("[data-testid=save-connection]")
    page.wait_for_url(f"{provider.base_url}/authorize?**")
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(f"{live_server.url}/s/{cast.space.slug}/connections/")
    expect(page.locator(".flash-error")).to_contain_text("access_denied")
    row = page.locator("[data-testid=connection-row]", has_text="FakeHub")
    expect(row.locator("[data-testid=status]")).to_have_text("Failed")
    expect(row.locator("[data-testid=last-error]")).to_contain_text("The user denied the request")

    # A replayed callback is refused with a page of its own, never a 500.
    state_url = provider.state.authorize_requests[0]
    page.goto(f"{live_server.url}/oauth/callback?code=x&state={state_url['state']}")
    expect(page.locator("[data-testid=oauth-refused]")).to_contain_text("already used")
    assert AuditEvent.objects.filter(action="connection.oauth", detail__reason="replayed").exists()


def test_basic_bearer_and_api_key_forms_never_render_the_credential_back(
    live_server, page, cast, service
):
    make_connector(
        cast.space,
        definition(
            "acme",
            base_url=service.base,
            test={"action": "getThing", "params": {"id": "me"}},
            name="Acme",
            connectionFields=[{"name": "shop", "label": "Shop", "required": True}],
            auth={"default": "API_KEY", "methods": ACME_METHODS},
        ),
    )
    slug = cast.space.slug
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{slug}/connections/new/?connector=acme")

    # API key (the default): name prefilled from the definition; only its panel shows.
    expect(page.locator("input[name=auth_method][value=API_KEY]")).to_be_checked()
    expect(page.locator("input[name=api_key_name]")).to_have_value("X-Acme-Key")
    expect(page.locator("[data-testid=panel-BASIC]")).to_be_hidden()
    expect(page.locator("[data-testid=save-connection]")).to_have_text("Save connection")
    page.fill("input[name=name]", "Acme key")
    page.fill("input[name=api_key]", API_KEY)
    # The shop is missing: an error, and the key has to be typed again.
    page.click("[data-testid=save-connection]")
    expect(page.locator(".field-error").first).to_contain_text("This field is required")
    expect(page.locator("[data-testid=retype-credential]")).to_be_visible()
    expect(page.locator("input[name=api_key]")).to_have_value("")
    assert API_KEY not in page.content()
    page.fill("input[name=cfg_shop]", "acme-store")
    page.fill("input[name=api_key]", API_KEY)
    page.click("[data-testid=save-connection]")
    expect(page.locator(".flash")).to_contain_text("Connection Acme key saved")
    assert API_KEY not in page.content()
    key_connection = Connection.objects.get(name="Acme key")
    assert stored(key_connection) == {"apiKey": API_KEY}

    # Test connection on its page: the service refuses another key, then takes this one.
    service.reset()
    service.require = ("header", "X-Acme-Key", "another-key")
    page.click("[data-testid=test-connection]")
    outcome = page.locator("[data-testid=test-outcome]")
    expect(outcome).to_contain_text("Failed · HTTP 401")
    expect(page.locator("#connection-status [data-testid=status]")).to_have_text("Failed")
    service.require = ("header", "X-Acme-Key", API_KEY)
    page.click("[data-testid=test-connection]")
    expect(outcome).to_contain_text("OK · HTTP 200")
    expect(page.locator("#connection-status [data-testid=status]")).to_have_text("Active")
    assert service.requests[-1]["headers"]["x-acme-key"] == API_KEY
    assert API_KEY not in page.content()

    # Basic: switching the method shows its panel; a wrong submit does not echo the password.
    page.goto(f"{live_server.url}/s/{slug}/connections/new/?connector=acme")
    page.check("input[name=auth_method][value=BASIC]")
    expect(page.locator("[data-testid=panel-BASIC]")).to_be_visible()
    expect(page.locator("[data-testid=panel-API_KEY]")).to_be_hidden()
    page.fill("input[name=name]", "Acme key")  # taken: an error from the service
    page.fill("input[name=cfg_shop]", "acme-store")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=save-connection]")
    expect(page.locator(".field-error").first).to_contain_text("already exists")
    expect(page.locator("input[name=password]")).to_have_value("")
    expect(page.locator("input[name=username]")).to_have_value("ada")
    assert PASSWORD not in page.content()
    page.fill("input[name=name]", "Acme basic")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=save-connection]")
    expect(page.locator(".flash")).to_contain_text("Connection Acme basic saved")
    assert PASSWORD not in page.content()
    assert stored(Connection.objects.get(name="Acme basic")) == {
        "username": "ada",
        "password": PASSWORD,
    }

    # Bearer.
    page.goto(f"{live_server.url}/s/{slug}/connections/new/?connector=acme")
    page.check("input[name=auth_method][value=BEARER]")
    page.fill("input[name=name]", "Acme bearer")
    page.fill("input[name=cfg_shop]", "acme-store")
    page.fill("input[name=token]", TOKEN)
    page.click("[data-testid=save-connection]")
    expect(page.locator(".flash")).to_contain_text("Connection Acme bearer saved")
    assert stored(Connection.objects.get(name="Acme bearer")) == {"token": TOKEN}

    # The list: three rows, none of the credentials anywhere.
    page.goto(f"{live_server.url}/s/{slug}/connections/")
    expect(page.locator("[data-testid=connection-row]")).to_have_count(3)
    content = page.content()
    assert all(secret not in content for secret in (API_KEY, PASSWORD, TOKEN))


def test_make_default_and_disconnect_from_the_row_menu(live_server, page, cast):
    make_connector(cast.space, definition("acme", name="Acme"))
    system = Actor.system("test")
    for name in ("First", "Second"):
        create_connection(cast.space, connector_slug="acme", name=name, auth_method="BEARER",
                          credential={"token": TOKEN}, actor=system)  # fmt: skip
    slug = cast.space.slug
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{slug}/connections/")
    first = page.locator("[data-testid=connection-row][data-name=First]")
    second = page.locator("[data-testid=connection-row][data-name=Second]")
    expect(first.locator("[data-testid=default]")).to_be_visible()
    expect(second.locator("[data-testid=default]")).to_have_count(0)

    second.get_by_text("More").click()
    second.get_by_role("button", name="Make default").click()
    expect(page.locator(".flash")).to_contain_text("Second is now the default")
    expect(second.locator("[data-testid=default]")).to_be_visible()
    expect(first.locator("[data-testid=default]")).to_have_count(0)

    # Disconnect asks first; dismissing keeps it, accepting deletes it and its credential.
    second.get_by_text("More").click()
    page.once("dialog", lambda dialog: dialog.dismiss())
    second.get_by_role("button", name="Disconnect").click()
    expect(second).to_be_visible()
    assert Connection.objects.filter(name="Second").exists()
    page.once("dialog", lambda dialog: dialog.accept())
    second.get_by_role("button", name="Disconnect").click()
    expect(page.locator(".flash")).to_contain_text("Second disconnected; its credential is deleted")
    expect(second).to_have_count(0)
    expect(first.locator("[data-testid=default]")).to_be_visible()
    assert list(Connection.objects.values_list("name", flat=True)) == ["First"]
    assert AuditEvent.objects.filter(action="connection.disconnect").count() == 1


def test_a_viewer_sees_connections_without_controls(live_server, page, cast):
    make_connector(cast.space, definition("acme", name="Acme"))
    create_connection(cast.space, connector_slug="acme", name="Main", auth_method="BEARER",
                      credential={"token": TOKEN}, actor=Actor.system("test"))  # fmt: skip
    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/connections/")
    expect(page.locator("[data-testid=connection-row]")).to_have_count(1)
    expect(page.locator("[data-testid=new-connection]")).to_have_count(0)
    expect(page.get_by_text("More")).to_have_count(0)
    expect(page.locator("nav a.nav-link", has_text="OAuth Apps")).to_have_count(0)
