"""HTTP load generator: `python -m floors.loadgen` reads a JSON spec on stdin and writes a JSON
result on stdout. The same code drives the floors and the console.

Each client is a process of its own (multiprocessing, `spawn`) holding one keep-alive
`http.client` connection to 127.0.0.1 per target. With several targets a client alternates
between them request by request (rotating which goes first), so that a noisy machine weighs
on all of them alike. Clients send `warmup` requests to each target, meet at a barrier, then
send until `requests` (per target and client) or `duration` seconds are done.

Spec: clients (1), requests (None), duration (None), warmup (10), gate (None, or
{"database_url", "sql", "max"}: pause sending while `sql` counts more than `max` rows — a
bounded backlog for throughput runs; `database_url` is postgres://… or sqlite:///path, and `sql`
uses %s placeholders either way), and targets: a list of
  {port, path, method ("POST"), headers ({}), body (str or None), expect_status (200),
   expect_json (None: any body), collect (None: a key of the JSON answer whose values are
   returned, e.g. "executionId"), wait_done (None, or {"database_url", "sql"}: after each
   request poll `sql` with the collected value until it answers a terminal status)}.

Result: {"elapsed_s": barrier to the last answer, "started_at", "ended_at" (wall clock),
with a gate "backlog_median" and "gate_closed_fraction" (of the gate's polls, warm-up included),
"targets": [per target: ok, errors, error_kinds ({kind: count}), warmup_ok (successful
warm-up requests, not in the other figures), latencies_ms (successful requests), spans
([[sent, answered]] wall-clock seconds, one client only), collected (warm-up included)]}.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import sys
import threading
import time

TERMINAL = {"completed", "failed", "timeout", "cancelled"}


class _Database:
    """A read-only, autocommit connection to PostgreSQL (psycopg) or to a SQLite file (the
    embedded default, read beside its writers thanks to WAL), answering `fetchone(sql, params)`
    with %s placeholders on both."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite:///")
        if self.sqlite:
            import sqlite3

            path = url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                        timeout=20)  # fmt: skip
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)

    def fetchone(self, sql: str, params=()):
        if self.sqlite:
            sql = sql.replace("%s", "?")
        return self.conn.execute(sql, params).fetchone()

    def close(self) -> None:
        self.conn.close()


class _Target:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.headers = {"Content-Type": "application/json", **spec.get("headers", {})}
        body = spec.get("body")
        self.body = body.encode() if isinstance(body, str) else body
        self.method = spec.get("method", "POST")
        self.expect_status = spec.get("expect_status", 200)
        self.expect_json = spec.get("expect_json")
        self.collect = spec.get("collect")
        self.wait_done = spec.get("wait_done")
        self.conn: http.client.HTTPConnection | None = None
        self.poll = None
        if self.wait_done:
            self.poll = _Database(self.wait_done["database_url"])
        self.ok = self.errors = self.warm_ok = 0
        self.kinds: dict[str, int] = {}
        self.latencies: list[float] = []
        self.spans: list[list[float]] = []
        self.collected: list = []

    def request(self):
        """One request; answers (error kind or None, collected value)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.spec["port"], timeout=60)
        try:
            self.conn.request(self.method, self.spec["path"], body=self.body, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
            if response.getheader("connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            return f"connection: {type(exc).__name__}", None
        if response.status != self.expect_status:
            return f"status {response.status}", None
        value = None
        if self.expect_json is not None or self.collect:
            try:
                parsed = json.loads(data)
            except ValueError:
                return "body not JSON", None
            if self.expect_json is not None and parsed != self.expect_json:
                return "unexpected body", None
            if self.collect:
                value = parsed.get(self.collect)
        if self.wait_done and value:
            while True:
                row = self.poll.fetchone(self.wait_done["sql"], [value])
                if row and row[0] in TERMINAL:
                    if row[0] != "completed":
                        return f"run {row[0]}", value
                    break
                time.sleep(0.001)
        return None, value

    def warmup(self) -> None:
        kind, value = self.request()
        self.warm_ok += kind is None
        if value is not None:
            self.collected.append(value)

    def measured(self, record_spans: bool) -> None:
        wall = time.time()
        started = time.perf_counter()
        kind, value = self.request()
        elapsed = time.perf_counter() - started
        if value is not None:
            self.collected.append(value)
        if kind is None:
            self.ok += 1
            self.latencies.append(elapsed * 1000)
            if record_spans:
                self.spans.append([wall, wall + elapsed])
        else:
            self.errors += 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.poll is not None:
            self.poll.close()

    def result(self) -> dict:
        return {"ok": self.ok, "errors": self.errors, "error_kinds": self.kinds,
                "warmup_ok": self.warm_ok,
                "latencies_ms": self.latencies, "spans": self.spans,
                "collected": self.collected}  # fmt: skip


def _client(spec, barriers, start_at, gate, out):
    targets = [_Target(t) for t in spec["targets"]]
    for _ in range(spec.get("warmup", 10)):
        for target in targets:
            target.warmup()
    barriers[0].wait()  # everyone warmed up; the parent now sets start_at
    barriers[1].wait()
    deadline = start_at.value + spec["duration"] if spec.get("duration") else float("inf")
    limit = spec.get("requests") or sys.maxsize
    record_spans = spec.get("clients", 1) == 1
    rounds = 0
    last = None
    while rounds < limit and time.monotonic() < deadline:
        if gate is not None and not gate.is_set():
            gate.wait(0.05)
            continue
        first = rounds % len(targets)
        for target in targets[first:] + targets[:first]:
            target.measured(record_spans)
        rounds += 1
        last = time.monotonic()
    for target in targets:
        target.close()
    out.put({"last": last, "targets": [t.result() for t in targets]})


def _gatekeeper(gate_spec, event, stop, seen):
    db = _Database(gate_spec["database_url"])
    try:
        while not stop.is_set():
            (count,) = db.fetchone(gate_spec["sql"])
            seen.append(count)
            if count > gate_spec["max"]:
                event.clear()
            else:
                event.set()
            stop.wait(0.02)
    finally:
        db.close()


def run(spec: dict) -> dict:
    ctx = multiprocessing.get_context("spawn")
    clients = spec.get("clients", 1)
    barriers = (ctx.Barrier(clients + 1), ctx.Barrier(clients + 1))
    start_at = ctx.Value("d", 0.0)
    out = ctx.Queue()
    gate = gate_thread = stop = None
    backlog: list[int] = []
    if spec.get("gate"):
        gate = ctx.Event()
        gate.set()
        stop = threading.Event()
        gate_thread = threading.Thread(target=_gatekeeper, args=(spec["gate"], gate, stop, backlog))
        gate_thread.start()
    procs = [
        ctx.Process(target=_client, args=(spec, barriers, start_at, gate, out), daemon=True)
        for _ in range(clients)
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
    merged = []
    for index in range(len(spec["targets"])):
        parts = [r["targets"][index] for r in results]
        kinds: dict[str, int] = {}
        for part in parts:
            for kind, n in part["error_kinds"].items():
                kinds[kind] = kinds.get(kind, 0) + n
        merged.append({
            "ok": sum(p["ok"] for p in parts),
            "errors": sum(p["errors"] for p in parts),
            "warmup_ok": sum(p["warmup_ok"] for p in parts),
            "error_kinds": kinds,
            "latencies_ms": [x for p in parts for x in p["latencies_ms"]],
            "spans": [s for p in parts for s in p["spans"]],
            "collected": [c for p in parts for c in p["collected"]],
        })  # fmt: skip
    gated = {}
    if backlog:
        gated = {"backlog_median": sorted(backlog)[len(backlog) // 2],
                 "gate_closed_fraction": sum(n > spec["gate"]["max"] for n in backlog)
                 / len(backlog)}  # fmt: skip
    return {
        **gated,
        "elapsed_s": (max(lasts) - start_at.value) if lasts else 0.0,
        "started_at": started_wall,
        "ended_at": time.time(),
        "targets": merged,
    }


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
