"""OAuth 2.0 for connections: the authorization-code flow with PKCE (S256), and the token
endpoint requests (code exchange, client credentials), always through the SSRF guard.

Authlib (pinned) builds the protocol messages — the authorization URL, the S256 challenge,
the token request bodies and the client authentication — and this module sends them with
`apps.connectors.http_client`, so a token URL that points at a private address is refused
like any other destination, on every resolved address and redirect.

The authorization-code flow:

1. `authorization_start(connection, definition=…, user=…, redirect_uri=…)` makes an
   `OAuthState` (the SHA-256 of 32 random bytes of `state`, a fresh PKCE verifier, the user,
   the redirect URI) and answers the provider's authorization URL, built from the Space's
   OAuth app for the connector (Settings → OAuth Apps) and the definition's OAUTH_2 method.
2. The provider sends the browser back to `/oauth/callback?code=…&state=…`.
   `authorization_complete(params, user=…)` refuses a missing, unknown, replayed (used),
   expired (10 minutes) or another user's state (`StateRefused`, which the view audits),
   spends the state with a conditional UPDATE, records a provider error (`access_denied`…)
   on the connection, or exchanges the code with the verifier and stores the token through
   `services.connections.replace_credential` as
   {"accessToken", "refreshToken", "tokenType", "expiresAt" (epoch seconds), "scope"}.

Token values never reach a log, an audit row or an exception message."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.connectors.auth import TOKEN_AUTH_METHODS
from apps.connectors.connection_selectors import connection_definition
from apps.connectors.credentials import CredentialUndecryptable, unseal
from apps.connectors.definition import TEMPLATE_RE, ConnectorDefinition
from apps.connectors.http_client import ConnectorError, HttpPolicy, http_request
from apps.connectors.models import Connection, ConnectionStatus, OAuthApp, OAuthState
from apps.connectors.services import connections as services
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Capability, Membership, Outcome, Space

STATE_LIFETIME = timedelta(minutes=10)
STATE_KEPT = timedelta(days=1)
TOKEN_TIMEOUT_S = 20.0
_TOKEN_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}
PROTOCOL_PARAMS = frozenset(
    {"code", "state", "error", "error_description", "error_uri", "scope", "iss", "session_state"}
)
# What a provider may say in `error` / `error_description`: printable, bounded, one line.
_MAX_PROVIDER_TEXT = 300


class OAuthError(Exception):
    """A step of an OAuth flow that cannot go on; the message is for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OAuthNotConfigured(OAuthError):
    """The connector has no OAuth 2.0 method, or the Space has no OAuth app for it."""


class TokenRequestFailed(OAuthError):
    """The token endpoint could not be reached, refused the request or answered nonsense."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class StateRefused(OAuthError):
    """A callback whose `state` cannot complete a flow. `reason` is a short code for the
    audit log (missing, unknown, replayed, expired, other-user, not-allowed)."""

    def __init__(self, reason: str, message: str, *, state: OAuthState | None = None):
        super().__init__(message)
        self.reason = reason
        self.state = state


# --- The client and its endpoints -----------------------------------------------------------


@dataclass(frozen=True)
class OAuthClient:
    """Everything a token request needs: the Space's app for the connector over the
    definition's OAUTH_2 method (the app's URLs and scopes win when set)."""

    connector_slug: str
    client_id: str
    client_secret: str
    authorization_url: str
    token_url: str
    scope: str  # joined with the definition's separator; "" for none
    grant_types: tuple[str, ...]
    pkce: bool
    token_auth_method: str
    extra_authorize_params: dict

    def __repr__(self) -> str:  # keep the secret out of every traceback and debug page
        return f"OAuthClient({self.connector_slug!r}, client_id={self.client_id!r})"


def oauth_method_options(definition: ConnectorDefinition) -> dict | None:
    spec = definition.auth("OAUTH_2")
    return None if spec is None else spec.options


def grant_types(definition: ConnectorDefinition) -> tuple[str, ...]:
    options = oauth_method_options(definition) or {}
    return tuple(options.get("grantTypes") or ["authorization_code"])


def space_oauth_app(space: Space, connector_slug: str) -> OAuthApp | None:
    return (
        OAuthApp.objects.select_related("data_key")
        .filter(space=space, connector_slug=connector_slug)
        .first()
    )


def oauth_client(
    space: Space, definition: ConnectorDefinition, config: dict | None = None
) -> OAuthClient:
    """The OAuth client of `definition` in `space`; OAuthNotConfigured says what is missing.
    With a connection's `config`, the endpoints' `{{connection.<field>}}` are filled in (a
    Shopify shop's own host); without one they are left as written."""
    options = oauth_method_options(definition)
    if options is None:
        raise OAuthNotConfigured(f"{definition.name} does not offer OAuth 2.0.")
    app = space_oauth_app(space, definition.slug)
    if app is None:
        raise OAuthNotConfigured(
            f"Add the OAuth app for {definition.name} first (Settings → OAuth Apps): its "
            "client ID and secret, from the provider's developer console."
        )
    try:
        sealed = unseal(app) or {}
    except CredentialUndecryptable as exc:
        raise OAuthNotConfigured(f"The OAuth app's client secret cannot be read: {exc}") from None
    separator = options.get("scopeSeparator") or " "
    scopes = app.scopes.replace(",", " ").split() if app.scopes.strip() else options.get("scopes")
    # The definition's `tokenEndpointAuthMethod`, read the same way by auth.py's refreshes.
    auth_method = options.get("tokenEndpointAuthMethod") or "client_secret_basic"
    if auth_method not in TOKEN_AUTH_METHODS:
        auth_method = "client_secret_basic"
    authorization_url = app.authorization_url or options.get("authorizationUrl", "")
    token_url = app.token_url or options.get("tokenUrl", "")
    if config is not None:
        authorization_url = fill_connection_fields(authorization_url, config, "authorization URL")
        token_url = fill_connection_fields(token_url, config, "token URL")
    return OAuthClient(
        connector_slug=definition.slug,
        client_id=app.client_id,
        client_secret=sealed.get("clientSecret", ""),
        authorization_url=authorization_url,
        token_url=token_url,
        scope=separator.join(str(s) for s in scopes or []),
        grant_types=grant_types(definition),
        pkce=options.get("pkce", True) is not False,
        token_auth_method=auth_method,
        extra_authorize_params=dict(options.get("extraAuthorizeParams") or {}),
    )


def fill_connection_fields(url: str, config: dict, what: str) -> str:
    """`url` with each `{{connection.<field>}}` replaced by the connection's value,
    percent-encoded so that a value cannot change which host or path is meant."""

    def value(match) -> str:
        source, name = match.group(1), match.group(2)
        found = config.get(name) if source == "connection" else None
        if not isinstance(found, str) or not found:
            raise OAuthNotConfigured(
                f"The OAuth {what} uses {{{{{source}.{name}}}}}: "
                + (f"set {name} on the connection." if source == "connection" else
                   "only connection fields can be used there.")
            )  # fmt: skip
        return quote(found, safe="")

    return TEMPLATE_RE.sub(value, url)


def form_target(url: str) -> str | None:
    """The CSP source a page's form may lead to for `url`: its origin, or for a host made from
    a connection field (`https://{{connection.shop}}.myshopify.com`) every such subdomain."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = TEMPLATE_RE.sub("*", parts.netloc)
    if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
        return None
    if not re.fullmatch(r"[*A-Za-z0-9.:\[\]-]+", host):
        return None
    return f"{parts.scheme}://{host}"


# --- Token requests through the SSRF guard --------------------------------------------------


def http_policy() -> HttpPolicy:
    return HttpPolicy(
        allow_loopback=settings.FASTN_HTTP_ALLOW_LOOPBACK,
        default_timeout_s=TOKEN_TIMEOUT_S,
        max_response_bytes=1_000_000,
        max_redirects=0,  # a token endpoint answers; it does not send the code elsewhere
    )


def token_request(client: OAuthClient, grant_type: str, **params: str) -> dict:
    """POST one token request (`authorization_code`, `client_credentials`, `refresh_token`)
    to the client's token URL and answer the token response's JSON object.

    1. Authlib prepares the form body and the client authentication (HTTP Basic, or
       client_id/client_secret in the body, as the definition's tokenEndpointAuthMethod says).
    2. The guarded client sends it (checked addresses, no redirects, a deadline).
    3. A JSON (or form-encoded) object with an access_token is the answer; an `error`, an
       HTTP error or anything else is TokenRequestFailed with what the provider said."""
    if not client.token_url:
        raise OAuthNotConfigured("The connector has no token URL; set one in its OAuth app.")
    body = prepare_token_request(grant_type, **{k: v for k, v in params.items() if v})
    auth = ClientAuth(client.client_id, client.client_secret, client.token_auth_method)
    url, headers, body = auth.prepare("POST", client.token_url, dict(_TOKEN_HEADERS), body)
    try:
        answer = http_request(
            {"method": "POST", "url": url, "headers": headers, "body": body}, http_policy()
        )
    except ConnectorError as exc:
        raise TokenRequestFailed(
            f"The token endpoint could not be reached: {exc.message}"
        ) from None
    status = answer["status"]
    token = _token_object(answer)
    if token is not None and token.get("error"):
        raise TokenRequestFailed(_provider_error(token), status=status)
    if status >= 400 or token is None:
        raise TokenRequestFailed(
            f"The token endpoint answered HTTP {status} without a token.", status=status
        )
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        raise TokenRequestFailed("The token endpoint's answer has no access_token.", status=status)
    return token


def _token_object(answer: dict) -> dict | None:
    body = answer.get("body")
    if isinstance(body, dict):
        return body
    if isinstance(body, str) and body and answer.get("bodyEncoding") != "base64":
        # A few providers answer form-encoded whatever the Accept header says.
        if "x-www-form-urlencoded" in answer.get("headers", {}).get("content-type", ""):
            return dict(parse_qsl(body)) or None
        try:
            value = json.loads(body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    return None


def _clean(text: Any) -> str:
    line = " ".join(str(text or "").split())
    return line[:_MAX_PROVIDER_TEXT]


def _provider_error(fields: dict) -> str:
    error, description = _clean(fields.get("error")), _clean(fields.get("error_description"))
    return f"{error}: {description}" if description else error


def credential_from_token(token: dict, *, requested_scope: str = "") -> dict:
    """The stored shape of a token response (auth.py refreshes into the same shape)."""
    expires_in = token.get("expires_in")
    try:
        expires_at = int(time.time()) + int(float(expires_in)) if expires_in else None
    except (TypeError, ValueError):
        expires_at = None
    scope = token.get("scope", requested_scope)
    if isinstance(scope, list):
        scope = " ".join(str(s) for s in scope)
    return {
        "accessToken": token["access_token"],
        "refreshToken": token.get("refresh_token") or None,
        "tokenType": str(token.get("token_type") or "Bearer"),
        "expiresAt": expires_at,
        "scope": str(scope or ""),
    }


def client_credentials_token(client: OAuthClient) -> dict:
    """A token for the client itself (no user): the client-credentials grant."""
    if "client_credentials" not in client.grant_types:
        raise OAuthNotConfigured("This connector does not allow the client-credentials grant.")
    token = token_request(client, "client_credentials", scope=client.scope)
    return {**credential_from_token(token, requested_scope=client.scope), "clientCredentials": True}


# --- 1. Start -------------------------------------------------------------------------------


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def authorization_start(
    connection: Connection, *, definition: ConnectorDefinition, user, redirect_uri: str
) -> str:
    """The provider's authorization URL for `connection` (new and pending, or being
    reconnected); records the flow's state, verifier and user."""
    client = oauth_client(connection.space, definition, connection.config or {})
    if "authorization_code" not in client.grant_types:
        raise OAuthNotConfigured(f"{definition.name} does not allow the authorization-code grant.")
    if not client.authorization_url:
        raise OAuthNotConfigured(
            f"{definition.name} has no authorization URL; set one in its OAuth app."
        )
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64) if client.pkce else ""
    # Flows older than a day are kept no longer: until then a late callback is told
    # "expired" rather than "unknown".
    OAuthState.objects.filter(created_at__lt=timezone.now() - STATE_KEPT).delete()
    OAuthState.objects.create(
        space_id=connection.space_id,
        connection=connection,
        user=user,
        state_hash=state_hash(state),
        code_verifier=verifier,
        redirect_uri=redirect_uri,
    )
    extra = dict(client.extra_authorize_params)
    if verifier:
        extra.update(code_challenge=create_s256_code_challenge(verifier),
                     code_challenge_method="S256")  # fmt: skip
    return prepare_grant_uri(
        client.authorization_url,
        client_id=client.client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope=client.scope or None,
        state=state,
        **extra,
    )


# --- 2. Callback ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackOutcome:
    connection: Connection
    ok: bool
    message: str


def authorization_complete(params, *, user, request=None) -> CallbackOutcome:
    """Finish a flow from the callback's query `params` (see the module docstring).
    Raises StateRefused; answers the connection with ok=False when the provider refused or
    the exchange failed (the connection then says why)."""
    flow = _spend_state(params.get("state", ""), user)
    connection = flow.connection
    actor = Actor.for_user(user)
    error = params.get("error")
    if error:
        message = f"The provider refused the authorization: {_provider_error(params)}"
        return _failed(connection, message, actor=actor, request=request, reason="provider-error")
    code = params.get("code", "")
    if not code:
        message = "The provider's answer has neither a code nor an error."
        return _failed(connection, message, actor=actor, request=request, reason="no-code")
    definition = connection_definition(connection.space, connection.connector_slug)
    try:
        if definition is None:
            raise OAuthNotConfigured(f"The connector {connection.connector_slug} no longer exists.")
        client = oauth_client(connection.space, definition, connection.config or {})
        token = token_request(
            client,
            "authorization_code",
            code=code,
            redirect_uri=flow.redirect_uri,
            code_verifier=flow.code_verifier,
        )
    except OAuthError as exc:
        message = f"The code could not be exchanged for a token: {exc.message}"
        return _failed(connection, message, actor=actor, request=request, reason="exchange")
    credential = credential_from_token(token, requested_scope=client.scope)
    try:
        _store(connection, credential, _returned_fields(definition, connection, params),
               actor=actor, request=request)  # fmt: skip
    except ValidationError as exc:  # the connection or its connector changed meanwhile
        message = f"The token could not be stored: {' '.join(exc.messages)}"
        return _failed(connection, message, actor=actor, request=request, reason="store")
    return CallbackOutcome(connection, True, f"{connection.name} is connected.")


@transaction.atomic
def _store(connection: Connection, credential: dict, config: dict | None, *, actor, request):
    """The token on the connection, which becomes Active; both audit rows say so without it."""
    services.replace_credential(
        connection, credential=credential, config=config, actor=actor, request=request
    )
    audit_record(
        space=connection.space,
        actor=actor,
        action="connection.oauth",
        resource=connection,
        request=request,
        detail={"connector": connection.connector_slug, "scope": credential["scope"]},
    )


def _returned_fields(definition: ConnectorDefinition, connection: Connection, params):
    """Connection fields the provider names in the callback (QuickBooks sends `realmId`): they
    update the connection's settings. None when there are none."""
    returned = {}
    for spec in definition.connection_fields:
        value = params.get(spec["name"]) if spec["name"] not in PROTOCOL_PARAMS else None
        if isinstance(value, str) and value and len(value) <= 500:
            returned[spec["name"]] = value
    return {**(connection.config or {}), **returned} if returned else None


def _spend_state(raw_state: str, user) -> OAuthState:
    """The flow `raw_state` belongs to, spent; StateRefused otherwise."""
    if not raw_state:
        raise StateRefused("missing", "The provider's answer has no state parameter.")
    flow = (
        OAuthState.objects.select_related("connection__space", "connection__customer", "space")
        .filter(state_hash=state_hash(raw_state))
        .first()
    )
    if flow is None:
        raise StateRefused(
            "unknown", "This authorization is not one the console started (unknown state)."
        )
    if flow.used_at is not None:
        raise StateRefused("replayed", "This authorization was already used.", state=flow)
    if flow.user_id != user.pk:
        raise StateRefused(
            "other-user", "This authorization was started by another person.", state=flow
        )
    if timezone.now() - flow.created_at > STATE_LIFETIME:
        raise StateRefused(
            "expired",
            "This authorization expired (it must finish within 10 minutes): connect again.",
            state=flow,
        )
    membership = Membership.objects.filter(space_id=flow.space_id, user=user).first()
    if membership is None or not membership.can(Capability.OPERATE):
        raise StateRefused(
            "not-allowed", "You may no longer manage connections in this Space.", state=flow
        )
    spent = OAuthState.objects.filter(id=flow.id, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if spent != 1:  # a concurrent callback with the same state won
        raise StateRefused("replayed", "This authorization was already used.", state=flow)
    return flow


def _failed(connection: Connection, message: str, *, actor, request, reason: str):
    """A flow that reached the connection but did not produce a token: a new connection
    fails with the reason; one being reconnected keeps its status (its old credential still
    works or does not, as before) and records the reason."""
    status = ConnectionStatus.FAILED if connection.status == ConnectionStatus.PENDING else None
    with transaction.atomic():
        services.mark_status(connection, status or connection.status, error=message)
        audit_record(
            space=connection.space,
            actor=actor,
            action="connection.oauth",
            resource=connection,
            outcome=Outcome.FAILURE,
            request=request,
            detail={"connector": connection.connector_slug, "reason": reason, "error": message},
        )
    return CallbackOutcome(connection, False, message)


def audit_refusal(refusal: StateRefused, *, user, request=None) -> None:
    flow = refusal.state
    audit_record(
        space=flow.space if flow is not None else None,
        actor=Actor.for_user(user),
        action="connection.oauth",
        resource=flow.connection if flow is not None else None,
        resource_label="" if flow is not None else "OAuth callback",
        outcome=Outcome.DENIED,
        request=request,
        detail={"reason": refusal.reason, "message": refusal.message},
    )
