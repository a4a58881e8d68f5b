"""Webhooks through real processes, beside floors built on this machine in the same run.

Processes (all on 127.0.0.1, stopped — SIGTERM, then SIGKILL — and checked gone at the end):
- the floors of bench_api (benchmarks/floors/): the bare Django project under the Procfile's
  gunicorn flags, and the bare Celery app's prefork c2 worker (the "Celery V8 view");
- the console as the Procfile starts it: gunicorn (`web`), `worker-instant`,
  `worker-standard`, and `python manage.py events` (the event pipeline);
- load from `python -m floors.loadgen` (one spawned process per client, keep-alive
  connections), the same generator for floors and console.

Figures:
1. durable accept: POST /api/v1/clients/{space}/webhooks/{id} at 16 clients, answered 202
   once the event and its outbox row are committed, against the bare JSON view (GET /json):
   requests/s and p99, in alternating 5-second rounds (twice each). Two triggers: public, and
   API-key authenticated. The `events` process is not running yet (it would compete for the
   same two cores with work the floor does not have); the accepted events are routed when it
   starts (their trigger has no routes: they end `filtered`);
2. webhook → execution completed, one route to the instant-tier trivial workflow, one client,
   idle: the POST, then polling PostgreSQL until the run the event started is completed —
   against the Celery V8 view's request (which answers with the result), alternating request
   by request; p50 and p95;
3. burst: BURST webhooks (16 clients, as fast as they are answered) to a trigger routing to the
   standard-tier trivial workflow, drained until every run completed — against BURST direct
   standard-tier API calls (POST /api/v1/{slug}, 202) drained the same way: runs completed
   per second from the first request to the last completion;
4. priorities: with the standard worker stopped, PRIORITY_BACKLOG scheduled (P3) runs are
   queued, then one webhook (P2) and one API (P1) run; a worker starts: the position of P1
   and P2 in the order of starts, and when they started (counted from the worker's first
   start) beside when the last P3 run did.

Needs DATABASE_URL (PostgreSQL, migrated) and REDIS_URL: `scripts/bench.sh bench_webhooks`.
BENCH_SHORT=1 shortens it (bursts of 1,000, one round per target). The module creates its own
user, Space, workflows and triggers and deletes them afterwards."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import row

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from bench_api import Fixture as ApiFixture  # noqa: E402
from bench_api import cpu_text, infra_groups, load, redis_db_url, say, wait_drained  # noqa: E402
from floors import TRIVIAL_BODY  # noqa: E402
from floors.procs import CpuMeter, Service, Services, free_port, procfile_web_args  # noqa: E402

SHORT = os.environ.get("BENCH_SHORT") == "1"
CLIENTS = 16
ROUND_SECONDS = 5
ROUNDS = 1 if SHORT else 2
WARMUP_16 = 3
SEQUENTIAL = 100 if SHORT else 200
BURST = 1000 if SHORT else 5000
PRIORITY_BACKLOG = 100 if SHORT else 200
DRAIN_TIMEOUT = 600
WEBHOOK_BODY = json.dumps({"type": "order.created", "order": {"id": 1, "total": 12.5}})
OK_BODY = {"ok": True}


def p50(values) -> float:
    return statistics.median(values)


def pct(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- fixtures in the console's database --------------------------------------------------------


class Fixture(ApiFixture):
    """bench_api's Space and workflows, with webhook triggers: two that only accept (one
    public, one wanting an API key) and one routed to each tier's workflow."""

    label = "hooks"

    def __init__(self) -> None:
        from apps.triggers.models import Kind, Route, Trigger, WebhookAuth

        super().__init__()

        def trigger(name, auth=WebhookAuth.NONE, route_to=None):
            made = Trigger.objects.create(space=self.space, kind=Kind.WEBHOOK, name=name,
                                          auth=auth)  # fmt: skip
            if route_to:
                Route.objects.create(trigger=made, workflow=self.workflows[route_to])
            return made

        self.triggers = {
            "accept": trigger("Accept only"),
            "accept_key": trigger("Accept, API key", auth=WebhookAuth.API_KEY),
            "instant": trigger("To instant", route_to="instant"),
            "standard": trigger("To standard", route_to="standard"),
        }

    def url(self, name: str) -> str:
        t = self.triggers[name]
        return f"/api/v1/clients/{t.space_id}/webhooks/{t.webhook_id}"

    def delete(self) -> None:
        from apps.triggers.models import Event

        Event.objects.filter(space=self.space).delete()  # in bulk, before the Space's cascade
        super().delete()


# --- the processes -----------------------------------------------------------------------------


class Stack:
    def __init__(self, services: Services, log_dir: Path, floor_env: dict, console_env: dict):
        self.floor_port, self.console_port = free_port(), free_port()
        self.services, self.log_dir, self.console_env = services, log_dir, console_env
        add = services.add
        self.floor_web = add(Service(
            "floor-web", ["gunicorn", "floors.wsgi", *procfile_web_args(self.floor_port)],
            cwd=BENCH_DIR, env=floor_env, log_dir=log_dir))  # fmt: skip
        self.floor_worker = add(Service(
            "floor-worker-prefork2",
            ["celery", "-A", "floors.celery_app", "worker", "-Q", "floor-prefork2",
             "-n", "floor-prefork2@%h", "--concurrency", "2", "--pool", "prefork",
             "--without-mingle", "--without-gossip", "-l", "info"],
            cwd=BENCH_DIR, env=floor_env, log_dir=log_dir))  # fmt: skip
        celery = ["celery", "-A", "fastn_console", "worker"]
        flags = ["--pool", "threads", "--without-mingle", "--without-gossip", "-l", "info"]
        self.web = add(Service(
            "console-web",
            ["gunicorn", "fastn_console.wsgi", *procfile_web_args(self.console_port)],
            cwd=ROOT, env=console_env, log_dir=log_dir))  # fmt: skip
        self.instant = add(Service(
            "console-worker-instant",
            [*celery, "-Q", "instant", "-n", "instant@%h", "--concurrency",
             console_env.get("INSTANT_CONCURRENCY") or "4", *flags],
            cwd=ROOT, env=console_env, log_dir=log_dir))  # fmt: skip
        self.standard = add(Service(
            "console-worker-standard",
            [*celery, "-Q", "standard", "-n", "standard@%h", "--concurrency",
             console_env.get("STANDARD_CONCURRENCY") or "4", *flags],
            cwd=ROOT, env=console_env, log_dir=log_dir))  # fmt: skip
        self.events: Service | None = None
        self.floor_web.wait_http(self.floor_port, "/json")
        self.web.wait_http(self.console_port, "/healthz")
        for worker in (self.floor_worker, self.instant, self.standard):
            worker.wait_log(" ready.")

    def restart_standard(self) -> None:
        """A new standard worker (the figures of priority_figures start when it is ready)."""
        flags = ["--pool", "threads", "--without-mingle", "--without-gossip", "-l", "info"]
        self.standard = self.services.add(Service(
            "console-worker-standard-2",
            ["celery", "-A", "fastn_console", "worker", "-Q", "standard", "-n",
             "standard2@%h", "--concurrency",
             self.console_env.get("STANDARD_CONCURRENCY") or "4", *flags],
            cwd=ROOT, env=self.console_env, log_dir=self.log_dir))  # fmt: skip
        self.standard.wait_log(" ready.")

    def start_events(self) -> None:
        """`python manage.py events`, as the Procfile's `events` line."""
        self.events = self.services.add(Service(
            "console-events", [sys.executable, "manage.py", "events"],
            cwd=ROOT, env=self.console_env, log_dir=self.log_dir))  # fmt: skip
        self.events.wait_log(" ready")


# --- measurements ------------------------------------------------------------------------------


def accept_figures(stack: Stack, fixture: Fixture, env: dict) -> dict:
    """16 clients, ROUNDS rounds of ROUND_SECONDS per target, in turn."""
    targets = {
        "json": {"port": stack.floor_port, "path": "/json", "method": "GET", "body": None,
                 "expect_json": OK_BODY},
        "public": {"port": stack.console_port, "path": fixture.url("accept"),
                   "body": WEBHOOK_BODY, "expect_status": 202},
        "keyed": {"port": stack.console_port, "path": fixture.url("accept_key"),
                  "body": WEBHOOK_BODY, "expect_status": 202,
                  "headers": {"x-fastn-key": fixture.raw_key}},
    }  # fmt: skip
    totals = {name: {"ok": 0, "errors": 0, "elapsed": 0.0, "latencies": [], "kinds": {}}
              for name in targets}  # fmt: skip
    for _ in range(ROUNDS):
        for name, target in targets.items():
            result = load({"clients": CLIENTS, "duration": ROUND_SECONDS, "warmup": WARMUP_16,
                           "targets": [target]}, env)  # fmt: skip
            part, total = result["targets"][0], totals[name]
            total["ok"] += part["ok"]
            total["errors"] += part["errors"]
            total["elapsed"] += result["elapsed_s"]
            total["latencies"] += part["latencies_ms"]
            for kind, n in part["error_kinds"].items():
                total["kinds"][kind] = total["kinds"].get(kind, 0) + n
    for name, total in totals.items():
        total["rps"] = total["ok"] / total["elapsed"] if total["elapsed"] else 0.0
        total["p50"] = p50(total["latencies"]) if total["latencies"] else 0.0
        total["p99"] = pct(total["latencies"], 0.99) if total["latencies"] else 0.0
        say(
            f"16 clients, {name}: {total['rps']:.1f} req/s, p50 {total['p50']:.2f} ms, "
            f"p99 {total['p99']:.2f} ms, {total['errors']} errors {total['kinds'] or ''}"
        )
    return totals


def accepted_durably(fixture: Fixture) -> dict:
    """Every 202 of the accept rounds has its event row."""
    from apps.triggers.models import Event

    return {name: Event.objects.filter(trigger=fixture.triggers[name]).count()
            for name in ("accept", "accept_key")}  # fmt: skip


def end_to_end(stack: Stack, fixture: Fixture, env: dict) -> dict:
    """One client: the Celery V8 view and webhook → run completed, alternating."""
    from apps.executions.models import Execution
    from apps.triggers.models import Delivery

    wait_done = {
        "database_url": os.environ["DATABASE_URL"],
        "sql": (f"SELECT e.status FROM {Execution._meta.db_table} e JOIN "
                f"{Delivery._meta.db_table} d ON d.execution_id = e.id WHERE d.event_id = %s"),
    }  # fmt: skip
    targets = [
        {"port": stack.floor_port, "path": "/v8/floor-prefork2", "body": TRIVIAL_BODY.decode(),
         "expect_json": OK_BODY},
        {"port": stack.console_port, "path": fixture.url("instant"), "body": WEBHOOK_BODY,
         "expect_status": 202, "collect": "eventId", "wait_done": wait_done},
    ]  # fmt: skip
    result = load({"clients": 1, "requests": SEQUENTIAL, "warmup": 20, "targets": targets}, env)
    floor, hook = result["targets"]
    for name, part in (("Celery V8 view", floor), ("webhook → completed", hook)):
        if not part["latencies_ms"]:
            raise RuntimeError(f"{name}: no successful request ({part['error_kinds']})")
        say(
            f"1 client, {name}: p50 {p50(part['latencies_ms']):.2f} ms, "
            f"p95 {pct(part['latencies_ms'], 0.95):.2f} ms, {part['errors']} errors"
        )
    stages = hook_stages(hook["collected"][-SEQUENTIAL:])
    say("  webhook stages (p50 ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    return {"floor": floor, "hook": hook, "stages": stages}


def hook_stages(event_ids: list[str]) -> dict:
    """Where a webhook's time goes, from the rows' timestamps: received → routed (publish,
    stream, routing), routed → run queued... → started → finished."""
    from apps.triggers.models import Delivery

    parts: dict[str, list[float]] = {"received→routed": [], "routed→started": [],
                                     "started→finished": []}  # fmt: skip
    rows = Delivery.objects.filter(event_id__in=event_ids).values_list(
        "event__received_at", "event__routed_at", "execution__started_at",
        "execution__finished_at",
    )  # fmt: skip
    for received, routed, started, finished in rows:
        if None in (received, routed, started, finished):
            continue
        parts["received→routed"].append((routed - received).total_seconds() * 1000)
        parts["routed→started"].append((started - routed).total_seconds() * 1000)
        parts["started→finished"].append((finished - started).total_seconds() * 1000)
    return {key: p50(values) for key, values in parts.items() if values}


def burst(target: dict, env: dict, count: int, ids_of, meter: CpuMeter) -> dict:
    """Send `count` requests from 16 clients as fast as they are answered; wait until every
    run they started is terminal. Runs completed per second, first request → last
    completion; CPU milliseconds per run of each process group."""
    from apps.executions.models import Execution

    per_client = -(-count // CLIENTS)
    before = meter.snapshot()
    result = load({"clients": CLIENTS, "requests": per_client, "warmup": 0,
                   "targets": [target]}, env)  # fmt: skip
    part = result["targets"][0]
    execution_ids = ids_of(part["collected"])
    counts = wait_drained(execution_ids, DRAIN_TIMEOUT)
    cpu = meter.delta(before, meter.snapshot())
    last = (
        Execution.objects.filter(pk__in=execution_ids)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    elapsed = (last.timestamp() - result["started_at"]) if last else float("inf")
    runs = max(1, len(execution_ids))
    return {"sent": part["ok"], "errors": part["errors"], "runs": len(execution_ids),
            "counts": counts, "elapsed": elapsed, "accept_s": result["elapsed_s"],
            "rate": counts.get("completed", 0) / elapsed,
            "cpu_ms": {group: seconds * 1000 / runs for group, seconds in cpu.items()}}  # fmt: skip


def burst_figures(stack: Stack, fixture: Fixture, env: dict, infra: dict) -> dict:
    from django.db.models import Max, Min

    from apps.triggers.models import Delivery, Event

    meter = CpuMeter({"web": stack.web.processes, "worker": stack.standard.processes,
                      "events": stack.events.processes, **infra})  # fmt: skip
    direct = burst(
        {"port": stack.console_port, "path": f"/api/v1/{fixture.workflows['standard'].slug}",
         "headers": fixture.headers, "body": TRIVIAL_BODY.decode(), "expect_status": 202,
         "collect": "executionId"},
        env, BURST, lambda ids: ids, meter,
    )  # fmt: skip
    say(
        f"burst of {BURST} direct standard API calls: {direct['rate']:.1f} runs/s completed "
        f"({direct['elapsed']:.1f} s; accepted in {direct['accept_s']:.1f} s; "
        f"{direct['counts']}, {direct['errors']} errors)"
    )
    say(f"  CPU ms per run: {cpu_text(direct['cpu_ms'])}")

    def runs_of(event_ids):
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while Event.objects.filter(pk__in=event_ids, routed_at__isnull=True).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        return [str(pk) for pk in Delivery.objects.filter(event_id__in=event_ids)
                .values_list("execution_id", flat=True) if pk]  # fmt: skip

    hooks = burst(
        {"port": stack.console_port, "path": fixture.url("standard"), "body": WEBHOOK_BODY,
         "expect_status": 202, "collect": "eventId"},
        env, BURST, runs_of, meter,
    )  # fmt: skip
    say(
        f"burst of {BURST} webhooks: {hooks['rate']:.1f} runs/s completed "
        f"({hooks['elapsed']:.1f} s; accepted in {hooks['accept_s']:.1f} s; {hooks['runs']} "
        f"runs for {hooks['sent']} events; {hooks['counts']}, {hooks['errors']} errors)"
    )
    say(f"  CPU ms per run: {cpu_text(hooks['cpu_ms'])}")
    span = Event.objects.filter(trigger=fixture.triggers["standard"]).aggregate(
        first=Min("received_at"), last=Max("routed_at")
    )
    hooks["routed_s"] = (span["last"] - span["first"]).total_seconds()
    say(f"  every event routed within {hooks['routed_s']:.1f} s of the first one's arrival")
    return {"direct": direct, "hooks": hooks}


def priority_figures(stack: Stack, fixture: Fixture) -> dict:
    """With the standard worker stopped, PRIORITY_BACKLOG scheduled (P3) runs are queued, then
    one webhook (P2) and one API (P1) run; a new worker starts: where P1 and P2 are taken in
    the order of starts, and how long each waited after the worker was up, beside the last
    P3 run of the backlog."""
    from apps.executions.models import Execution, TriggeredBy
    from apps.executions.services import execution_create, execution_dispatch

    workflow = fixture.workflows["standard"]
    stack.standard.stop()

    def send(triggered_by):
        execution = execution_create(workflow, version=None, code=None, input={}, headers={},
                                     triggered_by=triggered_by, actor=None)  # fmt: skip
        execution_dispatch(execution)
        return execution.pk

    backlog = [send(TriggeredBy.SCHEDULER) for _ in range(PRIORITY_BACKLOG)]
    urgent = {"P2 webhook": send(TriggeredBy.WEBHOOK), "P1 api": send(TriggeredBy.API)}
    stack.restart_standard()
    wait_drained([str(pk) for pk in [*backlog, *urgent.values()]], DRAIN_TIMEOUT)
    started = dict(Execution.objects.filter(pk__in=[*backlog, *urgent.values()])
                   .values_list("pk", "started_at"))  # fmt: skip
    order = sorted(started, key=lambda pk: started[pk])
    first = started[order[0]].timestamp()
    out = {name: order.index(pk) + 1 for name, pk in urgent.items()}
    waits = {name: (started[pk].timestamp() - first) * 1000 for name, pk in urgent.items()}
    waits["P3 last"] = (started[order[-1]].timestamp() - first) * 1000
    say(
        f"priorities: {PRIORITY_BACKLOG} P3 runs queued first, then P2 and P1; started "
        f"P1 {out['P1 api']}th, P2 {out['P2 webhook']}th of {len(order)}; counted from the "
        f"worker's first start, P1 started after {waits['P1 api']:.0f} ms, P2 after "
        f"{waits['P2 webhook']:.0f} ms, the last P3 after {waits['P3 last']:.0f} ms"
    )
    return {"position": out, "wait": waits}


# --- the module's entry point ------------------------------------------------------------------


def run() -> list[dict]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError("bench_webhooks needs PostgreSQL: set DATABASE_URL")
    started = time.monotonic()
    log_dir = (
        Path(os.environ.get("RUN_DIR") or tempfile.gettempdir()) / f"bench-hooks-{os.getpid()}"
    )
    base = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    env = {
        "console": {**base, "DJANGO_SETTINGS_MODULE": "fastn_console.settings"},
        "floor": {**base, "DJANGO_SETTINGS_MODULE": "floors.settings",
                  "PYTHONPATH": str(BENCH_DIR),
                  "FLOORS_REDIS_URL": redis_db_url(os.environ["REDIS_URL"])},
    }  # fmt: skip
    fixture = Fixture()
    figures: dict = {}
    try:
        with Services() as services:
            stack = Stack(services, log_dir, env["floor"], env["console"])
            say(f"floors and console up in {time.monotonic() - started:.1f} s")
            figures["accept"] = accept_figures(stack, fixture, env["floor"])
            figures["durable"] = accepted_durably(fixture)
            accepted = {n: figures["accept"][k]["ok"] for n, k in
                        (("accept", "public"), ("accept_key", "keyed"))}  # fmt: skip
            say(f"events stored: {figures['durable']} (answered 202, measured: {accepted})")
            stack.start_events()
            figures["e2e"] = end_to_end(stack, fixture, env["floor"])
            figures["burst"] = burst_figures(stack, fixture, env["floor"], infra_groups())
            figures["priority"] = priority_figures(stack, fixture)
        say("all processes stopped; none left behind")
    finally:
        connection.close()
        fixture.delete()
    say(f"bench_webhooks took {time.monotonic() - started:.0f} s (process logs: {log_dir})")
    return rows_for(figures)


def rows_for(f: dict) -> list[dict]:
    acc, e2e, bursts, prio = f["accept"], f["e2e"], f["burst"], f["priority"]
    bare = acc["json"]
    floor_lat, hook_lat = e2e["floor"]["latencies_ms"], e2e["hook"]["latencies_ms"]
    rows = [
        row("floor: bare Django JSON view, 16 clients", bare["rps"], "req/s"),
        row("floor: bare Django JSON view, 16 clients p99", bare["p99"], "ms"),
        row("webhook accept (202, stored), 16 clients", acc["public"]["rps"], "req/s",
            "bare JSON view, 16 clients", bare["rps"]),
        row("webhook accept, 16 clients p99", acc["public"]["p99"], "ms",
            "bare JSON view p99", bare["p99"]),
        row("webhook accept, API-key auth, 16 clients", acc["keyed"]["rps"], "req/s",
            "bare JSON view, 16 clients", bare["rps"]),
        row("webhook accept, API-key auth, p99", acc["keyed"]["p99"], "ms",
            "bare JSON view p99", bare["p99"]),
        row("webhook accept errors", acc["public"]["errors"] + acc["keyed"]["errors"], "errors"),
        row("webhook → instant run completed, 1 client p50", p50(hook_lat), "ms",
            "Celery V8 view, prefork c2, p50", p50(floor_lat)),
        row("webhook → instant run completed, 1 client p95", pct(hook_lat, 0.95), "ms",
            "Celery V8 view, prefork c2, p95", pct(floor_lat, 0.95)),
    ]  # fmt: skip
    for stage, value in e2e["stages"].items():
        rows.append(row(f"  webhook stage {stage}, p50", value, "ms"))
    d, h = bursts["direct"], bursts["hooks"]
    rows += [
        row(f"burst of {BURST} webhooks drained (higher is better)", h["rate"], "runs/s",
            f"{BURST} direct standard API calls", d["rate"]),
        row(f"burst of {BURST} webhooks: runs not completed",
            h["runs"] - h["counts"].get("completed", 0), "runs"),
        row(f"priority: P1 run queued after {PRIORITY_BACKLOG} P3 runs, started as nth",
            prio["position"]["P1 api"], "th"),
        row("priority: P2 run queued after them, started as nth",
            prio["position"]["P2 webhook"], "th"),
        row("priority: P1 run started, after the worker's first start", prio["wait"]["P1 api"],
            "ms", "the last P3 run, after the first start", prio["wait"]["P3 last"]),
        row("priority: P2 run started, after the worker's first start",
            prio["wait"]["P2 webhook"], "ms", "the last P3 run, after the first start",
            prio["wait"]["P3 last"]),
    ]  # fmt: skip
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
    import django

    django.setup()
    for r in run():
        ratio = f"  {r['ratio']:.2f}×" if r["ratio"] is not None else ""
        floor = f"  vs {r['floor_name']} {r['floor_value']:.3f}" if r["floor_value"] else ""
        print(f"{r['name']}: {r['value']:.3f} {r['unit']}{floor}{ratio}")
