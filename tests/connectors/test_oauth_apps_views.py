"""Settings → OAuth Apps: Owner and Admin only; the client secret sealed, never shown, kept
when an edit leaves it empty, replaced when one is typed; every change audited without it."""

from __future__ import annotations

import pytest

from apps.connectors.credentials import unseal
from apps.connectors.models import OAuthApp
from apps.connectors.services.oauth_apps import oauth_app_create
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from tests.conftest import login
from tests.connectors.factories import definition, make_connector
from tests.connectors.fake_oauth import FakeOAuthProvider, oauth_connector_definition

pytestmark = pytest.mark.django_db

SECRET, NEW_SECRET = "cs-first-0001-secret", "cs-second-0002-secret"


@pytest.fixture(scope="module")
def provider():
    running = FakeOAuthProvider()
    yield running
    running.close()


@pytest.fixture
def fakehub(cast, provider):
    make_connector(cast.space, oauth_connector_definition(provider))
    make_connector(cast.space, definition("plain", name="Plain"))  # no OAuth: not listed
    return provider


def url(cast, tail: str = "") -> str:
    return f"/s/{cast.space.slug}/settings/oauth-apps/{tail}"


def sealed_secret() -> str:
    return unseal(OAuthApp.objects.select_related("data_key").get())["clientSecret"]


def test_configure_edit_and_delete_an_oauth_app(client, cast, fakehub):
    login(client, cast.admin)
    page = client.get(url(cast)).content.decode()
    assert "FakeHub" in page and "Plain" not in page and "Not configured" in page
    assert "http://testserver/oauth/callback" in page
    form = client.get(url(cast, "new/?connector=fakehub")).content.decode()
    assert fakehub.authorization_url in form  # the connector's endpoint, as the default
    response = client.post(
        url(cast, "new/?connector=fakehub"),
        {"client_id": "abc", "client_secret": "", "scopes": "read, write"},
    )
    assert "This field is required." in response.content.decode()
    response = client.post(
        url(cast, "new/?connector=fakehub"),
        {"client_id": "abc", "client_secret": SECRET, "scopes": "read, write"},
    )
    assert response.status_code == 302 and response["Location"] == url(cast)
    app = OAuthApp.objects.get()
    assert app.client_id == "abc" and app.scopes == "read write" and sealed_secret() == SECRET
    page = client.get(url(cast)).content.decode()
    assert "abc" in page and SECRET not in page and "Set" in page
    edit = client.get(url(cast, f"{app.id}/")).content.decode()
    assert SECRET not in edit and 'value="abc"' in edit
    # Empty secret: kept. A bad URL: an error, and the typed secret is not sent back.
    response = client.post(
        url(cast, f"{app.id}/"),
        {"client_id": "abc2", "client_secret": NEW_SECRET, "token_url": "ftp://x"},
    )
    assert "http:// or https://" in response.content.decode()
    assert NEW_SECRET not in response.content.decode()
    client.post(url(cast, f"{app.id}/"), {"client_id": "abc2", "client_secret": ""})
    assert OAuthApp.objects.get().client_id == "abc2" and sealed_secret() == SECRET
    client.post(url(cast, f"{app.id}/"), {"client_id": "abc2", "client_secret": NEW_SECRET})
    assert sealed_secret() == NEW_SECRET
    events = AuditEvent.objects.filter(action__startswith="oauth_app.")
    assert [e.detail.get("secretReplaced") for e in events.order_by("id")] == [None, False, True]
    assert all(SECRET not in str(e.detail) and NEW_SECRET not in str(e.detail) for e in events)
    # A second "new" for the same connector goes to the existing app.
    assert client.get(url(cast, "new/?connector=fakehub"))["Location"] == url(cast, f"{app.id}/")
    response = client.post(url(cast, f"{app.id}/delete/"))
    assert response.status_code == 302 and not OAuthApp.objects.exists()
    assert AuditEvent.objects.filter(action="oauth_app.delete").exists()


@pytest.mark.parametrize("role", ["developer", "operator", "viewer"])
def test_only_owner_and_admin_manage_oauth_apps(client, cast, fakehub, role):
    app = oauth_app_create(cast.space, connector_slug="fakehub", client_id="abc",
                           client_secret=SECRET, actor=Actor.for_user(cast.owner))  # fmt: skip
    login(client, cast.member(role))
    assert client.get(url(cast)).status_code == 403
    assert client.get(url(cast, "new/?connector=fakehub")).status_code == 403
    assert client.post(url(cast, f"{app.id}/"), {"client_id": "x"}).status_code == 403
    assert client.post(url(cast, f"{app.id}/delete/")).status_code == 403
    assert OAuthApp.objects.get().client_id == "abc"
    assert "OAuth Apps" not in client.get(f"/s/{cast.space.slug}/").content.decode()


def test_another_spaces_app_and_unknown_connectors_are_404(client, cast, fakehub):
    make_connector(cast.other_space, oauth_connector_definition(fakehub))
    theirs = oauth_app_create(
        cast.other_space,
        connector_slug="fakehub",
        client_id="theirs",
        client_secret=SECRET,
        actor=Actor.for_user(cast.outsider),
    )
    login(client, cast.owner)
    assert client.get(url(cast, f"{theirs.id}/")).status_code == 404
    assert client.post(url(cast, f"{theirs.id}/delete/")).status_code == 404
    assert client.get(url(cast, "new/?connector=plain")).status_code == 404
    assert client.get(url(cast, "new/?connector=nope")).status_code == 404
    page = client.get(url(cast, "new/")).content.decode()
    assert "FakeHub" in page and "Plain" not in page
    assert OAuthApp.objects.get(pk=theirs.pk).client_id == "theirs"
    assert "OAuth Apps" in client.get(f"/s/{cast.space.slug}/").content.decode()
