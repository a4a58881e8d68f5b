"""Integrations → Connections through the views: the connect forms per auth method (the
credential sealed, never rendered back, not even after an error), the list's filters and
pages, Make default, Disconnect, roles, and isolation by id guessing."""

from __future__ import annotations

import uuid

import pytest

from apps.connectors.credentials import unseal
from apps.connectors.models import Connection
from apps.connectors.services.connections import create_connection
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Customer
from tests.conftest import login
from tests.connectors.factories import definition, make_connector

pytestmark = pytest.mark.django_db

PASSWORD = "pa55-w0rd-never-shown"
TOKEN = "tok-live-1234567890abcdef"
API_KEY = "key-9f8e7d6c5b4a"


@pytest.fixture
def acme(cast):
    return make_connector(
        cast.space,
        definition(
            connectionFields=[{"name": "shop", "label": "Shop", "required": True}],
            auth={
                "default": "BEARER",
                "methods": [
                    {"type": "NO_AUTH"},
                    {"type": "BASIC"},
                    {"type": "DIGEST"},
                    {"type": "BEARER"},
                    {"type": "API_KEY", "in": "header", "name": "X-Acme-Key"},
                    {
                        "type": "INPUT",
                        "fields": [
                            {"name": "token", "label": "Token", "secret": True},
                            {"name": "account", "label": "Account", "secret": False},
                        ],
                        "headers": {"X-Token": "{{credential.token}}"},
                    },
                ],
            },
        ),
    )


def url(cast, tail: str = "") -> str:
    return f"/s/{cast.space.slug}/connections/{tail}"


def post_new(client, cast, **fields):
    data = {"connector": "acme", "name": "Acme main", "cfg_shop": "acme-store", **fields}
    return client.post(url(cast, "new/"), data)


def stored(connection=None) -> dict | None:
    row = Connection.objects.select_related("data_key").get(
        pk=(connection or Connection.objects.get()).pk
    )
    return unseal(row)


def make(cast, name="Main", customer=None, **extra):
    return create_connection(
        cast.space,
        connector_slug="acme",
        name=name,
        auth_method=extra.pop("auth_method", "BEARER"),
        credential=extra.pop("credential", {"token": TOKEN}),
        config={"shop": "s"},
        customer=customer,
        actor=Actor.for_user(cast.owner),
        **extra,
    )


# --- The forms ------------------------------------------------------------------------------


def test_new_connection_shows_the_connectors_methods_with_the_default_chosen(client, cast, acme):
    login(client, cast.operator)
    page = client.get(url(cast, "new/") + "?connector=acme").content.decode()
    for label in ("No Auth", "Basic Auth", "Digest Auth", "Bearer Token", "API Key", "Custom"):
        assert label in page
    assert (
        'value="BEARER" checked' in page
        or 'checked value="BEARER"' in page
        or ('value="BEARER"' in page and "checked" in page)
    )
    assert 'value="X-Acme-Key"' in page  # the API key's name, prefilled from the definition
    assert 'name="cfg_shop"' in page and "Shop" in page


@pytest.mark.parametrize(
    ("fields", "credential", "config"),
    [
        ({"auth_method": "BASIC", "username": "ada", "password": PASSWORD},
         {"username": "ada", "password": PASSWORD}, {}),
        ({"auth_method": "DIGEST", "username": "ada", "password": PASSWORD},
         {"username": "ada", "password": PASSWORD}, {}),
        ({"auth_method": "BEARER", "token": TOKEN}, {"token": TOKEN}, {}),
        ({"auth_method": "API_KEY", "api_key": API_KEY, "api_key_in": "header",
          "api_key_name": "X-Acme-Key"}, {"apiKey": API_KEY}, {}),
        ({"auth_method": "API_KEY", "api_key": API_KEY, "api_key_in": "query",
          "api_key_name": "key"}, {"apiKey": API_KEY}, {"in": "query", "name": "key"}),
        ({"auth_method": "INPUT", "in_token": TOKEN, "in_account": "acct-1"},
         {"values": {"token": TOKEN, "account": "acct-1"}}, {}),
        ({"auth_method": "NO_AUTH"}, None, {}),
    ],
)  # fmt: skip
def test_each_method_stores_its_credential_sealed(client, cast, acme, fields, credential, config):
    login(client, cast.operator)
    response = post_new(client, cast, **fields)
    connection = Connection.objects.get()
    assert response.status_code == 302 and response["Location"] == url(cast, f"{connection.id}/")
    assert connection.auth_method == fields["auth_method"] and connection.status == "active"
    assert connection.config == {"shop": "acme-store", **config}
    assert stored(connection) == credential
    assert connection.is_default
    page = client.get(response["Location"]).content.decode()
    listing = client.get(url(cast)).content.decode()
    for secret in (PASSWORD, TOKEN, API_KEY):
        assert secret not in page and secret not in listing
    event = AuditEvent.objects.get(action="connection.create")
    assert all(s not in str(event.detail) for s in (PASSWORD, TOKEN, API_KEY))


def test_a_form_with_an_error_asks_for_the_credential_again(client, cast, acme):
    login(client, cast.operator)
    response = post_new(
        client, cast, auth_method="BASIC", username="ada", password=PASSWORD, cfg_shop=""
    )
    page = response.content.decode()
    assert response.status_code == 200 and not Connection.objects.exists()
    assert "This field is required." in page and "type them again" in page
    assert PASSWORD not in page and 'value="ada"' in page
    response = post_new(client, cast, auth_method="BEARER", token=TOKEN, name="")
    assert TOKEN not in response.content.decode()
    response = post_new(
        client, cast, auth_method="API_KEY", api_key=API_KEY, api_key_name="bad name"
    )
    page = response.content.decode()
    assert "header or parameter name" in page and API_KEY not in page


def test_a_method_without_its_credential_is_refused(client, cast, acme):
    login(client, cast.operator)
    page = post_new(client, cast, auth_method="BEARER").content.decode()
    assert "Enter the token." in page
    page = post_new(client, cast, auth_method="BASIC", username="ada").content.decode()
    assert "Enter the password." in page
    assert not Connection.objects.exists()


def test_custom_values_may_reference_existing_secrets_only(client, cast, acme):
    login(client, cast.operator)
    page = post_new(client, cast, auth_method="INPUT", in_token="{{secrets.ACME_TOKEN}}")
    assert "No secret named ACME_TOKEN" in page.content.decode()
    secret_create(cast.space, name="ACME_TOKEN", type="text", value="v",
                  actor=Actor.for_user(cast.owner))  # fmt: skip
    response = post_new(
        client,
        cast,
        auth_method="INPUT",
        in_token="Bearer {{ secrets.ACME_TOKEN }}",
        in_account="a",
    )
    assert response.status_code == 302
    assert stored()["values"]["token"] == "Bearer {{ secrets.ACME_TOKEN }}"


def test_a_customer_scoped_connection_and_duplicate_names(client, cast, acme):
    customer = Customer.objects.create(space=cast.space, name="Initech", external_id="initech")
    login(client, cast.operator)
    assert post_new(client, cast, token=TOKEN, auth_method="BEARER").status_code == 302
    response = post_new(client, cast, token=TOKEN, auth_method="BEARER", customer=customer.id)
    assert response.status_code == 302
    page = post_new(client, cast, token=TOKEN, auth_method="BEARER").content.decode()
    assert "already exists for the Space" in page and TOKEN not in page
    other = Customer.objects.create(space=cast.other_space, name="Evil", external_id="evil")
    page = post_new(client, cast, auth_method="NO_AUTH", name="X", customer=other.id).content
    assert b"Select a valid choice" in page
    rows = client.get(url(cast)).content.decode()
    assert "initech" in rows and "Initech" in rows


def test_an_unknown_connector_shows_the_chooser(client, cast, acme):
    login(client, cast.operator)
    page = client.get(url(cast, "new/") + "?connector=nope").content.decode()
    assert "This Space has no connector" in page and "Acme" in page
    response = client.post(url(cast, "new/"), {"connector": "nope", "name": "x"})
    assert response.status_code == 200 and not Connection.objects.exists()


def test_reconnect_replaces_the_credential_typed_again(client, cast, acme):
    connection = make(cast)
    login(client, cast.operator)
    page = client.get(url(cast, f"{connection.id}/reconnect/")).content.decode()
    assert TOKEN not in page and 'value="s"' in page
    response = client.post(
        url(cast, f"{connection.id}/reconnect/"),
        {"connector": "acme", "auth_method": "BEARER", "token": "tok-new-2", "cfg_shop": "s2"},
    )
    assert response.status_code == 302
    assert stored(connection) == {"token": "tok-new-2"}
    connection.refresh_from_db()
    assert connection.config == {"shop": "s2"}
    # The form's auth method is the connection's, whatever is posted.
    client.post(
        url(cast, f"{connection.id}/reconnect/"),
        {"connector": "acme", "auth_method": "NO_AUTH", "cfg_shop": "s2"},
    )
    assert stored(connection) == {"token": "tok-new-2"}


# --- The list -------------------------------------------------------------------------------


def test_the_list_pages_by_ten_and_filters(client, cast, acme):
    make_connector(cast.space, definition("beta", name="Beta"))
    customer = Customer.objects.create(space=cast.space, name="Initech", external_id="initech")
    for n in range(11):
        make(cast, name=f"Conn {n:02}")
    make(cast, name="For Initech", customer=customer)
    failed = make(cast, name="Broken")
    Connection.objects.filter(pk=failed.pk).update(status="failed", last_error="HTTP 401: bad key")
    create_connection(cast.space, connector_slug="beta", name="Beta one", auth_method="NO_AUTH",
                      credential=None, actor=Actor.for_user(cast.owner))  # fmt: skip
    login(client, cast.viewer)
    page = client.get(url(cast)).content.decode()
    assert page.count('data-testid="connection-row"') == 10
    assert "Page 1 of 2 · 14 connections" in page
    assert (
        client.get(url(cast) + "?page=2").content.decode().count('data-testid="connection-row"')
        == 4
    )
    page = client.get(url(cast) + "?connector=beta").content.decode()
    assert page.count('data-testid="connection-row"') == 1 and "Beta one" in page
    page = client.get(url(cast) + f"?customer={customer.id}").content.decode()
    assert page.count('data-testid="connection-row"') == 1 and "For Initech" in page
    page = client.get(url(cast) + "?status=failed").content.decode()
    assert page.count('data-testid="connection-row"') == 1 and "HTTP 401: bad key" in page
    page = client.get(url(cast) + "?customer=space&connector=acme&page=2").content.decode()
    assert page.count('data-testid="connection-row"') == 2
    # Nonsense in the query string is ignored, never a 500.
    assert client.get(url(cast) + "?customer=zzz&status=odd&page=-4").status_code == 200
    # A viewer reads; no row menu, no New connection.
    assert "Disconnect" not in page and "New connection" not in page


def test_htmx_filters_answer_the_results_only(client, cast, acme):
    make(cast)
    login(client, cast.viewer)
    response = client.get(url(cast) + "?status=active", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'data-testid="connections-table"' in body and "<html" not in body


def test_make_default_and_disconnect(client, cast, acme):
    first, second = make(cast, name="First"), make(cast, name="Second")
    assert Connection.objects.get(pk=first.pk).is_default
    login(client, cast.operator)
    response = client.post(url(cast, f"{second.id}/default/"))
    assert response.status_code == 302
    assert Connection.objects.get(pk=second.pk).is_default
    assert not Connection.objects.get(pk=first.pk).is_default
    assert AuditEvent.objects.filter(action="connection.set_default").count() == 1
    response = client.post(url(cast, f"{second.id}/disconnect/"))
    assert response.status_code == 302 and response["Location"] == url(cast)
    assert not Connection.objects.filter(pk=second.pk).exists()
    assert Connection.objects.get(pk=first.pk).is_default  # the next one takes over
    event = AuditEvent.objects.get(action="connection.disconnect")
    assert event.resource_id == str(second.id) and TOKEN not in str(event.detail)
    assert client.get(url(cast, f"{second.id}/")).status_code == 404


# --- Roles and isolation --------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_connect_or_change(client, cast, acme):
    connection = make(cast)
    login(client, cast.viewer)
    assert client.get(url(cast, f"{connection.id}/")).status_code == 200
    assert client.get(url(cast, "new/")).status_code == 403
    assert post_new(client, cast, auth_method="BEARER", token=TOKEN).status_code == 403
    for tail in ("test/", "default/", "disconnect/", "reconnect/"):
        assert client.post(url(cast, f"{connection.id}/{tail}")).status_code == 403
    assert Connection.objects.count() == 1


def test_another_spaces_connection_is_404_in_every_url(client, cast, acme):
    make_connector(cast.other_space, definition())
    theirs = create_connection(cast.other_space, connector_slug="acme", name="Theirs",
                               auth_method="BEARER", credential={"token": TOKEN},
                               actor=Actor.for_user(cast.outsider))  # fmt: skip
    login(client, cast.owner)
    assert client.get(url(cast, f"{theirs.id}/")).status_code == 404
    assert client.get(url(cast, f"{theirs.id}/reconnect/")).status_code == 404
    for tail in ("test/", "default/", "disconnect/", "reconnect/"):
        assert client.post(url(cast, f"{theirs.id}/{tail}")).status_code == 404
    assert client.get(url(cast, f"{uuid.uuid4()}/")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs" and stored(theirs) == {"token": TOKEN}
    # And through their own Space's URL, an outsider to ours gets 404 for the Space itself.
    assert client.get(f"/s/{cast.other_space.slug}/connections/").status_code == 404


# --- Test connection ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_service():
    from tests.connectors.fakes import FakeService

    running = FakeService()
    yield running
    running.close()


@pytest.fixture
def tested(cast, fake_service, settings):
    settings.FASTN_HTTP_ALLOW_LOOPBACK = True
    fake_service.reset()
    fake_service.require = ("bearer", TOKEN)
    make_connector(
        cast.space,
        definition("probe", base_url=fake_service.base, name="Probe",
                   test={"action": "getThing", "params": {"id": "me"}}),
    )  # fmt: skip
    return fake_service


def probe(cast, token: str):
    return create_connection(cast.space, connector_slug="probe", name="Probe main",
                             auth_method="BEARER", credential={"token": token},
                             actor=Actor.for_user(cast.owner))  # fmt: skip


def test_test_connection_shows_ok_in_place(client, cast, tested):
    connection = probe(cast, TOKEN)
    login(client, cast.operator)
    response = client.post(url(cast, f"{connection.id}/test/"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "OK" in body and "HTTP 200" in body and TOKEN not in body
    assert tested.requests[-1]["path"] == "/things/me"
    connection.refresh_from_db()
    assert connection.status == "active" and connection.last_tested_at is not None


def test_a_refused_test_fails_the_connection_with_the_services_answer(client, cast, tested):
    connection = probe(cast, "tok-wrong")
    login(client, cast.operator)
    body = client.post(
        url(cast, f"{connection.id}/test/"), headers={"HX-Request": "true"}
    ).content.decode()
    assert "Failed" in body and "HTTP 401" in body and 'hx-swap-oob="true"' in body
    connection.refresh_from_db()
    assert connection.status == "failed" and "401" in connection.last_error
    # From the list's row menu (no htmx): back to the list, the outcome as a message.
    response = client.post(url(cast, f"{connection.id}/test/"), follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == url(cast)
    assert "Test of Probe main: failed (HTTP 401)" in page and "tok-wrong" not in page
    assert 'data-testid="last-error"' in page


def test_every_built_in_connector_has_a_new_connection_form(client, cast):
    from apps.connectors.catalog import builtin_connectors

    login(client, cast.operator)
    for slug, built_in in builtin_connectors().items():
        response = client.get(url(cast, "new/") + f"?connector={slug}")
        page = response.content.decode()
        assert response.status_code == 200, slug
        assert f"<h2>{built_in.name}</h2>" in page, slug
        for spec in built_in.connection_fields:
            assert f'name="cfg_{spec["name"]}"' in page, (slug, spec["name"])
        for method in built_in.auth_methods:
            assert f'data-testid="panel-{method.type}"' in page or method.type == "DIGEST", slug
