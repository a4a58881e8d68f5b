"""A small threaded HTTP(S) server on loopback with the routes the connector tests need."""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import socketserver
import ssl
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@functools.cache
def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped to about a thousandth of that; cached so that
    building it does not count in a test's memory measurement."""
    return gzip.compress(b"\0" * size, compresslevel=9)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks getfqdn(), a reverse DNS lookup; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "loopback"
        self.server_port = self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Handshake in the handler thread, so a failing client cannot stall accept().
        if self.owner.tls is not None:
            try:
                request = self.owner.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or stop reading on purpose are expected here.
        pass


class _ServerV6(_Server):
    address_family = socket.AF_INET6


class LoopbackServer:
    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls
        self.requests: list[dict[str, Any]] = []
        self.sni_names: list[str | None] = []
        if tls is not None:
            tls.sni_callback = self._record_sni
        server_class = _ServerV6 if ":" in host else _Server
        self._server = server_class((host, 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record_sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni_names.append(name)

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str, *, host: str | None = None, **query: Any) -> str:
        scheme = "https" if self.tls is not None else "http"
        authority = f"{host}:{self.port}" if host else self.authority
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{scheme}://{authority}{path}{suffix}"

    def reset(self) -> None:
        self.requests.clear()
        self.sni_names.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        record = {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": [(name.lower(), value) for name, value in self.headers.items()],
            "body": body,
        }
        self.server.owner.requests.append(record)
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self._send(404, b"no such route", "text/plain")
            return
        route(query, record)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: list[tuple[str, str]] | None = None,
        *,
        declare_length: bool = True,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers or []:
            self.send_header(name, value)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            # No length: the body ends when the connection closes.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            # Clients that stop reading (size cap, timeout) are part of the tests.
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: list[tuple[str, str]] | None = None):
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    # --- routes ------------------------------------------------------------

    def route_json(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._json(200, {"hello": "world", "n": 1})

    def route_echo(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._json(
            200,
            {
                "method": record["method"],
                "path": record["path"],
                "query": record["query"],
                "headers": dict(record["headers"]),
                "body": record["body"].decode("utf-8", "replace"),
            },
        )

    def route_status(self, query: dict[str, str], record: dict[str, Any]) -> None:
        status = int(query.get("code", "200"))
        if status in (204, 304):
            self._send(status, b"", None)
        else:
            self._json(status, {"status": status})

    def route_json_broken(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._send(200, b'{"broken": ', "application/json; charset=utf-8")

    def route_text_latin1(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._send(200, "café crème".encode("latin-1"), "text/plain; charset=ISO-8859-1")

    def route_untyped(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._send(200, b"plain words", None)

    def route_binary(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._send(200, bytes(range(256)), "application/octet-stream")

    def route_multi(self, query: dict[str, str], record: dict[str, Any]) -> None:
        headers = [("X-Multi", "one"), ("X-Multi", "two"), ("X-Upper-Case", "Yes")]
        self._send(200, b"ok", "text/plain", headers)

    def route_big(self, query: dict[str, str], record: dict[str, Any]) -> None:
        size = int(query["size"])
        declare = query.get("declare", "1") == "1"
        self._send(200, b"a" * size, "text/plain", declare_length=declare)

    def route_gzip(self, query: dict[str, str], record: dict[str, Any]) -> None:
        payload = gzip.compress(json.dumps({"compressed": True}).encode())
        self._send(200, payload, "application/json", [("Content-Encoding", "gzip")])

    def route_deflate_raw(self, query: dict[str, str], record: dict[str, Any]) -> None:
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        payload = compressor.compress(b"raw deflate text") + compressor.flush()
        self._send(200, payload, "text/plain", [("Content-Encoding", "deflate")])

    def route_bomb(self, query: dict[str, str], record: dict[str, Any]) -> None:
        payload = gzip_bomb(int(query["size"]))
        self._send(200, payload, "application/octet-stream", [("Content-Encoding", "gzip")])

    def route_brotli(self, query: dict[str, str], record: dict[str, Any]) -> None:
        self._send(200, b"\x0b\x02\x80hi\x03", "text/plain", [("Content-Encoding", "br")])

    def route_slow(self, query: dict[str, str], record: dict[str, Any]) -> None:
        time.sleep(float(query.get("delay", "2")))
        self._json(200, {"slow": True})

    def route_drip(self, query: dict[str, str], record: dict[str, Any]) -> None:
        count = int(query.get("count", "100"))
        interval = float(query.get("interval", "0.1"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        try:
            for _ in range(count):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            self.close_connection = True

    def route_redirect(self, query: dict[str, str], record: dict[str, Any]) -> None:
        status = int(query.get("status", "302"))
        headers = [("Location", query["to"])] if "to" in query else []
        self._send(status, b"", None, headers)

    def route_hops(self, query: dict[str, str], record: dict[str, Any]) -> None:
        remaining = int(query["n"])
        if remaining == 0:
            self._json(200, {"done": True})
        else:
            self._send(302, b"", None, [("Location", f"/hops?n={remaining - 1}")])
