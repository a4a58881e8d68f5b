"""Connector action calls through ConnectorRun against a fake service on loopback: params
validation, request building, each auth method, errors, retries, tracing, redaction."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl

import pytest

from apps.connectors.calls import ConnectorRun, retry_after, test_connection
from apps.connectors.models import Connection, ConnectorCall
from apps.runtime import HostError
from apps.runtime.redact import Redactor
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import Customer
from tests.connectors.calls_support import connect, make_acme
from tests.connectors.fakes import FakeService

pytestmark = pytest.mark.django_db

TOKEN = "bearer-token-s3cret-0001"


@pytest.fixture(scope="module")
def service_module():
    running = FakeService()
    yield running
    running.close()


@pytest.fixture
def service(service_module):
    service_module.reset()
    return service_module


@pytest.fixture
def acme(cast, service):
    return make_acme(cast.space, service)


def run_for(cast, customer=None, environment="draft", seconds=20.0) -> ConnectorRun:
    run = ConnectorRun(
        cast.space,
        customer=customer,
        environment=environment,
        deadline=time.monotonic() + seconds,
    )
    run.attach_redactor(Redactor())
    return run


def bearer(cast, token=TOKEN, **kwargs):
    return connect(cast.space, "BEARER", {"token": token}, **kwargs)


# --- validation and request building ---------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "acme.getThing: id is required (a string)"),
        ({"id": 5}, "acme.getThing: id must be a string, got number"),
        ({"id": "a", "limit": "10"}, "acme.getThing: limit must be an integer, got string"),
        ({"id": "a", "limit": 1.5}, "acme.getThing: limit must be an integer, got 1.5"),
        ({"id": "a", "verbose": 1}, "acme.getThing: verbose must be a boolean, got number"),
        ({"id": "a", "order": "up"}, 'acme.getThing: order must be one of "asc", "desc", got "up"'),
        ({"id": "a", "limt": 1}, "unknown parameter 'limt'"),
        ([], "acme.getThing: params must be an object, got array"),
    ],
)
def test_params_are_validated_naming_the_parameter(cast, acme, params, message):
    bearer(cast)
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", params)
    assert caught.value.code == "INVALID_REQUEST"
    assert message in caught.value.message
    if "limt" in message:
        assert "Did you mean limit?" in caught.value.message


def test_unknown_action_names_the_actions(cast, acme):
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThng", {})
    assert caught.value.code == "ACTION_NOT_FOUND"
    assert "getThing, createThing, formThing, fail, limited" in caught.value.message
    assert "Did you mean getThing?" in caught.value.message


def test_unknown_connector_names_the_spaces_connectors(cast, acme, service):
    make_acme(cast.other_space, service, slug="globex-only", name="Globex")
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acmee", "getThing", {})
    assert caught.value.code == "CONNECTOR_NOT_FOUND"
    assert "acme" in caught.value.message and "globexOnly" not in caught.value.message


def test_path_query_headers_are_filled_and_encoded(cast, acme, service):
    bearer(cast)
    answer = run_for(cast).call(
        "acme",
        "getThing",
        {"id": "a b/c?", "limit": 10, "verbose": True, "tags": ["x", "y z"], "X-Trace": "t-1"},
    )
    assert answer["status"] == 200
    seen = answer["body"]
    assert seen["path"] == "/things/a%20b%2Fc%3F"
    assert seen["rawQuery"] == "limit=10&verbose=true&tags=x&tags=y%20z"
    assert seen["headers"]["x-trace"] == "t-1"
    assert set(answer) == {"status", "headers", "body"}
    assert answer["headers"]["content-type"] == "application/json"


def test_json_body_merges_body_parameters(cast, acme, service):
    bearer(cast)
    answer = run_for(cast).call(
        "acme", "createThing", {"name": "widget", "size": 2, "body": {"extra": [1]}}
    )
    seen = answer["body"]
    assert seen["headers"]["content-type"] == "application/json"
    import json

    assert json.loads(seen["body"]) == {"extra": [1], "name": "widget", "size": 2}


def test_form_body(cast, acme, service):
    bearer(cast)
    body = {"a": "1 2", "b": [3, 4], "metadata": {"plan": "pro"}, "items": [{"price": "p_1"}]}
    answer = run_for(cast).call("acme", "formThing", {"body": body})
    seen = answer["body"]
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(seen["body"]) == [
        ("a", "1 2"),
        ("b[0]", "3"),
        ("b[1]", "4"),
        ("metadata[plan]", "pro"),
        ("items[0][price]", "p_1"),
    ]
    with pytest.raises(HostError, match="body is required"):
        run_for(cast).call("acme", "formThing", {})


# --- auth methods ------------------------------------------------------------------------------


def test_no_auth_needs_no_connection(cast, acme, service):
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200
    assert "authorization" not in service.requests[-1]["headers"]


def test_basic(cast, acme, service):
    service.require = ("basic", "ada", "pa:ss-w0rd")
    connect(cast.space, "BASIC", {"username": "ada", "password": "pa:ss-w0rd"})
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200


def test_digest_answers_the_challenge_once_per_run(cast, acme, service):
    service.require = ("digest", "ada", "digest-pass-01")
    connect(cast.space, "DIGEST", {"username": "ada", "password": "digest-pass-01"})
    run = run_for(cast)
    assert run.call("acme", "getThing", {"id": "1", "limit": 2})["status"] == 200
    assert len(service.requests) == 2  # challenge, then the answer
    assert run.call("acme", "getThing", {"id": "2"})["status"] == 200
    assert len(service.requests) == 3  # the run's challenge is reused


def test_digest_with_a_wrong_password_fails_with_the_401(cast, acme, service):
    service.require = ("digest", "ada", "digest-pass-01")
    connect(cast.space, "DIGEST", {"username": "ada", "password": "wrong-pass"})
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "DATASOURCE_CONNECTION_ERROR"
    assert caught.value.details["datasourceDebug"]["statusCode"] == 401


def test_bearer(cast, acme, service):
    service.require = ("bearer", TOKEN)
    bearer(cast)
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200


@pytest.mark.parametrize(
    ("config", "require"),
    [
        (None, ("header", "X-API-Key", "key-123456")),
        ({"in": "header", "name": "X-Custom-Key"}, ("header", "X-Custom-Key", "key-123456")),
        ({"in": "query", "name": "api_key"}, ("query", "api_key", "key-123456")),
    ],
)
def test_api_key_in_header_or_query(cast, acme, service, config, require):
    service.require = require
    connect(cast.space, "API_KEY", {"apiKey": "key-123456"}, config=config)
    run = run_for(cast)
    assert run.call("acme", "getThing", {"id": "1"})["status"] == 200
    trace = ConnectorCall.objects.get()
    assert "key-123456" not in str(trace.request) + trace.url + str(trace.response)


def test_custom_templates_with_credential_and_secret(cast, acme, service):
    secret_create(
        cast.space, name="SIGNING_KEY", type="text", value="sign-key-7788", actor=Actor.system()
    )
    service.require = ("header", "X-Token", "custom-tok-1")
    connect(cast.space, "INPUT", {"values": {"token": "custom-tok-1"}})
    run = run_for(cast)
    answer = run.call("acme", "getThing", {"id": "1"})
    assert answer["status"] == 200
    assert service.requests[-1]["query"]["sig"] == "sign-key-7788"
    # The service echoed both back to the workflow: they are redacted on the way.
    assert "custom-tok-1" not in str(answer) and "sign-key-7788" not in str(answer)
    assert "[REDACTED]" in answer["body"]["rawQuery"]


def test_custom_template_with_a_missing_secret_is_clear(cast, acme, service):
    connect(cast.space, "INPUT", {"values": {"token": "custom-tok-1"}})
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "SECRET_NOT_FOUND"
    assert "{{secrets.SIGNING_KEY}}" in caught.value.message


# --- OAuth 2.0 ---------------------------------------------------------------------------------


def oauth_app(cast, service):
    from apps.connectors.credentials import seal
    from apps.connectors.models import OAuthApp

    app = OAuthApp(space=cast.space, connector_slug="acme", client_id="client-1")
    seal(app, {"clientSecret": "client-secret-0001"})
    app.save()
    return app


def oauth_connection(cast, service, *, access="at-live-0001", expires_in=3600, refresh="rt-0001"):
    service.grant_access(access, expires_in)
    service.issue_refresh(refresh)
    return connect(
        cast.space,
        "OAUTH_2",
        {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "bearer",
            "expiresAt": time.time() + expires_in,
        },
    )


def test_oauth_token_is_sent(cast, acme, service):
    service.require = ("oauth",)
    oauth_app(cast, service)
    oauth_connection(cast, service)
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200
    assert service.token_calls == []


def test_oauth_refreshes_shortly_before_expiry(cast, acme, service):
    service.require = ("oauth",)
    oauth_app(cast, service)
    connection = oauth_connection(cast, service, expires_in=20)
    answer = run_for(cast).call("acme", "getThing", {"id": "1"})
    assert answer["status"] == 200
    assert [c["form"]["grant_type"] for c in service.token_calls] == ["refresh_token"]
    row = Connection.objects.select_related("data_key").get(pk=connection.pk)
    from apps.connectors.credentials import unseal

    stored = unseal(row)
    assert stored["accessToken"].startswith("at-") and stored["accessToken"] != "at-live-0001"
    assert stored["refreshToken"] != "rt-0001"  # rotated
    assert row.expires_at > datetime.now(UTC) + timedelta(minutes=30)


def test_oauth_refreshes_once_on_401(cast, acme, service):
    service.require = ("oauth",)
    oauth_app(cast, service)
    oauth_connection(cast, service)
    service.access.clear()  # the service revoked the token early
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200
    assert len(service.token_calls) == 1
    statuses = [r["path"] for r in service.requests if r["path"] != "/token"]
    assert len(statuses) == 2


def test_oauth_refresh_refused_expires_the_connection(cast, acme, service):
    service.require = ("oauth",)
    oauth_app(cast, service)
    connection = oauth_connection(cast, service, expires_in=5)
    service.refuse_refresh = True
    run = run_for(cast)
    with pytest.raises(HostError) as caught:
        run.call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "CONNECTION_EXPIRED"
    assert "connection 'Main' expired: reconnect it in Integrations → Connections" in (
        caught.value.message
    )
    connection.refresh_from_db()
    assert connection.status == "expired" and "invalid_grant" in connection.last_error
    # The next call (in this run or another) fails at once, without asking again.
    calls = len(service.token_calls)
    with pytest.raises(HostError, match="expired"):
        run.call("acme", "getThing", {"id": "1"})
    with pytest.raises(HostError, match="expired"):
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert len(service.token_calls) == calls


def test_oauth_client_credentials_fetches_then_reuses_the_token(cast, acme, service):
    service.require = ("oauth",)
    oauth_app(cast, service)
    connect(cast.space, "OAUTH_2", {"clientCredentials": True})
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200
    assert run_for(cast).call("acme", "getThing", {"id": "2"})["status"] == 200
    assert [c["form"]["grant_type"] for c in service.token_calls] == ["client_credentials"]
    assert service.token_calls[0]["form"]["scope"] == "things.read"


def test_oauth_without_an_app_says_where_to_add_it(cast, acme, service):
    oauth_connection(cast, service, expires_in=5)
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "OAUTH_APP_MISSING"
    assert "Settings → OAuth Apps" in caught.value.message


# --- errors, retries -----------------------------------------------------------------------


def test_service_error_has_the_reference_format(cast, acme, service):
    bearer(cast)
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "fail", {"code": 404})
    error = caught.value
    assert error.code == "DATASOURCE_CONNECTION_ERROR" and error.permanent
    assert error.details["step"] == "fail"
    debug = error.details["datasourceDebug"]
    assert debug["name"] == "fail" and debug["statusCode"] == 404
    assert debug["jsonObject"]["error"] == "thing_not_found"
    # The service echoed the Authorization header: the token never reaches the workflow.
    assert TOKEN not in str(error.details) and TOKEN not in error.message
    assert debug["jsonObject"]["echoAuth"] == "Bearer [REDACTED]"
    assert "thing_not_found" in error.message


def test_5xx_is_transient(cast, acme, service):
    bearer(cast)
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "fail", {"code": 503})
    assert caught.value.permanent is False


def test_429_is_retried_honouring_retry_after(cast, acme, service):
    service.limited_times, service.limited_after = 2, "1"
    started = time.monotonic()
    answer = run_for(cast).call("acme", "limited", {})
    assert answer["status"] == 200
    assert time.monotonic() - started >= 2
    trace = ConnectorCall.objects.get()
    assert trace.attempts == 3 and trace.status == "success"


def test_429_that_does_not_fit_the_deadline_fails_transiently(cast, acme, service):
    service.limited_times, service.limited_after = 5, "30"
    started = time.monotonic()
    with pytest.raises(HostError) as caught:
        run_for(cast, seconds=10).call("acme", "limited", {})
    assert time.monotonic() - started < 2
    assert caught.value.permanent is False
    assert caught.value.details["datasourceDebug"]["statusCode"] == 429


def test_retry_after_accepts_an_http_date():
    from apps.connectors.http_client import Exchange

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    exchange = Exchange({"status": 429}, [("Retry-After", when)], "", 0, 0)
    assert 3 < retry_after(exchange, 1) <= 5
    assert retry_after(Exchange({}, [("retry-after", "7")], "", 0, 0), 1) == 7
    assert retry_after(Exchange({}, [], "", 0, 0), 3) == 4


def test_network_error_is_transient(cast, service):
    make_acme(cast.space, type("S", (), {"base": "http://127.0.0.1:9"})())
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "CONNECTION_FAILED" and caught.value.permanent is False


# --- connections and tenancy ---------------------------------------------------------------


def test_no_connection_says_how_to_connect(cast, service):
    data_auth = {"methods": [{"type": "BEARER"}]}
    make_acme(cast.space, service, auth=data_auth)
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "CONNECTION_NOT_FOUND"
    assert "Integrations → Connections" in caught.value.message
    assert "manage.py connection set acme --space acme" in caught.value.message


def test_the_customers_connection_wins_and_never_another_customers(cast, acme, service):
    a = Customer.objects.create(space=cast.space, name="A", external_id="cust-a")
    b = Customer.objects.create(space=cast.space, name="B", external_id="cust-b")
    connect(cast.space, "BEARER", {"token": "space-token-1"}, name="Space")
    connect(cast.space, "BEARER", {"token": "token-of-b-1"}, name="B's", customer=b)
    run_for(cast, customer=a).call("acme", "getThing", {"id": "1"})
    assert service.requests[-1]["headers"]["authorization"] == "Bearer space-token-1"
    run_for(cast, customer=b).call("acme", "getThing", {"id": "1"})
    assert service.requests[-1]["headers"]["authorization"] == "Bearer token-of-b-1"
    run_for(cast).call("acme", "getThing", {"id": "1"})
    assert service.requests[-1]["headers"]["authorization"] == "Bearer space-token-1"


def test_another_spaces_connection_is_never_used(cast, service):
    make_acme(cast.space, service, auth={"methods": [{"type": "BEARER"}]})
    make_acme(cast.other_space, service, auth={"methods": [{"type": "BEARER"}]})
    connect(cast.other_space, "BEARER", {"token": "globex-token"})
    with pytest.raises(HostError) as caught:
        run_for(cast).call("acme", "getThing", {"id": "1"})
    assert caught.value.code == "CONNECTION_NOT_FOUND"
    assert service.requests == []


def test_default_connection_then_newest_active(cast, acme, service):
    first = bearer(cast, name="First", token="first-token-1")
    bearer(cast, name="Second", token="second-token")
    run_for(cast).call("acme", "getThing", {"id": "1"})
    assert service.requests[-1]["headers"]["authorization"] == "Bearer first-token-1"
    Connection.objects.filter(pk=first.pk).update(is_default=False)
    run_for(cast).call("acme", "getThing", {"id": "1"})
    assert service.requests[-1]["headers"]["authorization"] == "Bearer second-token"


def test_connection_and_credential_are_cached_for_the_run(
    cast, acme, service, django_assert_max_num_queries
):
    bearer(cast)
    run = run_for(cast)
    run.call("acme", "getThing", {"id": "1"})
    with django_assert_max_num_queries(2):  # the trace's INSERT and UPDATE
        run.call("acme", "getThing", {"id": "2"})


# --- traces --------------------------------------------------------------------------------


def test_trace_rows_record_the_call_redacted(cast, acme, service):
    connection = bearer(cast)
    run = run_for(cast)
    run.call("acme", "createThing", {"name": "w", "body": {"note": TOKEN}})
    trace = ConnectorCall.objects.get()
    assert trace.status == "success" and trace.http_status == 200
    assert trace.connection_id == connection.pk and trace.connection_name == "Main"
    assert trace.connector_slug == "acme" and trace.action == "createThing"
    assert trace.method == "POST" and trace.url.endswith("/echo/things")
    assert trace.duration_ms is not None and trace.response_bytes > 0 and trace.request_bytes > 0
    assert trace.request["headers"]["authorization"] == "[REDACTED]"
    assert TOKEN not in str(trace.request) + str(trace.response)


def test_trace_bodies_are_capped(cast, acme, service):
    bearer(cast)
    run_for(cast).call("acme", "createThing", {"name": "x" * 40_000})
    trace = ConnectorCall.objects.get()
    assert trace.request["body"]["truncated"] is True and trace.request["body"]["bytes"] > 40_000
    assert len(trace.request["body"]["preview"]) <= 16 * 1024


def test_failed_call_trace(cast, acme, service):
    bearer(cast)
    with pytest.raises(HostError):
        run_for(cast).call("acme", "fail", {"code": 404})
    trace = ConnectorCall.objects.get()
    assert trace.status == "error" and trace.http_status == 404
    assert trace.error_code == "DATASOURCE_CONNECTION_ERROR"
    assert TOKEN not in str(trace.response)


def test_http_request_is_traced_too(cast, service):
    run = run_for(cast)
    answer = run.call(
        "http",
        "request",
        {"url": service.url("/echo"), "headers": {"Authorization": "Bearer zz-1"}},
    )
    assert answer["status"] == 200
    trace = ConnectorCall.objects.get()
    assert trace.connector_slug == "http" and trace.action == "request"
    assert trace.status == "success" and trace.request["headers"]["authorization"] == "[REDACTED]"


# --- Test connection -----------------------------------------------------------------------


def test_test_connection_runs_the_test_action(cast, acme, service):
    service.require = ("bearer", TOKEN)
    connection = bearer(cast)
    outcome = test_connection(connection)
    assert outcome.ok and outcome.http_status == 200
    connection.refresh_from_db()
    assert connection.status == "active" and connection.last_tested_at is not None


def test_test_connection_failure_marks_failed(cast, acme, service):
    service.require = ("bearer", "another-token")
    connection = bearer(cast)
    outcome = test_connection(connection)
    assert not outcome.ok and outcome.http_status == 401
    connection.refresh_from_db()
    assert connection.status == "failed" and "401" in connection.last_error
    service.require = ("bearer", TOKEN)
    assert test_connection(connection).ok
    connection.refresh_from_db()
    assert connection.status == "active" and connection.last_error == ""


def test_test_connection_with_a_test_url(cast, service):
    make_acme(cast.space, service, test={})
    service.require = ("basic", "u1", "p1-secret")
    connection = connect(
        cast.space,
        "BASIC",
        {"username": "u1", "password": "p1-secret"},
        config={"testUrl": service.url("/echo/ping")},
    )
    outcome = test_connection(connection)
    assert outcome.ok, outcome.message
    assert service.requests[-1]["path"] == "/echo/ping"
    basic = base64.b64encode(b"u1:p1-secret").decode()
    assert basic not in str(ConnectorCall.objects.get().request)


# --- the HTTP connector with a connection --------------------------------------------------


def http_connection(cast, service, method="BEARER", credential=None, **config):
    return connect(
        cast.space,
        method,
        credential if credential is not None else {"token": TOKEN},
        slug="http",
        config={"baseUrl": service.url("/echo/api"), **config},
    )


def test_http_request_under_the_base_url_gets_the_connections_auth(cast, service):
    connection = http_connection(cast, service)
    run = run_for(cast)
    answer = run.call("http", "request", {"url": service.url("/echo/api/items?x=1")})
    assert service.requests[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"
    # The echo would hand the token back to the workflow: it is redacted on the way.
    assert answer["body"]["headers"]["authorization"] == "Bearer [REDACTED]"
    assert set(answer) == {"status", "headers", "body"}
    trace = ConnectorCall.objects.get()
    assert trace.connection_id == connection.pk and TOKEN not in str(trace.request)
    # Elsewhere (another path, a look-alike host), no auth is added.
    run.call("http", "request", {"url": service.url("/echo/apiary")})
    assert "authorization" not in service.requests[-1]["headers"]
    # A header the code sets itself wins.
    run.call(
        "http",
        "request",
        {"url": service.url("/echo/api/x"), "headers": {"Authorization": "Token mine-0001"}},
    )
    assert service.requests[-1]["headers"]["authorization"] == "Token mine-0001"


def test_http_request_non_2xx_keeps_the_generic_shape(cast, service):
    http_connection(cast, service, "API_KEY", {"apiKey": "key-7777777"}, **{"in": "query"})
    Connection.objects.filter(connector_slug="http").update(
        config={"baseUrl": service.url("/status"), "in": "query", "name": "k"}
    )
    answer = run_for(cast).call("http", "request", {"url": service.url("/status/404")})
    assert answer["status"] == 404 and service.requests[-1]["query"]["k"] == "key-7777777"


def test_http_request_with_digest(cast, service):
    service.require = ("digest", "ada", "digest-pass-01")
    http_connection(cast, service, "DIGEST", {"username": "ada", "password": "digest-pass-01"})
    answer = run_for(cast).call("http", "request", {"url": service.url("/echo/api/d")})
    assert answer["status"] == 200


def test_oauth_token_in_a_named_header(cast, service):
    make_acme(
        cast.space,
        service,
        auth={
            "methods": [
                {
                    "type": "OAUTH_2",
                    "authorizationUrl": service.url("/authorize"),
                    "tokenUrl": service.url("/token"),
                    "in": "header",
                    "name": "X-Shop-Token",
                    "prefix": "",
                }
            ]
        },
    )
    connect(cast.space, "OAUTH_2", {"accessToken": "at-shop-00001"})
    service.require = ("header", "X-Shop-Token", "at-shop-00001")
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200
    assert "authorization" not in service.requests[-1]["headers"]


def test_oauth_client_secret_post(cast, service):
    make_acme(
        cast.space,
        service,
        auth={
            "methods": [
                {
                    "type": "OAUTH_2",
                    "grantTypes": ["client_credentials"],
                    "tokenUrl": service.url("/token"),
                    "tokenEndpointAuthMethod": "client_secret_post",
                    "scopes": ["a", "b"],
                    "scopeSeparator": ",",
                }
            ]
        },
    )
    oauth_app(cast, service)
    service.require = ("oauth",)
    connect(cast.space, "OAUTH_2", {"clientCredentials": True})
    assert run_for(cast).call("acme", "getThing", {"id": "1"})["status"] == 200
    [call] = service.token_calls
    assert call["form"]["client_secret"] == "client-secret-0001"
    assert call["form"]["scope"] == "a,b"
