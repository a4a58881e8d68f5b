"""A connector action from a workflow against the same call through the generic HTTP connector.

The issue's target: `fastn.connector.<slug>.<action>(params)` to a loopback service costs at
most 1.5× `fastn.connector.http.request(...)` making the same request — the connector layer
adds lookups (connector, connection, decrypted credential: cached for the run) and auth
injection, not round trips. Both paths write their trace rows.

Measured: one workflow run of CALLS sequential calls each way, through `run_workflow` with
the executions' DatabaseHost (the sandbox, the bridge, the database) and a small threaded
HTTP server on loopback answering JSON; the median over REPETITIONS runs, alternated.

Setup: needs DATABASE_URL pointing at a migrated database; `make bench` provides one, and
benchmarks/run.py calls `django.setup()` first. Standalone:

    DATABASE_URL=postgres://… python manage.py migrate && python benchmarks/bench_connectors.py

The benchmark creates a Space of its own (connector, connection, traces) and deletes it."""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import p50_pair, row

CALLS = 20
REPETITIONS = 15
TOKEN = "bench-token-0123456789"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response, sent at once: no Nagle / delayed-ACK stall in the floor.
    wbufsize = 65536
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        ok = self.headers.get("authorization") == f"Bearer {TOKEN}"
        body = json.dumps({"id": self.path.rsplit("/", 1)[-1], "ok": ok}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


def _definition(base_url: str) -> dict:
    return {
        "slug": "bench-api",
        "name": "Bench API",
        "baseUrl": base_url,
        "auth": {"default": "BEARER", "methods": [{"type": "BEARER"}]},
        "actions": [
            {
                "name": "getItem",
                "method": "GET",
                "path": "/items/{id}",
                "parameters": [{"name": "id", "in": "path", "type": "string"}],
            }
        ],
    }


def _code(call: str) -> str:
    return (
        "export default async () => {\n"
        "  let ok = 0;\n"
        f"  for (let i = 0; i < {CALLS}; i++) {{ const r = {call}; if (r.status === 200) ok++; }}\n"
        "  return ok;\n"
        "}\n"
    )


def run() -> list[dict]:
    from django.test import override_settings

    from apps.connectors.models import Connector, ConnectorVersion
    from apps.connectors.services.connections import create_connection
    from apps.executions.host import DatabaseHost
    from apps.runtime import Limits, run_workflow
    from apps.spaces.audit import Actor
    from apps.spaces.models import Space

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    space = Space.objects.create(name="bench", slug=f"bench-{uuid.uuid4().hex[:12]}")
    try:
        with override_settings(FASTN_HTTP_ALLOW_LOOPBACK=True):
            connector = Connector.objects.create(space=space, slug="bench-api", name="Bench API")
            version = ConnectorVersion.objects.create(
                connector=connector, number=1, definition=_definition(base)
            )
            connector.latest_version = version
            connector.save()
            create_connection(
                space,
                connector_slug="bench-api",
                name="Bench",
                auth_method="BEARER",
                credential={"token": TOKEN},
                actor=Actor.system("bench"),
            )
            action_code = _code("await fastn.connector.benchApi.getItem({id: 'i' + i})")
            http_code = _code(
                "await fastn.connector.http.request({url: "
                f"'{base}/items/i' + i, headers: {{Authorization: 'Bearer {TOKEN}'}}}})"
            )

            def workflow(code: str):
                def once() -> None:
                    host = DatabaseHost(
                        space,
                        customer=None,
                        workflow_key="bench",
                        invocation_id=str(uuid.uuid4()),
                        environment="draft",
                    )
                    with host:
                        result = run_workflow(code, {}, host, Limits(timeout_s=60))
                    if result.output != CALLS:
                        raise RuntimeError(f"bench workflow failed: {result.error}")

                return once

            action, floor = p50_pair(
                workflow(action_code), workflow(http_code), repetitions=REPETITIONS, warmup=2
            )
    finally:
        server.shutdown()
        server.server_close()
        space.delete()
    return [
        row(
            f"connector action ×{CALLS} in a workflow (p50)",
            action,
            "ms",
            f"fastn.connector.http.request ×{CALLS} (target ≤1.5×)",
            floor,
        )
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
    import django

    django.setup()
    for result in run():
        print(
            f"{result['name']}: {result['value']:.2f} ms; {result['floor_name']}: "
            f"{result['floor_value']:.2f} ms; ratio {result['ratio']:.2f}×"
        )
