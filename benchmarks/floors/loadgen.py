"""HTTP load generator: `python -m floors.loadgen` reads a JSON spec on stdin and writes a JSON
result on stdout. The same code drives the floors and the console.

Each client is a process of its own (multiprocessing, `spawn`) holding one keep-alive
`http.client` connection to 127.0.0.1. Clients send `warmup` requests each, meet at a barrier,
then send requests until `requests` (per client) or `duration` seconds are done.

Spec keys: port, path, method ("POST"), headers ({}), body (str), clients (1), requests (None),
duration (None), warmup (10), expect_status (200), expect_json (None: any body), collect (None:
a key of the JSON answer whose values are returned, e.g. "executionId"), wait_done (None, or
{"database_url", "sql"}: after each request poll `sql` with the collected value until it
answers a terminal status), gate (None, or {"database_url", "sql", "max"}: pause sending while
`sql` counts more than `max` rows — a bounded backlog for throughput runs).

Result: ok, errors, error_kinds ({kind: count}), elapsed_s (barrier to the last answer),
latencies_ms (successful requests only), spans ([[sent, answered]] wall-clock seconds, only
with one client), collected ([values]), started_at / ended_at (wall clock).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import sys
import threading
import time

TERMINAL = {"completed", "failed", "timeout", "cancelled"}


def _client(index, spec, barriers, start_at, out):
    headers = {"Content-Type": "application/json", **spec.get("headers", {})}
    body = spec.get("body")
    body = body.encode() if isinstance(body, str) else body
    method = spec.get("method", "POST")
    expect_status = spec.get("expect_status", 200)
    expect_json = spec.get("expect_json")
    collect = spec.get("collect")
    wait_done = spec.get("wait_done")
    gate = spec.get("gate_event")
    conn = None
    poll = None
    if wait_done:
        import psycopg

        poll = psycopg.connect(wait_done["database_url"], autocommit=True)

    def one():
        """One request; answers (error kind or None, collected value)."""
        nonlocal conn
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
        try:
            conn.request(method, spec["path"], body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = None
            return f"connection: {type(exc).__name__}", None
        if response.status != expect_status:
            return f"status {response.status}", None
        if expect_json is not None or collect:
            try:
                parsed = json.loads(data)
            except ValueError:
                return "body not JSON", None
            if expect_json is not None and parsed != expect_json:
                return "unexpected body", None
            if collect:
                return None, parsed.get(collect)
        return None, None

    def finish(value):
        if not (wait_done and value):
            return None
        while True:
            row = poll.execute(wait_done["sql"], [value]).fetchone()
            if row and row[0] in TERMINAL:
                return None if row[0] == "completed" else f"run {row[0]}"
            time.sleep(0.001)

    for _ in range(spec.get("warmup", 10)):
        kind, value = one()
        finish(value)
    barriers[0].wait()  # everyone warmed up; the parent now sets start_at
    barriers[1].wait()
    deadline = start_at.value + spec["duration"] if spec.get("duration") else float("inf")
    limit = spec.get("requests") or sys.maxsize
    ok, errors, kinds, latencies, spans, collected = 0, 0, {}, [], [], []
    last = None
    record_spans = spec.get("clients", 1) == 1
    sent = 0
    while sent < limit and time.monotonic() < deadline:
        if gate is not None and not gate.is_set():
            gate.wait(0.05)
            continue
        wall = time.time()
        started = time.perf_counter()
        kind, value = one()
        if kind is None:
            kind = finish(value)
        ended = time.perf_counter()
        sent += 1
        last = time.monotonic()
        if value is not None:
            collected.append(value)
        if kind is None:
            ok += 1
            latencies.append((ended - started) * 1000)
            if record_spans:
                spans.append([wall, wall + (ended - started)])
        else:
            errors += 1
            kinds[kind] = kinds.get(kind, 0) + 1
    if conn is not None:
        conn.close()
    if poll is not None:
        poll.close()
    out.put({"ok": ok, "errors": errors, "kinds": kinds, "latencies": latencies,
             "spans": spans, "collected": collected, "last": last})  # fmt: skip


def _gatekeeper(gate_spec, event, stop):
    import psycopg

    with psycopg.connect(gate_spec["database_url"], autocommit=True) as db:
        while not stop.is_set():
            (count,) = db.execute(gate_spec["sql"]).fetchone()
            if count > gate_spec["max"]:
                event.clear()
            else:
                event.set()
            stop.wait(0.02)


def run(spec: dict) -> dict:
    ctx = multiprocessing.get_context("spawn")
    clients = spec.get("clients", 1)
    barriers = (ctx.Barrier(clients + 1), ctx.Barrier(clients + 1))
    start_at = ctx.Value("d", 0.0)
    out = ctx.Queue()
    gate_thread = stop = None
    if spec.get("gate"):
        event = ctx.Event()
        event.set()
        stop = threading.Event()
        spec = {**spec, "gate_event": event}
        gate_thread = threading.Thread(target=_gatekeeper, args=(spec["gate"], event, stop))
        gate_thread.start()
    procs = [
        ctx.Process(target=_client, args=(i, spec, barriers, start_at, out), daemon=True)
        for i in range(clients)
    ]
    try:
        for proc in procs:
            proc.start()
        barriers[0].wait(timeout=120)
        start_at.value = time.monotonic()
        barriers[1].wait(timeout=30)
        started_wall = time.time()
        results = [out.get(timeout=(spec.get("duration") or 0) + 600) for _ in procs]
        for proc in procs:
            proc.join(30)
    finally:
        if stop is not None:
            stop.set()
            gate_thread.join()
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
    lasts = [r["last"] for r in results if r["last"]]
    kinds: dict[str, int] = {}
    for r in results:
        for kind, n in r["kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    return {
        "ok": sum(r["ok"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "error_kinds": kinds,
        "elapsed_s": (max(lasts) - start_at.value) if lasts else 0.0,
        "latencies_ms": [x for r in results for x in r["latencies"]],
        "spans": [s for r in results for s in r["spans"]],
        "collected": [c for r in results for c in r["collected"]],
        "started_at": started_wall,
        "ended_at": time.time(),
    }


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
