"""OAuth 2.0 authorization code with PKCE against the fake provider on loopback, through the
console's views: New connection → the provider's consent page → /oauth/callback. The state
is refused (and audited) when missing, unknown, replayed, expired or another person's; a
provider's refusal and a failed exchange are recorded on the connection."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.utils import timezone

from apps.connectors import oauth_flow
from apps.connectors.credentials import unseal
from apps.connectors.models import Connection, OAuthState
from apps.connectors.services.oauth_apps import oauth_app_create
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Membership, Outcome
from tests.conftest import login, make_user
from tests.connectors.factories import make_connector
from tests.connectors.fake_oauth import FakeOAuthProvider, oauth_connector_definition

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "console-client", "client-secret-s3cr3t-9876"


@pytest.fixture(scope="module")
def fake_provider():
    provider = FakeOAuthProvider()
    yield provider
    provider.close()


@pytest.fixture
def provider(fake_provider, settings):
    settings.FASTN_HTTP_ALLOW_LOOPBACK = True
    fake_provider.reset()
    fake_provider.add_client(CLIENT_ID, CLIENT_SECRET)
    return fake_provider


@pytest.fixture
def fakehub(cast, provider):
    make_connector(
        cast.space,
        oauth_connector_definition(provider, grants=["authorization_code", "client_credentials"]),
    )
    oauth_app_create(
        cast.space,
        connector_slug="fakehub",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        actor=Actor.for_user(cast.owner),
    )
    return provider


def new_url(cast) -> str:
    return f"/s/{cast.space.slug}/connections/new/"


def start(client, cast, name="FakeHub main", **extra) -> str:
    """POST the New connection form with OAuth 2.0; answer the provider's authorization URL."""
    response = client.post(
        new_url(cast),
        {"connector": "fakehub", "name": name, "auth_method": "OAUTH_2",
         "grant_type": "authorization_code", **extra},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def approve(authorization_url: str, *, decision: str = "approve") -> str:
    """What the person does at the provider: open the consent page, click Approve (or Deny).
    Answers the callback URL the provider redirects the browser to."""
    page = httpx.get(authorization_url, trust_env=False)
    assert page.status_code == 200, page.text
    link = page.text.split(f'id={decision} href="')[1].split('"')[0].replace("&amp;", "&")
    origin = urlsplit(authorization_url)
    answer = httpx.get(f"{origin.scheme}://{origin.netloc}{link}", trust_env=False)
    assert answer.status_code == 302
    return answer.headers["location"]


def callback(client, url: str):
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def denied(reason: str) -> AuditEvent:
    return AuditEvent.objects.get(
        action="connection.oauth", outcome=Outcome.DENIED, detail__reason=reason
    )


def test_connect_redirects_to_the_provider_with_pkce_and_a_hashed_state(client, cast, fakehub):
    login(client, cast.operator)
    url = start(client, cast)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(fakehub.authorization_url)
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["read write"]
    assert query["redirect_uri"] == ["http://testserver/oauth/callback"]
    flow = OAuthState.objects.get()
    state = query["state"][0]
    assert len(state) >= 43 and flow.state_hash == oauth_flow.state_hash(state) != state
    assert query["code_challenge"][0] != flow.code_verifier
    connection = Connection.objects.get()
    assert (
        connection.status == "pending"
        and flow.connection == connection
        and flow.user == cast.operator
    )


def test_approve_stores_the_token_and_the_connection_becomes_active(client, cast, fakehub):
    login(client, cast.operator)
    response = callback(client, approve(start(client, cast)))
    assert response.status_code == 302
    assert response["Location"] == f"/s/{cast.space.slug}/connections/"
    connection = Connection.objects.select_related("data_key").get()
    assert connection.status == "active" and connection.last_error == ""
    credential = unseal(connection)
    assert credential["accessToken"] in fakehub.issued_access_tokens()
    assert credential["refreshToken"] in fakehub.refresh_tokens()
    assert credential["tokenType"] == "Bearer" and credential["scope"] == "read write"
    assert credential["expiresAt"] > timezone.now().timestamp() + 3000
    assert connection.expires_at is not None
    # The exchange sent the verifier and authenticated the client (HTTP Basic by default).
    (request,) = fakehub.state.token_requests
    assert request["form"]["grant_type"] == "authorization_code"
    assert request["form"]["code_verifier"] and request["authorization"].startswith("Basic ")
    assert OAuthState.objects.get().used_at is not None
    success = AuditEvent.objects.get(action="connection.oauth", outcome=Outcome.SUCCESS)
    assert credential["accessToken"] not in str(success.detail)
    # The token is on no page.
    page = client.get(f"/s/{cast.space.slug}/connections/").content.decode()
    assert "Active" in page and credential["accessToken"] not in page
    detail = client.get(f"/s/{cast.space.slug}/connections/{connection.id}/").content.decode()
    assert credential["accessToken"] not in detail and credential["refreshToken"] not in detail


def test_client_secret_post_when_the_definition_asks_for_it(client, cast, provider):
    provider.state.auth_method = "post"
    post = {"tokenEndpointAuthMethod": "client_secret_post"}
    make_connector(cast.space, oauth_connector_definition(provider, oauth=post))
    oauth_app_create(cast.space, connector_slug="fakehub", client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, actor=Actor.for_user(cast.owner))  # fmt: skip
    login(client, cast.operator)
    callback(client, approve(start(client, cast)))
    assert Connection.objects.get().status == "active"
    (request,) = provider.state.token_requests
    assert request["form"]["client_secret"] == CLIENT_SECRET and not request["authorization"]


def test_a_replayed_state_is_refused_and_audited(client, cast, fakehub):
    login(client, cast.operator)
    url = approve(start(client, cast))
    assert callback(client, url).status_code == 302
    response = callback(client, url)
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    event = denied("replayed")
    assert event.space_id == cast.space.id and event.resource_id == str(Connection.objects.get().id)
    assert len(fakehub.state.token_requests) == 1  # the code was not sent again


def test_an_unknown_or_missing_state_is_refused_and_audited(client, cast, fakehub):
    login(client, cast.operator)
    url = approve(start(client, cast))
    forged = url.replace("state=", "state=x")
    response = callback(client, forged)
    assert response.status_code == 400 and "unknown state" in response.content.decode()
    assert denied("unknown").space_id is None
    response = client.get("/oauth/callback?code=abc")
    assert response.status_code == 400 and "no state" in response.content.decode()
    denied("missing")
    assert Connection.objects.get().status == "pending" and not fakehub.state.token_requests


def test_an_expired_state_is_refused_and_audited(client, cast, fakehub):
    login(client, cast.operator)
    url = approve(start(client, cast))
    OAuthState.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    response = callback(client, url)
    assert response.status_code == 400 and "expired" in response.content.decode()
    denied("expired")
    assert not fakehub.state.token_requests


def test_another_persons_state_is_refused_and_audited(client, cast, fakehub):
    second = make_user("operator2@example.com")
    Membership.objects.create(space=cast.space, user=second, role="operator")
    login(client, cast.operator)
    url = approve(start(client, cast))
    client.logout()
    for person in (second, cast.outsider):
        login(client, person)
        response = callback(client, url)
        assert response.status_code == 400
        assert "another person" in response.content.decode()
    assert (
        AuditEvent.objects.filter(detail__reason="other-user", outcome=Outcome.DENIED).count() == 2
    )
    assert OAuthState.objects.get().used_at is None  # the real person can still finish
    login(client, cast.operator)
    assert callback(client, url).status_code == 302
    assert Connection.objects.get().status == "active"


def test_the_callback_needs_a_signed_in_person(client, cast, fakehub):
    login(client, cast.operator)
    url = approve(start(client, cast))
    client.logout()
    response = callback(client, url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_refusal_at_the_provider_fails_the_new_connection_with_its_message(client, cast, fakehub):
    login(client, cast.operator)
    response = callback(client, approve(start(client, cast), decision="deny"))
    assert response.status_code == 302
    connection = Connection.objects.get()
    assert connection.status == "failed"
    assert "access_denied: The user denied the request" in connection.last_error
    assert not fakehub.state.token_requests
    page = client.get(response["Location"]).content.decode()
    assert "access_denied" in page and "Failed" in page
    failure = AuditEvent.objects.get(action="connection.oauth", outcome=Outcome.FAILURE)
    assert failure.detail["reason"] == "provider-error"


def test_a_wrong_verifier_is_rejected_by_the_provider_and_recorded(client, cast, fakehub):
    login(client, cast.operator)
    url = approve(start(client, cast))
    OAuthState.objects.update(code_verifier="x" * 64)
    callback(client, url)
    connection = Connection.objects.get()
    assert connection.status == "failed" and "PKCE verification failed" in connection.last_error
    assert connection.ciphertext in (b"", memoryview(b"")) or not bytes(connection.ciphertext)


def test_a_wrong_client_secret_is_rejected_and_recorded(client, cast, fakehub):
    fakehub.state.clients[CLIENT_ID] = "another-secret"
    login(client, cast.operator)
    callback(client, approve(start(client, cast)))
    connection = Connection.objects.get()
    assert connection.status == "failed" and "invalid_client" in connection.last_error
    assert CLIENT_SECRET not in connection.last_error


def test_a_token_url_on_a_private_address_is_refused_by_the_ssrf_guard(client, cast, fakehub):
    from apps.connectors.models import OAuthApp

    OAuthApp.objects.update(token_url="http://10.0.0.7/token")
    login(client, cast.operator)
    callback(client, approve(start(client, cast)))
    connection = Connection.objects.get()
    assert connection.status == "failed" and "10.0.0.7" in connection.last_error
    assert "private" in connection.last_error or "Refused" in connection.last_error


def test_client_credentials_fetch_a_token_at_once(client, cast, fakehub):
    login(client, cast.operator)
    response = client.post(
        new_url(cast),
        {"connector": "fakehub", "name": "Machine", "auth_method": "OAUTH_2",
         "grant_type": "client_credentials"},
    )  # fmt: skip
    assert response.status_code == 302
    connection = Connection.objects.select_related("data_key").get()
    assert connection.status == "active"
    credential = unseal(connection)
    assert credential["clientCredentials"] is True
    assert fakehub.state.access_tokens[credential["accessToken"]] == "client_credentials"


def test_without_an_oauth_app_the_form_says_where_to_add_one(client, cast, provider):
    make_connector(cast.space, oauth_connector_definition(provider))
    login(client, cast.owner)
    page = client.get(new_url(cast) + "?connector=fakehub").content.decode()
    assert "Add the OAuth app for FakeHub first" in page
    response = client.post(
        new_url(cast),
        {"connector": "fakehub", "name": "X", "auth_method": "OAUTH_2",
         "grant_type": "authorization_code"},
    )  # fmt: skip
    assert response.status_code == 200 and not Connection.objects.exists()


def test_the_form_page_lets_its_form_lead_to_the_provider_only(client, cast, fakehub):
    login(client, cast.operator)
    response = client.get(new_url(cast) + "?connector=fakehub")
    policy = response["Content-Security-Policy"]
    assert f"form-action 'self' {fakehub.base_url}" in policy
    other = client.get(f"/s/{cast.space.slug}/connections/")
    assert "form-action 'self';" in other["Content-Security-Policy"] + ";"


def test_reconnect_runs_the_flow_again_for_the_same_connection(client, cast, fakehub):
    login(client, cast.operator)
    callback(client, approve(start(client, cast)))
    connection = Connection.objects.select_related("data_key").get()
    first = unseal(connection)["accessToken"]
    response = client.post(
        f"/s/{cast.space.slug}/connections/{connection.id}/reconnect/",
        {"connector": "fakehub", "auth_method": "OAUTH_2", "grant_type": "authorization_code"},
    )
    assert response.status_code == 302 and response["Location"].startswith(
        fakehub.authorization_url
    )
    assert Connection.objects.get().status == "active"  # the old token works meanwhile
    callback(client, approve(response["Location"]))
    connection = Connection.objects.select_related("data_key").get()
    second = unseal(connection)["accessToken"]
    assert second != first and second in fakehub.issued_access_tokens()
    assert Connection.objects.count() == 1


def test_endpoints_use_the_connections_fields_and_the_callback_fills_returned_ones(
    client, cast, provider
):
    """Shopify's endpoints are on the shop's own host; QuickBooks sends realmId back."""
    port = provider.port
    make_connector(
        cast.space,
        oauth_connector_definition(
            provider,
            connectionFields=[
                {"name": "host", "label": "Host", "required": True},
                {"name": "realmId", "label": "Company ID", "required": False},
            ],
            oauth={
                "authorizationUrl": f"http://{{{{connection.host}}}}:{port}/authorize",
                "tokenUrl": f"http://{{{{connection.host}}}}:{port}/token",
            },
        ),
    )
    oauth_app_create(cast.space, connector_slug="fakehub", client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, actor=Actor.for_user(cast.owner))  # fmt: skip
    provider.state.callback_params = {"realmId": "4620816365", "other": "ignored"}
    login(client, cast.operator)
    url = start(client, cast, cfg_host="127.0.0.1")
    assert url.startswith(f"http://127.0.0.1:{port}/authorize?")
    callback(client, approve(url))
    connection = Connection.objects.get()
    assert connection.status == "active"
    assert connection.config == {"host": "127.0.0.1", "realmId": "4620816365"}


def test_a_connection_field_cannot_change_the_endpoints_host_or_path():
    config = {"shop": "evil.example/steal?x=", "empty": ""}
    template = "https://{{connection.shop}}.myshopify.com/admin/oauth/authorize"
    url = oauth_flow.fill_connection_fields(template, config, "authorization URL")
    assert url == "https://evil.example%2Fsteal%3Fx%3D.myshopify.com/admin/oauth/authorize"
    for template in ("https://{{connection.empty}}.x.com/", "https://{{secrets.KEY}}.x.com/"):
        with pytest.raises(oauth_flow.OAuthNotConfigured):
            oauth_flow.fill_connection_fields(template, config, "token URL")


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://github.com/login/oauth/authorize", "https://github.com"),
        ("http://127.0.0.1:8123/authorize?x=1", "http://127.0.0.1:8123"),
        ("https://{{connection.shop}}.myshopify.com/admin/oauth/authorize",
         "https://*.myshopify.com"),
        ("https://{{connection.host}}/authorize", None),
        ("https://login.{{connection.region}}.example.com/", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)  # fmt: skip
def test_the_form_target_allowed_by_the_pages_policy(url, target):
    assert oauth_flow.form_target(url) == target


def test_a_connection_disconnected_during_the_flow_takes_nothing(client, cast, fakehub):
    login(client, cast.operator)
    url = approve(start(client, cast))
    client.post(f"/s/{cast.space.slug}/connections/{Connection.objects.get().id}/disconnect/")
    response = callback(client, url)
    assert response.status_code == 400 and not Connection.objects.exists()
    assert not fakehub.state.token_requests
    denied("unknown")


def test_token_requests_refresh_and_client_credentials_against_the_fake(cast, fakehub):
    from apps.connectors.connection_selectors import connection_definition

    client_config = oauth_flow.oauth_client(
        cast.space, connection_definition(cast.space, "fakehub")
    )
    first = oauth_flow.token_request(client_config, "client_credentials", scope="read")
    assert fakehub.state.access_tokens[first["access_token"]] == "client_credentials"
    fakehub.state.refresh_tokens.add("rt-known")
    refreshed = oauth_flow.token_request(client_config, "refresh_token", refresh_token="rt-known")
    assert fakehub.state.access_tokens[refreshed["access_token"]] == "refresh_token"
    with pytest.raises(oauth_flow.TokenRequestFailed, match="invalid_grant: Unknown refresh"):
        oauth_flow.token_request(client_config, "refresh_token", refresh_token="rt-unknown")
    fakehub.state.clients[CLIENT_ID] = "rotated-at-the-provider"
    with pytest.raises(oauth_flow.TokenRequestFailed, match="invalid_client") as refused:
        oauth_flow.token_request(client_config, "client_credentials")
    assert refused.value.status == 401 and CLIENT_SECRET not in refused.value.message
    # The client's repr (tracebacks, debug pages) never holds the secret.
    assert CLIENT_SECRET not in repr(client_config)
