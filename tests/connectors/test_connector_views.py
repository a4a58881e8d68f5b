"""Integrations → Connectors through the test client: the cards (badges, search, category,
tabs, connection counts, Connect links), a connector's page, the create / edit / action forms
(errors on the field at fault), Publish to live, delete, the OpenAPI import and its report,
roles (Operator and Viewer read only) and tenancy (another Space's connector is a 404)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.connectors.catalog import builtin_connectors
from apps.connectors.models import Connection, Connector
from apps.connectors.openapi import MAX_DOCUMENT_BYTES
from apps.connectors.services import connectors as services
from apps.spaces.models import AuditEvent
from tests.conftest import login
from tests.connectors.console_helpers import (  # noqa: F401 (builtins is a fixture)
    SPECS,
    SYSTEM,
    builtins,
    definition,
    make_connector,
)

pytestmark = pytest.mark.django_db


def url(name, space, **kwargs):
    return reverse(name, kwargs={"space_slug": space.slug, **kwargs})


def cards(response) -> list[str]:
    pattern = r'data-testid="connector-card" data-slug="([^"]+)"'
    return re.findall(pattern, response.content.decode())


def connector_post(**overrides) -> dict:
    data = {
        "name": "Acme CRM", "slug": "", "description": "Contacts", "category": "CRM",
        "domain": "crm.example.test", "visibility": "private", "icon_url": "",
        "base_url": "https://crm.example.test/api", "docs_url": "",
        "auth_types": ["API_KEY", "OAUTH_2"], "default_auth": "API_KEY",
        "api_key_in": "query", "api_key_name": "key", "api_key_prefix": "",
        "oauth_grant_types": ["authorization_code"],
        "oauth_authorization_url": "https://crm.example.test/oauth/authorize",
        "oauth_token_url": "https://crm.example.test/oauth/token", "oauth_scopes": "read write",
        "oauth_pkce": "on",
    }  # fmt: skip
    data.update(overrides)
    return data


def action_post(**overrides) -> dict:
    data = {
        "name": "getContact", "title": "Get a contact", "description": "", "method": "GET",
        "path": "/contacts/{id}", "kind": "", "body_encoding": "", "body_schema": "",
        "param-name": ["id", "fields"], "param-in": ["path", "query"],
        "param-type": ["integer", "array"], "param-required": ["yes", "no"],
        "param-description": ["The contact's id", ""],
    }  # fmt: skip
    data.update(overrides)
    return data


# --- The cards -----------------------------------------------------------------------------------


def test_every_built_in_has_a_card_with_the_managed_badge(client, cast):
    """Whatever the catalog holds (apps/connectors/catalog/*.json)."""
    login(client, cast.viewer)
    response = client.get(url("connectors", cast.space))

    assert response.status_code == 200
    assert cards(response) == list(builtin_connectors())
    assert response.content.decode().count(">MANAGED</span>") == len(builtin_connectors())


@pytest.mark.usefixtures("builtins")
def test_cards_show_built_ins_then_the_spaces_own_with_badges_and_counts(client, cast):
    make_connector(cast.space)
    make_connector(cast.other_space, slug="theirs", name="Their CRM")
    for name in ("Sales", "Support"):
        Connection.objects.create(space=cast.space, connector_slug="crm", name=name,
                                  auth_method="BEARER")  # fmt: skip
    login(client, cast.operator)

    response = client.get(url("connectors", cast.space))
    page = response.content.decode()

    assert cards(response) == ["payments-demo", "web-hook-relay", "crm"]
    card = page[page.index('data-slug="crm"') :]
    assert "PERSONAL" in card[:2000] and "2 connections" in card[:3000]
    assert f'href="/s/{cast.space.slug}/connections/new/?connector=crm"' in card
    assert "Add Connection" in card[:4000]
    relay = page[page.index('data-slug="web-hook-relay"') :]
    assert "0 connections" in relay[:3000] and ">MANAGED<" in relay[:2000]
    assert "Connect</a>" in relay[:4000]
    assert "Their CRM" not in page
    # Operators connect but do not build.
    assert 'data-testid="create-connector"' not in page
    assert url("connector_edit", cast.space, connector_slug="crm") not in page


@pytest.mark.usefixtures("builtins")
def test_search_looks_at_name_slug_and_description_and_category_filters(client, cast):
    make_connector(cast.space)
    login(client, cast.viewer)

    def found(**query):
        return cards(client.get(url("connectors", cast.space), query))

    assert found(q="paydemo") == ["payments-demo"]
    assert found(q="web-hook") == ["web-hook-relay"]
    assert found(q="refunds") == ["payments-demo"]
    assert found(q="CONTACTS") == ["crm"]
    assert found(category="Payments") == ["payments-demo"]
    assert found(category="CRM", q="relay") == []
    assert found(kind="personal") == ["crm"]
    assert found(kind="managed") == ["payments-demo", "web-hook-relay"]
    response = client.get(url("connectors", cast.space), {"q": "demo"}, HTTP_HX_REQUEST="true")
    assert "<html" not in response.content.decode()
    assert 'data-testid="tab-all"' in response.content.decode()
    assert 'All <span class="count">1</span>' in response.content.decode()


def test_a_search_with_no_match_says_so(client, cast):
    login(client, cast.viewer)
    response = client.get(url("connectors", cast.space), {"q": "nothing-like-this"})

    assert "No connectors match" in response.content.decode()


# --- A connector's page --------------------------------------------------------------------------


@pytest.mark.usefixtures("builtins")
def test_a_built_ins_page_lists_actions_events_auth_and_connections(client, cast):
    customer = cast.space.customers.create(name="Initech", external_id="initech")
    Connection.objects.create(space=cast.space, connector_slug="payments-demo", name="Main",
                              auth_method="API_KEY")  # fmt: skip
    Connection.objects.create(space=cast.space, customer=customer, connector_slug="payments-demo",
                              name="Initech key", auth_method="API_KEY", status="failed",
                              last_error="401 from the service")  # fmt: skip
    login(client, cast.viewer)

    page = client.get(url("connector_detail", cast.space, connector_slug="payments-demo"))
    text = page.content.decode()

    assert page.status_code == 200
    assert "MANAGED" in text and "2.1" in text
    assert "https://api.paydemo.example.test" in text
    assert 'data-name="listCharges"' in text and 'data-name="refundCharge"' in text
    assert "/v1/charges/{charge}/refunds" in text
    assert 'class="method-chip method-post"' in text
    assert 'data-name="charge"' in text and ">required</span>" in text
    assert "charge.refunded" in text and "Payload schema" in text
    assert 'data-type="API_KEY"' in text and "X-Pay-Key" in text
    assert text.index('data-testid="default-auth"') < text.index('data-type="BEARER"')
    assert "Initech key" in text and "Customer Initech" in text and "401 from the service" in text
    assert "Publish" not in text  # built-ins have no versions to publish
    assert "edit-connector" not in text


def test_a_personal_connectors_page_shows_latest_and_live_versions(client, cast):
    connector = make_connector(cast.space)
    services.connector_publish(connector, actor=SYSTEM)
    services.connector_save(connector, definition=definition(name="CRM 2"), actor=SYSTEM)
    login(client, cast.developer)

    text = client.get(url("connector_detail", cast.space, connector_slug="crm")).content.decode()

    assert re.search(r'data-testid="latest-version">v2', text)
    assert re.search(r'data-testid="live-version">v1', text)
    assert "Publish v2 to live" in text
    old = client.get(url("connector_detail", cast.space, connector_slug="crm"), {"version": 1})
    assert "an older version" in old.content.decode()


def test_another_spaces_connector_is_a_404_on_every_url(client, cast):
    make_connector(cast.space)
    login(client, cast.outsider)
    theirs = url("connectors", cast.other_space)

    reads = ("crm/", "crm/edit/", "crm/definition.json", "crm/actions/new/", "crm/import/",
             "crm/actions/listContacts/edit/", "crm/versions/1/report/")  # fmt: skip
    for path in reads:
        assert client.get(theirs + path).status_code == 404, path
    for path in ("crm/publish/", "crm/delete/", "crm/actions/listContacts/delete/"):
        assert client.post(theirs + path).status_code == 404, path
    assert Connector.objects.get(slug="crm").latest_version.number == 1


@pytest.mark.usefixtures("builtins")
def test_built_ins_cannot_be_edited_or_deleted_by_url(client, cast):
    login(client, cast.owner)
    slug = "payments-demo"

    assert client.get(url("connector_edit", cast.space, connector_slug=slug)).status_code == 404
    assert client.post(url("connector_delete", cast.space, connector_slug=slug)).status_code == 404


def test_the_definition_downloads_as_a_file(client, cast):
    make_connector(cast.space)
    login(client, cast.viewer)

    response = client.get(url("connector_definition_file", cast.space, connector_slug="crm"))

    assert response["Content-Disposition"] == 'attachment; filename="crm.json"'
    assert response.json() == definition()


# --- Create, edit, actions -----------------------------------------------------------------------


def test_create_makes_a_connector_with_slug_from_the_name_and_auth_options(client, cast):
    login(client, cast.developer)

    response = client.post(url("connector_create", cast.space), connector_post())

    assert response.status_code == 302
    assert response["Location"] == url("connector_detail", cast.space, connector_slug="acme-crm")
    latest = services.latest_definition(Connector.objects.get(slug="acme-crm"))
    assert latest["auth"] == {"default": "API_KEY", "methods": [
        {"type": "API_KEY", "in": "query", "name": "key"},
        {"type": "OAUTH_2", "grantTypes": ["authorization_code"],
         "authorizationUrl": "https://crm.example.test/oauth/authorize",
         "tokenUrl": "https://crm.example.test/oauth/token", "scopes": ["read", "write"],
         "pkce": True},
    ]}  # fmt: skip
    assert (latest["baseUrl"], latest["actions"]) == ("https://crm.example.test/api", [])


@pytest.mark.usefixtures("builtins")
def test_create_shows_errors_on_the_fields_at_fault(client, cast):
    login(client, cast.developer)

    response = client.post(url("connector_create", cast.space), connector_post(
        slug="payments-demo", base_url="ftp://x", default_auth="BEARER",
        oauth_token_url="", auth_types=["API_KEY", "OAUTH_2", "INPUT"],
        custom_headers="no colon here",
    ))  # fmt: skip
    text = response.content.decode()

    assert response.status_code == 200
    assert "Start with http:// or https://" in text
    assert "The default must be one of the chosen methods." in text
    assert "Required for OAuth 2.0." in text
    assert "is not “Name: value”" in text
    assert not Connector.objects.exists()
    post = connector_post(slug="payments-demo")
    response = client.post(url("connector_create", cast.space), post)
    assert "slug of a built-in connector" in response.content.decode()


def test_a_custom_auth_method_keeps_fields_and_templates(client, cast):
    login(client, cast.developer)

    client.post(url("connector_create", cast.space), connector_post(
        auth_types=["INPUT"], default_auth="INPUT", custom_fields="token: API token\nregion",
        custom_headers="X-Token: {{credential.token}}\nX-Region: {{connection.region}}",
        custom_query="tenant: {{secrets.TENANT_ID}}",
    ))  # fmt: skip

    (method,) = services.latest_definition(Connector.objects.get())["auth"]["methods"]
    assert method == {"type": "INPUT", "fields": [
        {"name": "token", "label": "API token", "secret": True},
        {"name": "region", "label": "region", "secret": True}],
        "headers": {"X-Token": "{{credential.token}}", "X-Region": "{{connection.region}}"},
        "query": {"tenant": "{{secrets.TENANT_ID}}"}}  # fmt: skip


def test_edit_keeps_the_slug_and_actions_and_makes_the_next_version(client, cast):
    connector = make_connector(cast.space)
    login(client, cast.developer)
    form = client.get(url("connector_edit", cast.space, connector_slug="crm")).content.decode()
    assert 'value="https://crm.example.test/api"' in form

    response = client.post(url("connector_edit", cast.space, connector_slug="crm"), connector_post(
        name="Acme CRM Pro", slug="hijack", auth_types=["BEARER"], default_auth="BEARER",
    ))  # fmt: skip

    assert response.status_code == 302
    connector.refresh_from_db()
    assert (connector.slug, connector.name, connector.latest_version.number) == (
        "crm", "Acme CRM Pro", 2)  # fmt: skip
    assert [a["name"] for a in services.latest_definition(connector)["actions"]] == ["listContacts"]


def test_add_an_action_with_parameters_and_a_body(client, cast):
    connector = make_connector(cast.space)
    login(client, cast.developer)

    post = action_post(method="PATCH", body_encoding="json", body_required="on",
                       body_schema='{"type": "object", "properties": {}}')  # fmt: skip
    response = client.post(url("connector_action_new", cast.space, connector_slug="crm"), post)

    assert response.status_code == 302
    connector.refresh_from_db()
    action = services.latest_definition(connector)["actions"][1]
    assert action == {
        "name": "getContact", "method": "PATCH", "path": "/contacts/{id}",
        "title": "Get a contact",
        "parameters": [
            {"name": "id", "in": "path", "type": "integer", "required": True,
             "description": "The contact's id"},
            {"name": "fields", "in": "query", "type": "array", "required": False}],
        "body": {"encoding": "json", "required": True,
                 "schema": {"type": "object", "properties": {}}},
    }  # fmt: skip
    connector.refresh_from_db()
    assert connector.latest_version.number == 2


def test_the_action_form_puts_errors_on_rows_and_fields(client, cast):
    make_connector(cast.space)
    login(client, cast.developer)

    response = client.post(url("connector_action_new", cast.space, connector_slug="crm"),
                           action_post(name="2fast", path="/contacts/{contactId}",
                                       body_schema="{not json", **{
                                           "param-name": ["id", "id"]}))  # fmt: skip
    text = response.content.decode()

    assert "Use letters, digits, _ and $" in text
    assert "id is used twice." in text
    assert "Not JSON (line 1, column 2" in text
    # Rows survive the error, with what was typed.
    assert text.count('name="param-name" value="id"') == 2
    response = client.post(url("connector_action_new", cast.space, connector_slug="crm"),
                           action_post(path="/contacts/{contactId}"))  # fmt: skip
    assert "{contactId} has no path parameter" in response.content.decode()


def test_edit_and_delete_an_action(client, cast):
    connector = make_connector(cast.space)
    login(client, cast.developer)
    edit = url("connector_action_edit", cast.space, connector_slug="crm",
               action_name="listContacts")  # fmt: skip
    assert 'value="/contacts"' in client.get(edit).content.decode()

    client.post(edit, action_post(name="searchContacts", path="/contacts", **{
        "param-name": ["q"], "param-in": ["query"], "param-type": ["string"],
        "param-required": ["no"], "param-description": [""]}))  # fmt: skip
    connector.refresh_from_db()
    assert [a["name"] for a in services.latest_definition(connector)["actions"]] == [
        "searchContacts"
    ]
    client.post(url("connector_action_delete", cast.space, connector_slug="crm",
                    action_name="searchContacts"))  # fmt: skip

    connector.refresh_from_db()
    assert services.latest_definition(connector)["actions"] == []
    assert connector.latest_version.number == 3


def test_publish_to_live_and_roll_back(client, cast):
    connector = make_connector(cast.space)
    services.connector_save(connector, definition=definition(name="CRM 2"), actor=SYSTEM)
    login(client, cast.developer)

    client.post(url("connector_publish", cast.space, connector_slug="crm"))
    connector.refresh_from_db()
    assert connector.live_version.number == 2
    client.post(url("connector_publish", cast.space, connector_slug="crm"), {"version": "1"})
    connector.refresh_from_db()
    assert connector.live_version.number == 1


def test_delete_refused_while_connected_then_done(client, cast):
    make_connector(cast.space)
    connection = Connection.objects.create(space=cast.space, connector_slug="crm", name="Sales",
                                           auth_method="BEARER")  # fmt: skip
    login(client, cast.developer)

    refused = client.post(url("connector_delete", cast.space, connector_slug="crm"), follow=True)
    assert "1 connection uses it (Sales (Space))" in refused.content.decode()
    connection.delete()
    done = client.post(url("connector_delete", cast.space, connector_slug="crm"), follow=True)

    assert "Connector Acme CRM deleted." in done.content.decode()
    assert not Connector.objects.exists()


# --- Roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_operators_and_viewers_read_but_cannot_change_connectors(client, cast, role):
    connector = make_connector(cast.space)
    login(client, cast.member(role))

    page = client.get(url("connector_detail", cast.space, connector_slug="crm")).content.decode()
    assert "edit-connector" not in page and "add-action" not in page and "publish-live" not in page
    writes = [
        ("get", url("connector_create", cast.space)),
        ("get", url("connector_import", cast.space)),
        ("post", url("connector_create", cast.space)),
        ("post", url("connector_edit", cast.space, connector_slug="crm")),
        ("post", url("connector_action_new", cast.space, connector_slug="crm")),
        ("post", url("connector_action_delete", cast.space, connector_slug="crm",
                     action_name="listContacts")),
        ("post", url("connector_publish", cast.space, connector_slug="crm")),
        ("post", url("connector_delete", cast.space, connector_slug="crm")),
        ("post", url("connector_reimport", cast.space, connector_slug="crm")),
    ]  # fmt: skip
    for method, target in writes:
        assert getattr(client, method)(target).status_code == 403, (method, target)
    connector.refresh_from_db()
    assert (connector.latest_version.number, connector.live_version) == (1, None)
    assert AuditEvent.objects.filter(action="access.denied").count() == len(writes)


# --- Import --------------------------------------------------------------------------------------


def test_import_a_pasted_document_and_read_the_report(client, cast):
    login(client, cast.developer)
    text = (SPECS / "swagger-petstore-openapi3.yaml").read_text()

    response = client.post(url("connector_import", cast.space), {"text": text, "slug": "pets"})

    assert response.status_code == 302
    report_url = url("connector_import_report", cast.space, connector_slug="pets",
                     version_number=1)  # fmt: skip
    assert response["Location"] == report_url
    report = client.get(report_url).content.decode()
    assert re.search(r'data-testid="imported-count">19<', report)
    assert "security scheme petstore_auth · implicit flow" in report
    assert "API_KEY (header api_key) from api_key" in report
    assert report.count('data-testid="imported-row"') == 19


def test_import_an_uploaded_file_and_publish_it(client, cast):
    login(client, cast.developer)
    upload = SimpleUploadedFile("uber.yaml", (SPECS / "uber-swagger2.yaml").read_bytes())

    client.post(url("connector_import", cast.space), {"document": upload, "publish": "on"})

    connector = Connector.objects.get(slug="uber-api")
    assert connector.live_version == connector.latest_version


def test_an_invalid_document_shows_the_validators_message_and_imports_nothing(client, cast):
    login(client, cast.developer)
    text = "openapi: 3.0.3\ninfo:\n  title: Broken\npaths:\n  /a:\n    get: {}\n"

    response = client.post(url("connector_import", cast.space), {"text": text})
    page = response.content.decode()

    assert response.status_code == 422
    assert "The document cannot be imported" in page
    assert "$.info: &#x27;version&#x27; is a required property" in page
    assert not Connector.objects.exists()


def test_a_file_over_5_mib_is_refused_before_parsing(client, cast):
    login(client, cast.developer)
    upload = SimpleUploadedFile("big.json", b"x" * (MAX_DOCUMENT_BYTES + 1))

    response = client.post(url("connector_import", cast.space), {"document": upload})

    assert "The file is 5.0 MiB: the most an import takes is 5 MiB." in response.content.decode()
    assert not Connector.objects.exists()


def test_reimport_makes_the_next_version_of_the_connector(client, cast):
    login(client, cast.developer)
    spec = (SPECS / "petstore-expanded-openapi3.json").read_text()
    client.post(url("connector_import", cast.space), {"text": spec, "slug": "pets"})

    response = client.post(url("connector_reimport", cast.space, connector_slug="pets"),
                           {"text": spec.replace("findPets", "listPets")})  # fmt: skip

    assert response["Location"].endswith("/connectors/pets/versions/2/report/")
    names = [a["name"] for a in services.latest_definition(Connector.objects.get())["actions"]]
    assert names[0] == "listPets"


def test_editing_keeps_what_the_forms_do_not_show(client, cast):
    """An imported parameter's enum and default, an OAuth method's refresh URL and extra
    authorize parameters: the forms do not show them, and saving must not drop them."""
    oauth = {"type": "OAUTH_2", "grantTypes": ["authorization_code"],
             "authorizationUrl": "https://crm.example.test/authorize",
             "tokenUrl": "https://crm.example.test/token", "scopes": ["read"], "pkce": True,
             "refreshUrl": "https://crm.example.test/refresh",
             "extraAuthorizeParams": {"access_type": "offline"}}  # fmt: skip
    status = {"name": "status", "in": "query", "type": "string", "enum": ["open", "won"],
              "default": "open"}  # fmt: skip
    connector = make_connector(
        cast.space, auth={"default": "OAUTH_2", "methods": [oauth]},
        actions=[{"name": "listDeals", "method": "GET", "path": "/deals", "parameters": [status]}],
    )  # fmt: skip
    login(client, cast.developer)

    client.post(url("connector_edit", cast.space, connector_slug="crm"), connector_post(
        auth_types=["OAUTH_2"], default_auth="OAUTH_2",
        oauth_authorization_url="https://crm.example.test/authorize",
        oauth_token_url="https://crm.example.test/token", oauth_scopes="read deals",
    ))  # fmt: skip
    client.post(url("connector_action_edit", cast.space, connector_slug="crm",
                    action_name="listDeals"), action_post(
        name="listDeals", path="/deals", **{"param-name": ["status"], "param-in": ["query"],
        "param-type": ["string"], "param-required": ["no"], "param-description": ["Stage"]},
    ))  # fmt: skip

    connector.refresh_from_db()
    latest = services.latest_definition(connector)
    assert connector.latest_version.number == 3
    (method,) = latest["auth"]["methods"]
    assert method["refreshUrl"] == "https://crm.example.test/refresh"
    assert method["extraAuthorizeParams"] == {"access_type": "offline"}
    assert method["scopes"] == ["read", "deals"]
    (parameter,) = latest["actions"][0]["parameters"]
    assert parameter == {**status, "required": False, "description": "Stage"}


def test_a_version_that_does_not_exist_is_a_404(client, cast):
    make_connector(cast.space)
    login(client, cast.viewer)
    detail = url("connector_detail", cast.space, connector_slug="crm")

    assert client.get(detail, {"version": "7"}).status_code == 404
    assert client.get(detail, {"version": "99999999999999999999"}).status_code == 404
    assert client.get(detail, {"version": "abc"}).status_code == 200  # ignored: the latest
    report = url("connector_import_report", cast.space, connector_slug="crm", version_number=9)
    assert client.get(report).status_code == 404


def test_a_docs_url_that_is_not_http_is_shown_as_text_not_a_link(client, cast):
    make_connector(cast.space, docsUrl="javascript:alert(document.cookie)")
    login(client, cast.viewer)

    page = client.get(url("connector_detail", cast.space, connector_slug="crm")).content.decode()

    assert "javascript:alert(document.cookie)" in page
    assert 'href="javascript:' not in page
