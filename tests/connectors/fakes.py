"""Fake services speaking real HTTP (and SMTP) on loopback, for connector call tests.

`FakeService` answers, whatever the auth it is set to require (`require`):

    /things/<id>, /echo…   200 with what it received: method, path, query, headers, body
    /status/<code>         that status with a JSON error body that also echoes the
                           Authorization header (an indiscreet service)
    /limited               429 with `Retry-After: <limited_after>` for the first
                           `limited_times` calls, then 200
    /token                 an OAuth 2.0 token endpoint: refresh_token (rotating: each refresh
                           token works once) and client_credentials grants, client auth by
                           Basic or in the body

`require` is one of None, ("basic", user, password), ("digest", user, password),
("bearer", token), ("header", name, value), ("query", name, value), ("oauth",) (an access
token issued by /token or added with `grant_access`). Requests failing it get 401 (with a
Digest challenge for digest).

`FakeSmtp` is a small SMTP server (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, NOOP, RSET,
QUIT) keeping the messages it accepted."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: FakeService

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup
        self.server_name = "fake"
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address) -> None:
        pass


class FakeService:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.service = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.require: tuple | None = None
        self.requests: list[dict[str, Any]] = []
        self.nonces: set[str] = set()
        self.limited_times = 0
        self.limited_after = "0"
        self.limited_seen = 0
        # OAuth
        self.clients: dict[str, str] = {"client-1": "client-secret-0001"}
        self.access: dict[str, float] = {}  # token -> expires (epoch)
        self.refresh_tokens: set[str] = set()
        self.token_calls: list[dict[str, Any]] = []
        self.token_delay = 0.0
        self.token_expires_in = 3600
        self.refuse_refresh = False

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # OAuth helpers for tests
    def grant_access(self, token: str, expires_in: float = 3600) -> None:
        self.access[token] = time.time() + expires_in

    def issue_refresh(self, token: str) -> None:
        self.refresh_tokens.add(token)

    def new_tokens(self) -> dict[str, Any]:
        access = "at-" + secrets.token_hex(8)
        refresh = "rt-" + secrets.token_hex(8)
        self.grant_access(access, self.token_expires_in)
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": self.token_expires_in,
        }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324  (Digest's own algorithm)


def _digest_params(header: str) -> dict[str, str]:
    out = {}
    for part in header[len("Digest ") :].split(","):
        key, _, value = part.strip().partition("=")
        out[key.strip()] = value.strip().strip('"')
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    @property
    def service(self) -> FakeService:
        return self.server.service

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        service = self.service
        body = self._body()
        split = urlsplit(self.path)
        record = {
            "method": self.command,
            "path": split.path,
            "rawQuery": split.query,
            "query": {k: v if len(v) > 1 else v[0] for k, v in parse_qs(split.query).items()},
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        with service.lock:
            service.requests.append(record)
        if split.path == "/token":
            return self._token(body)
        refusal = self._check_auth(record)
        if refusal is not None:
            return self._send(401, {"error": "unauthorized"}, refusal)
        if split.path.startswith("/status/"):
            code = int(split.path.rsplit("/", 1)[1])
            return self._send(
                code,
                {
                    "ok": False,
                    "error": "thing_not_found" if code < 500 else "upstream_broken",
                    "echoAuth": self.headers.get("authorization", ""),
                },
            )
        if split.path == "/limited":
            with service.lock:
                service.limited_seen += 1
                limited = service.limited_seen <= service.limited_times
            if limited:
                return self._send(
                    429, {"error": "slow down"}, {"Retry-After": service.limited_after}
                )
        self._send(200, record)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _check_auth(self, record: dict) -> dict[str, str] | None:
        """None when the request passes `require`, else the 401's extra headers."""
        require = self.service.require
        if require is None:
            return None
        kind = require[0]
        header = self.headers.get("authorization", "")
        if kind == "basic":
            expected = base64.b64encode(f"{require[1]}:{require[2]}".encode()).decode()
            return None if header == f"Basic {expected}" else {}
        if kind == "bearer":
            return None if header == f"Bearer {require[1]}" else {}
        if kind == "header":
            return None if self.headers.get(require[1]) == require[2] else {}
        if kind == "query":
            return None if record["query"].get(require[1]) == require[2] else {}
        if kind == "oauth":
            token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
            expires = self.service.access.get(token)
            return None if expires is not None and expires > time.time() else {}
        if kind == "digest":
            return self._check_digest(header, require[1], require[2])
        raise AssertionError(f"unknown requirement {kind}")

    def _check_digest(self, header: str, user: str, password: str) -> dict[str, str] | None:
        realm = "fake"
        if header.startswith("Digest "):
            p = _digest_params(header)
            if p.get("nonce") in self.service.nonces and p.get("username") == user:
                ha1 = _md5(f"{user}:{realm}:{password}")
                ha2 = _md5(f"{self.command}:{p.get('uri')}")
                expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
                if p.get("response") == expected and p.get("uri") == self.path:
                    return None
        nonce = secrets.token_hex(8)
        self.service.nonces.add(nonce)
        return {
            "WWW-Authenticate": (
                f'Digest realm="{realm}", qop="auth", nonce="{nonce}", '
                'opaque="0pa9ue", algorithm=MD5'
            )
        }

    def _token(self, body: bytes) -> None:
        service = self.service
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        header = self.headers.get("authorization", "")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if header.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
        with service.lock:
            service.token_calls.append({"form": form, "client": client_id})
        if service.clients.get(client_id or "") != client_secret:
            return self._send(401, {"error": "invalid_client"})
        if service.token_delay:
            time.sleep(service.token_delay)
        grant = form.get("grant_type")
        with service.lock:
            if grant == "refresh_token":
                token = form.get("refresh_token")
                if service.refuse_refresh or token not in service.refresh_tokens:
                    return self._send(400, {"error": "invalid_grant"})
                service.refresh_tokens.discard(token)  # rotating: each works once
                return self._send(200, service.new_tokens())
            if grant == "client_credentials":
                answer = service.new_tokens()
                answer.pop("refresh_token")
                answer["scope"] = form.get("scope", "")
                return self._send(200, answer)
        self._send(400, {"error": "unsupported_grant_type"})


# --- SMTP ---------------------------------------------------------------------------------


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        fake = self.server.fake
        self.reply("220 fake.smtp ready")
        sender, recipients, authed = None, [], False
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-fake.smtp\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000000\r\n")
            elif verb == "AUTH":
                parts = line.split()
                if parts[1].upper() == "PLAIN":
                    blob = parts[2] if len(parts) > 2 else None
                    if blob is None:
                        self.reply("334 ")
                        blob = self.rfile.readline().decode().strip()
                    _, user, password = base64.b64decode(blob).decode().split("\0")
                else:
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.reply("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(self.rfile.readline().strip()).decode()
                if (user, password) == fake.login:
                    authed = True
                    self.reply("235 2.7.0 Authentication successful")
                else:
                    self.reply("535 5.7.8 Authentication credentials invalid")
            elif verb == "MAIL":
                if fake.login and not authed:
                    self.reply("530 5.7.0 Authentication required")
                    continue
                sender = line.split(":", 1)[1].strip().split()[0].strip("<>")
                self.reply("250 OK")
            elif verb == "RCPT":
                address = line.split(":", 1)[1].strip().strip("<>")
                if address in fake.reject:
                    self.reply("550 5.1.1 No such user")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                fake.messages.append(
                    {"from": sender, "to": list(recipients), "data": b"".join(data).decode()}
                )
                sender, recipients = None, []
                self.reply("250 OK queued")
            elif verb in ("NOOP", "RSET"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeSmtp


class FakeSmtp:
    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.login = login
        self.reject: set[str] = set()
        self.messages: list[dict[str, Any]] = []
        self.server = _SmtpServer(("127.0.0.1", 0), _SmtpHandler)
        self.server.fake = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
