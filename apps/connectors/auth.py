"""Auth injection for connector calls, and OAuth 2.0 tokens kept fresh.

`apply_auth(request, binding, run)` adds what the connection's auth method needs to an
outgoing request (`calls.Outgoing`):

    NO_AUTH    nothing
    BASIC      Authorization: Basic base64(username:password)
    DIGEST     nothing up front: `calls` answers the service's challenge with httpx.DigestAuth
               (one extra round trip for the first call of a run, none after)
    BEARER     Authorization: Bearer <token>
    API_KEY    <prefix><apiKey> in the header or query parameter named by the connection's
               config ({"in", "name"}), else by the definition's method (X-API-Key)
    OAUTH_2    Authorization: <tokenType or Bearer> <accessToken>, refreshed first when it
               expires within REFRESH_MARGIN_S (and, by `calls`, once after a 401)
    INPUT      the method's header and query templates ({{credential.x}}, {{connection.x}},
               {{secrets.NAME}})

OAuth 2.0 token requests (refresh_token and client_credentials grants) are prepared and
parsed by Authlib and sent through the connectors' SSRF guard (`send_prepared`). A refresh
locks the connection row (SELECT … FOR UPDATE) and reads the credential again, so two runs
refreshing at once do not both spend a rotating refresh token: the second finds the first's
new token and uses it. A token that cannot be refreshed marks the connection Expired."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.client import DEFAULT_HEADERS, OAuth2Client
from django.db import transaction

from apps.connectors.credentials import CredentialUndecryptable, unseal
from apps.connectors.definition import TEMPLATE_RE, AuthSpec, ConnectorDefinition
from apps.connectors.http_client import ConnectorError, HttpPolicy, send_prepared
from apps.connectors.models import AuthMethod, Connection, ConnectionStatus, OAuthApp
from apps.connectors.services.connections import mark_status, oauth_expires_at, store_credential
from apps.runtime import HostError

REFRESH_MARGIN_S = 60
TOKEN_TIMEOUT_S = 30.0
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
RECONNECT_HINT = "reconnect it in Integrations → Connections"


class RunContext(Protocol):
    """What auth needs from the run making the call (calls.ConnectorRun)."""

    space: Any
    customer: Any
    policy: HttpPolicy

    def remaining_s(self) -> float: ...
    def remember(self, value: Any) -> None: ...
    def secret(self, name: str) -> str: ...


@dataclass
class Binding:
    """A connector as one run calls it: its definition, the connection chosen for the run
    and its decrypted credential (cached for the run), and auth state kept between calls."""

    connector_slug: str
    definition: ConnectorDefinition
    version_label: str
    connection: Connection | None
    credential: dict | None
    digest: httpx.DigestAuth | None = None
    extra: dict = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.connection.auth_method if self.connection else AuthMethod.NO_AUTH

    @property
    def spec(self) -> AuthSpec:
        return self.definition.auth(self.method) or AuthSpec(type=self.method)

    @property
    def config(self) -> dict:
        return (self.connection.config or {}) if self.connection else {}

    @property
    def label(self) -> str:
        return self.connection.name if self.connection else self.definition.name


class AuthFailure(HostError):
    """The connection's credential is unusable (expired, refused, undecryptable)."""


# --- templates ------------------------------------------------------------------------------


def render(template: str, binding: Binding, run: RunContext, *, where: str) -> str:
    """Fill `{{connection.x}}`, `{{credential.x}}` and `{{secrets.NAME}}` in a definition's
    template. A missing value is an error naming the template's place, never a blank."""

    def value(match) -> str:
        source, name = match.group(1), match.group(2)
        if source == "connection":
            found = binding.config.get(name)
            if found is None or found == "":
                raise HostError(
                    "CONNECTION_INVALID",
                    f"{where} uses {{{{connection.{name}}}}}, but connection "
                    f"{binding.label!r} has no {name}: set it in Integrations → Connections.",
                )
            return str(found)
        if source == "credential":
            values = (binding.credential or {}).get("values")
            found = (values if isinstance(values, dict) else binding.credential or {}).get(name)
            if not isinstance(found, str):
                raise HostError(
                    "CONNECTION_INVALID",
                    f"{where} uses {{{{credential.{name}}}}}, but connection "
                    f"{binding.label!r} has no such field: {RECONNECT_HINT}.",
                )
            return found
        return run.secret(name)

    return TEMPLATE_RE.sub(value, template)


# --- injection ------------------------------------------------------------------------------


def basic_value(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


# The secret parts of each method's credential (a token type, a scope or an expiry time are
# not secret, and redacting "Bearer" or "3600" everywhere would ruin every log).
SECRET_FIELDS = {
    AuthMethod.BASIC: ("username", "password"),
    AuthMethod.DIGEST: ("username", "password"),
    AuthMethod.BEARER: ("token",),
    AuthMethod.API_KEY: ("apiKey",),
    AuthMethod.OAUTH_2: ("accessToken", "refreshToken", "clientSecret"),
}


def remember_credential(binding: Binding, run: RunContext) -> None:
    """Register the credential's secret values with the run's redaction, with the Basic form
    (an echoing service could otherwise hand them back to the workflow)."""
    credential = binding.credential or {}
    method = binding.method
    if method == AuthMethod.CUSTOM:
        fields = {
            str(f.get("name")): f
            for f in binding.spec.options.get("fields") or []
            if isinstance(f, dict)
        }
        values = credential.get("values") or {}
        for name, value in values.items():
            if fields.get(name, {}).get("secret", True) is not False:
                run.remember(value)
        return
    for name in SECRET_FIELDS.get(method, ()):
        run.remember(credential.get(name))
    if method in (AuthMethod.BASIC, AuthMethod.DIGEST):
        run.remember(basic_value(credential.get("username", ""), credential.get("password", "")))


def apply_auth(request, binding: Binding, run: RunContext) -> None:
    """Add the connection's auth to `request` (headers/query); see the module docstring."""
    credential = binding.credential or {}
    method = binding.method
    if method == AuthMethod.BASIC:
        request.set_header(
            "Authorization", basic_value(credential["username"], credential["password"])
        )
    elif method == AuthMethod.BEARER:
        request.set_header("Authorization", f"Bearer {credential['token']}")
    elif method == AuthMethod.API_KEY:
        _apply_api_key(request, binding)
    elif method == AuthMethod.OAUTH_2:
        _apply_oauth(request, binding, oauth_access_token(binding, run))
    elif method == AuthMethod.CUSTOM:
        options = binding.spec.options
        for name, template in (options.get("headers") or {}).items():
            request.set_header(
                name, render(str(template), binding, run, where=f"The auth header {name}")
            )
            request.private_headers.add(name.lower())
        for name, template in (options.get("query") or {}).items():
            request.set_query(
                name, render(str(template), binding, run, where=f"The auth query {name}")
            )


def _apply_oauth(request, binding: Binding, token: str) -> None:
    """Authorization: Bearer <token>, unless the method names another place (Shopify takes
    it in X-Shopify-Access-Token: {"in": "header", "name": …, "prefix": ""})."""
    options = binding.spec.options
    name = options.get("name")
    if name:
        value = f"{options.get('prefix') or ''}{token}"
        if options.get("in") == "query":
            request.set_query(name, value)
        else:
            request.set_header(name, value)
            request.private_headers.add(name.lower())
        return
    token_type = str((binding.credential or {}).get("tokenType") or "Bearer")
    # Providers answer "bearer"; the header's scheme is conventionally capitalised.
    scheme = "Bearer" if token_type.lower() == "bearer" else token_type
    request.set_header("Authorization", f"{scheme} {token}")


def _apply_api_key(request, binding: Binding) -> None:
    options = binding.spec.options
    config = binding.config
    where = config.get("in") or options.get("in") or "header"
    name = config.get("name") or options.get("name") or "X-API-Key"
    value = f"{options.get('prefix') or ''}{(binding.credential or {})['apiKey']}"
    if where == "query":
        request.set_query(name, value)
    else:
        request.set_header(name, value)
        request.private_headers.add(name.lower())


# --- OAuth 2.0 ------------------------------------------------------------------------------


def oauth_access_token(binding: Binding, run: RunContext) -> str:
    """The access token to send, fetched (client credentials) or refreshed first when it is
    missing or expires within REFRESH_MARGIN_S."""
    credential = binding.credential or {}
    token = credential.get("accessToken")
    if not token or _expiring(credential):
        oauth_refresh(binding, run, stale=token)
        token = (binding.credential or {}).get("accessToken")
    return token


def _expiring(credential: dict) -> bool:
    expires = credential.get("expiresAt")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return False
    return expires - time.time() <= REFRESH_MARGIN_S


def oauth_refresh(binding: Binding, run: RunContext, *, stale: str | None) -> None:
    """Get a new access token for the binding's connection, once for all concurrent runs.

    1. Lock the connection row and read its credential again: if another run replaced the
       token we hold (`stale`) with one that is not about to expire, use that one.
    2. Otherwise ask the token endpoint (refresh_token grant, or client_credentials for a
       client-credentials connection) and store the answer before the lock is released.
    3. A refused refresh (no refresh token, invalid_grant, a 4xx) marks the connection
       Expired with the reason, and fails the call: reconnect it."""
    connection = binding.connection
    try:
        with transaction.atomic():
            row = (
                Connection.objects.select_for_update(of=("self",))
                .select_related("data_key")
                .filter(pk=connection.pk)
                .first()
            )
            if row is None:
                raise HostError(
                    "CONNECTION_NOT_FOUND",
                    f"Connection {connection.name!r} was deleted during the run.",
                )
            current = _unsealed(row)
            fresh = current.get("accessToken")
            if fresh and fresh != stale and not _expiring(current):
                binding.credential = current
                remember_credential(binding, run)
                return
            answer = _grant(binding, row, current, run)
            store_credential(row, answer, expires_at=oauth_expires_at(answer))
    except _Refused as refused:
        mark_status(connection, ConnectionStatus.EXPIRED, error=refused.reason)
        connection.status = ConnectionStatus.EXPIRED
        raise AuthFailure(
            "CONNECTION_EXPIRED",
            f"connection {connection.name!r} expired: {RECONNECT_HINT} ({refused.reason})",
        ) from None
    binding.credential = answer
    remember_credential(binding, run)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unsealed(row: Connection) -> dict:
    try:
        return unseal(row) or {}
    except CredentialUndecryptable as exc:
        raise _Refused(str(exc)) from None


def _grant(binding: Binding, row: Connection, current: dict, run: RunContext) -> dict:
    """Ask the token endpoint for a new token; the stored credential's shape comes back."""
    client, token_url, scope = _oauth_client(binding, row, current, run)
    headers = dict(DEFAULT_HEADERS)  # Authlib would otherwise add to its module-level dict
    try:
        if current.get("clientCredentials"):
            kwargs = {"scope": scope} if scope else {}
            token = client.fetch_token(
                token_url, grant_type="client_credentials", headers=headers, **kwargs
            )
        else:
            refresh_token = current.get("refreshToken")
            if not refresh_token:
                raise _Refused("the access token expired and there is no refresh token")
            token = client.refresh_token(token_url, refresh_token=refresh_token, headers=headers)
    except OAuth2Error as exc:
        raise _Refused(f"the token endpoint refused: {exc.error or 'error'}") from None
    except _TokenEndpointError as exc:
        if exc.permanent:
            raise _Refused(exc.message) from None
        raise HostError("OAUTH_TOKEN_UNAVAILABLE", exc.message, permanent=False) from None
    except ConnectorError as exc:
        raise HostError(
            "OAUTH_TOKEN_UNAVAILABLE",
            f"Could not reach the token endpoint: {exc.message}",
            permanent=exc.permanent,
        ) from None
    except ValueError as exc:
        raise _Refused(f"the token endpoint answered nonsense: {exc}") from None
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise _Refused("the token endpoint answered no access_token")
    answer = {
        key: value
        for key, value in current.items()
        if key in ("clientCredentials", "clientId", "clientSecret")
    }
    answer.update(
        accessToken=access,
        refreshToken=token.get("refresh_token") or current.get("refreshToken"),
        tokenType=str(token.get("token_type") or "Bearer"),
        expiresAt=token.get("expires_at"),
        scope=token.get("scope") or current.get("scope"),
    )
    return {key: value for key, value in answer.items() if value is not None}


def _oauth_client(
    binding: Binding, row: Connection, current: dict, run: RunContext
) -> tuple[OAuth2Client, str, str | None]:
    """Authlib's client for the connection (the Space's OAuth app, or the client id and
    secret stored with a client-credentials connection), the token URL (the app's, else the
    definition's, templates filled) and the scope to ask a client-credentials token for."""
    spec = binding.definition.auth(AuthMethod.OAUTH_2) or AuthSpec(type=AuthMethod.OAUTH_2)
    app = (
        OAuthApp.objects.select_related("data_key")
        .filter(space_id=row.space_id, connector_slug=row.connector_slug)
        .first()
    )
    client_id = current.get("clientId") or (app.client_id if app else None)
    secret = current.get("clientSecret")
    if secret is None and app is not None:
        try:
            secret = (unseal(app) or {}).get("clientSecret")
        except CredentialUndecryptable as exc:
            raise HostError("OAUTH_APP_INVALID", str(exc)) from None
    if not client_id:
        raise HostError(
            "OAUTH_APP_MISSING",
            f"No OAuth app for {binding.definition.name}: add its client id and secret in "
            "Settings → OAuth Apps.",
        )
    token_url = (app.token_url if app and app.token_url else "") or spec.options.get("tokenUrl")
    token_url = render(str(token_url or ""), binding, run, where="The OAuth token URL")
    if secret:
        run.remember(secret)
    options = spec.options
    method = options.get("tokenEndpointAuthMethod") or "client_secret_basic"
    if method not in TOKEN_AUTH_METHODS:
        method = "client_secret_basic"
    client = OAuth2Client(
        _GuardedSession(run),
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method=method if secret else "none",
    )
    if app is not None and app.scopes.strip():
        scopes = app.scopes.replace(",", " ").split()
    else:
        scopes = [str(s) for s in options.get("scopes") or []]
    scope = (options.get("scopeSeparator") or " ").join(scopes) or None
    return client, token_url, scope


class _TokenEndpointError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class _TokenResponse:
    """The little of a `requests` response Authlib reads from a token endpoint's answer."""

    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, dict):
            return self._body
        raise ValueError("not a JSON object")

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise _TokenEndpointError(
                f"the token endpoint answered HTTP {self.status_code}",
                permanent=self.status_code < 500 and self.status_code != 429,
            )


class _GuardedSession:
    """Authlib's HTTP session, sending through `send_prepared` (the SSRF guard)."""

    def __init__(self, run: RunContext) -> None:
        self.run = run

    def post(self, url, data=None, headers=None, auth=None, **_kwargs) -> _TokenResponse:
        return self.request("POST", url, data=data, headers=headers, auth=auth)

    def request(self, method, url, data=None, headers=None, auth=None, **_kwargs):
        body = urlencode(data or {})
        headers = dict(headers or {})
        if auth is not None:
            url, headers, body = auth.prepare(method, url, headers, body)
        items = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        # A token endpoint answers; it has no business sending the grant elsewhere.
        policy = replace(self.run.policy, max_redirects=0, max_response_bytes=1_000_000)
        exchange = send_prepared(
            method,
            url,
            items,
            body.encode() if method == "POST" else None,
            policy,
            timeout_s=min(TOKEN_TIMEOUT_S, self.run.remaining_s()),
        )
        answer = exchange.answer
        body = answer.get("body")
        if isinstance(body, dict):
            for name in ("access_token", "refresh_token", "id_token"):
                self.run.remember(body.get(name))
        return _TokenResponse(answer["status"], body)
