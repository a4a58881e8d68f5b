"""A fake OAuth 2.0 provider speaking real HTTP on loopback, for the connection tests.

- `GET /authorize` checks the client, the redirect URI and the PKCE challenge and shows a
  tiny consent page with Approve and Deny buttons; Approve redirects back to the
  redirect URI with `code` and `state`, Deny with `error=access_denied`.
- `POST /token` authenticates the client (HTTP Basic or client_id/client_secret in the body,
  as `auth_method` says: "basic", "post" or "either") and answers the grants
  `authorization_code` (one use; the redirect URI must match; the PKCE verifier must hash to
  the challenge), `refresh_token` and `client_credentials`, with RFC 6749 errors otherwise.
- `GET /me` answers 200 for a current access token (Bearer), 401 otherwise.

Everything it issued and every token request is recorded for the tests' assertions."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str
    challenge_method: str
    used: bool = False


@dataclass
class FakeProviderState:
    clients: dict[str, str] = field(default_factory=dict)  # client id → secret
    auth_method: str = "either"
    require_pkce: bool = True
    expires_in: int = 3600
    callback_params: dict[str, str] = field(default_factory=dict)  # added to an approval
    codes: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)  # token → grant type
    refresh_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict] = field(default_factory=list)
    authorize_requests: list[dict] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    provider: FakeOAuthProvider

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup
        self.server_name = "fake-oauth"
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class FakeOAuthProvider:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.state = FakeProviderState()
        self.lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.provider = self
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.state.clients[client_id] = client_secret

    def reset(self) -> None:
        with self.lock:
            self.state = FakeProviderState()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def authorization_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def issued_access_tokens(self) -> list[str]:
        return list(self.state.access_tokens)

    def refresh_tokens(self) -> set[str]:
        return set(self.state.refresh_tokens)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def provider(self) -> FakeOAuthProvider:
        return self.server.provider

    # --- plumbing ---------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _html(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", [("Location", location)])

    def _query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    # --- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/authorize":
            self._authorize(self._query())
        elif path == "/decide":
            self._decide(self._query())
        elif path == "/me":
            self._me()
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if urlsplit(self.path).path == "/token":
            self._token(dict(parse_qsl(body, keep_blank_values=True)))
        else:
            self._json(404, {"error": "not_found"})

    def _authorize(self, q: dict[str, str]) -> None:
        state = self.provider.state
        state.authorize_requests.append(q)
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id not in state.clients:
            self._html(400, "<h1>Unknown client</h1>")
            return
        if q.get("response_type") != "code" or not redirect_uri:
            self._html(400, "<h1>Bad authorization request</h1>")
            return
        challenge, method = q.get("code_challenge", ""), q.get("code_challenge_method", "")
        if state.require_pkce and (not challenge or method != "S256"):
            self._html(400, "<h1>PKCE with S256 is required</h1>")
            return
        code = secrets.token_urlsafe(24)
        with self.provider.lock:
            state.codes[code] = Grant(
                client_id, redirect_uri, q.get("scope", ""), challenge, method
            )
        approve = "/decide?" + urlencode({"code": code, "state": q.get("state", ""), "ok": "1"})
        deny = "/decide?" + urlencode({"code": code, "state": q.get("state", ""), "ok": "0"})
        scope = html.escape(q.get("scope", "") or "(none)")
        self._html(
            200,
            "<!DOCTYPE html><html><head><title>Fake provider: authorize</title></head><body>"
            f"<h1>Authorize {html.escape(client_id)}</h1>"
            f"<p>Scopes: <span id=scopes>{scope}</span></p>"
            f'<a id=approve href="{html.escape(approve)}"><button type=button>Approve</button></a> '
            f'<a id=deny href="{html.escape(deny)}"><button type=button>Deny</button></a>'
            "</body></html>",
        )

    def _decide(self, q: dict[str, str]) -> None:
        grant = self.provider.state.codes.get(q.get("code", ""))
        if grant is None:
            self._html(400, "<h1>Unknown request</h1>")
            return
        if q.get("ok") == "1":
            params = {
                "code": q["code"],
                "state": q.get("state", ""),
                **self.provider.state.callback_params,
            }
        else:
            params = {
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": q.get("state", ""),
            }
        separator = "&" if "?" in grant.redirect_uri else "?"
        self._redirect(grant.redirect_uri + separator + urlencode(params))

    def _client(self, form: dict[str, str]) -> str | None:
        """The authenticated client id, or None (after answering 401)."""
        state = self.provider.state
        header = self.headers.get("Authorization", "")
        basic = None
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
                basic = tuple(decoded.split(":", 1))
            except (ValueError, UnicodeDecodeError):
                basic = None
        posted = (
            (form.get("client_id"), form.get("client_secret")) if "client_secret" in form else None
        )
        if state.auth_method == "basic":
            pair = basic
        elif state.auth_method == "post":
            pair = posted
        else:
            pair = basic or posted
        if pair is None or len(pair) != 2 or state.clients.get(pair[0]) != pair[1]:
            self._json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
            return None
        return pair[0]

    def _token(self, form: dict[str, str]) -> None:
        state = self.provider.state
        with self.provider.lock:
            state.token_requests.append(
                {"form": dict(form), "authorization": self.headers.get("Authorization", "")}
            )
        client_id = self._client(form)
        if client_id is None:
            return
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            self._exchange(client_id, form)
        elif grant_type == "refresh_token":
            if form.get("refresh_token") not in state.refresh_tokens:
                self._json(
                    400, {"error": "invalid_grant", "error_description": "Unknown refresh token"}
                )
                return
            self._issue("refresh_token", form.get("scope", ""))
        elif grant_type == "client_credentials":
            self._issue("client_credentials", form.get("scope", ""), refresh=False)
        else:
            self._json(400, {"error": "unsupported_grant_type"})

    def _exchange(self, client_id: str, form: dict[str, str]) -> None:
        state = self.provider.state
        with self.provider.lock:
            grant = state.codes.get(form.get("code", ""))
            if grant is None or grant.used or grant.client_id != client_id:
                self._json(
                    400, {"error": "invalid_grant", "error_description": "Unknown or used code"}
                )
                return
            grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            self._json(
                400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
            )
            return
        if grant.challenge and s256(form.get("code_verifier", "")) != grant.challenge:
            self._json(
                400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            )
            return
        self._issue("authorization_code", grant.scope)

    def _issue(self, grant_type: str, scope: str, *, refresh: bool = True) -> None:
        state = self.provider.state
        access = "fake-at-" + secrets.token_urlsafe(18)
        payload = {"access_token": access, "token_type": "Bearer",
                   "expires_in": state.expires_in, "scope": scope}  # fmt: skip
        with self.provider.lock:
            state.access_tokens[access] = grant_type
            if refresh:
                payload["refresh_token"] = "fake-rt-" + secrets.token_urlsafe(18)
                state.refresh_tokens.add(payload["refresh_token"])
        self._json(200, payload)

    def _me(self) -> None:
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if token in self.provider.state.access_tokens:
            self._json(200, {"id": "user-1", "name": "Fake User"})
        else:
            self._json(401, {"error": "invalid_token"})


def oauth_connector_definition(
    provider: FakeOAuthProvider, slug: str = "fakehub", *, grants=("authorization_code",), **extra
) -> dict:
    """A connector whose only auth method is OAuth 2.0 at the fake provider, with a test
    action that GETs /me (for the factories in tests/connectors/factories.py)."""
    from tests.connectors.factories import definition

    method = {
        "type": "OAUTH_2",
        "grantTypes": list(grants),
        "authorizationUrl": provider.authorization_url,
        "tokenUrl": provider.token_url,
        "scopes": ["read", "write"],
        "pkce": True,
        **extra.pop("oauth", {}),
    }
    return definition(
        slug,
        base_url=provider.base_url,
        name=extra.pop("name", "FakeHub"),
        auth={"default": "OAUTH_2", "methods": [method]},
        actions=[{"name": "me", "method": "GET", "path": "/me"}],
        test={"action": "me"},
        **extra,
    )
