"""The public execute API through real processes, beside floors built on this machine in the
same run.

Processes (all on 127.0.0.1, all stopped at the end — SIGTERM, then SIGKILL — and checked):
- the console as the Procfile starts it: `gunicorn fastn_console.wsgi` with the `web` line's
  flags (WEB_CONCURRENCY=2 workers × WEB_THREADS=4 threads unless set), and `celery -A
  fastn_console worker -Q instant …` / `-Q standard …` with the `worker-instant` /
  `worker-standard` flags (threads pool, concurrency 4 unless INSTANT_/STANDARD_CONCURRENCY);
- the floors (benchmarks/floors/): a bare Django project under the same gunicorn flags, and a
  bare Celery app on the same Redis server (another database number). The bare worker runs
  twice: prefork with concurrency 2 (the floor as STACK.md defines it) and threads with
  concurrency 4 (the console's instant worker settings);
- load comes from `python -m floors.loadgen`, a separate process with one spawned process per
  client, each on a keep-alive `http.client` connection; the same generator drives the floors
  and the console.

Figures:
1. floors: bare JSON view p50; fresh-isolate run p50 (own process); bare Celery no-op
   `apply_async().get()` p50; the "Celery V8 view" (the view sends the trivial function to a bare
   task that evaluates it in a fresh MiniRacer, `.get()`s it and answers its JSON) at 1 client
   (300 sequential requests: p50, p95) and at 16 clients (10 s: requests/s, errors);
2. instant `POST /api/v1/{slug}` of the trivial workflow (live API key, published and deployed
   to live, execution recorded): the same two loads, against the Celery V8 view; the check that
   every answered run was recorded; and where a request's time goes, from the execution rows'
   timestamps matched to the 1-client requests;
3. standard: enqueue → completed p50 (the row's queued_at → finished_at, one run at a time)
   against the bare round trip + one fresh-isolate run; executions/s completed during 30 s of
   16 clients posting (with the backlog held under BACKLOG_MAX so the worker is always busy
   and the drain stays short), and how many accepted runs did not complete (lost).

Needs DATABASE_URL (PostgreSQL, migrated) and REDIS_URL: `scripts/bench.sh bench_api`.
The module creates its own user, Space and workflows and deletes them afterwards.
"""

from __future__ import annotations

import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from floors import TRIVIAL_BODY, TRIVIAL_WORKFLOW  # noqa: E402
from floors.procs import (  # noqa: E402
    CpuMeter,
    Service,
    Services,
    free_port,
    procfile_web_args,
)

SEQUENTIAL = 300  # 1-client requests after warm-up
CONCURRENT_CLIENTS = 16
CONCURRENT_SECONDS = 10
STANDARD_SEQUENTIAL = 80
SUSTAIN_SECONDS = 30
BACKLOG_MAX = 64  # pending + running executions allowed while sustaining the standard load
DRAIN_TIMEOUT = 90
OK_BODY = {"ok": True}


# --- small helpers -----------------------------------------------------------------------------


def row(name, value, unit, floor_name=None, floor_value=None) -> dict:
    ratio = value / floor_value if floor_value else None
    return {"name": name, "value": value, "unit": unit, "floor_name": floor_name,
            "floor_value": floor_value, "ratio": ratio}  # fmt: skip


def p50(values) -> float:
    return statistics.median(values)


def p95(values) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def say(text: str) -> None:
    print(f"  {text}", flush=True)


def load(spec: dict, env: dict) -> dict:
    """Run the load generator in its own process."""
    done = subprocess.run(
        [sys.executable, "-m", "floors.loadgen"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=BENCH_DIR,
        env=env,
        timeout=(spec.get("duration") or 0) + 600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def probe(what: str, count: int, env: dict) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-m", "floors.probe", what, str(count)],
        capture_output=True, text=True, cwd=BENCH_DIR, env=env, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"probe {what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def one_client(port, path, env, *, method="POST", headers=None, body=TRIVIAL_BODY,
               expect_json=OK_BODY, expect_status=200, **extra) -> dict:  # fmt: skip
    spec = {"port": port, "path": path, "method": method, "headers": headers or {},
            "body": body.decode() if body else None, "clients": 1, "requests": SEQUENTIAL,
            "warmup": 20, "expect_json": expect_json, "expect_status": expect_status,
            **extra}  # fmt: skip
    result = load(spec, env)
    if not result["latencies_ms"]:
        raise RuntimeError(f"{path}: no successful request ({result['error_kinds']})")
    return result


def many_clients(port, path, env, *, headers=None, body=TRIVIAL_BODY, expect_json=OK_BODY,
                 expect_status=200, clients=CONCURRENT_CLIENTS, seconds=CONCURRENT_SECONDS,
                 warmup=3, **extra) -> dict:  # fmt: skip
    spec = {"port": port, "path": path, "method": "POST", "headers": headers or {},
            "body": body.decode(), "clients": clients, "duration": seconds, "warmup": warmup,
            "expect_json": expect_json, "expect_status": expect_status, **extra}  # fmt: skip
    result = load(spec, env)
    result["rps"] = result["ok"] / result["elapsed_s"] if result["elapsed_s"] else 0.0
    return result


def redis_db_url(url: str, avoid: str) -> str:
    """The same Redis server, another database number."""
    parts = urlsplit(url)
    db = "2" if avoid != "2" else "3"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def infra_groups() -> dict:
    """PostgreSQL (the postmaster of this database and its children) and Redis, for CpuMeter."""
    import psutil
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        postmaster = psutil.Process(cursor.fetchone()[0]).parent()
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    redis_server = psutil.Process(int(client.info("server")["process_id"]))
    client.close()
    return {
        "postgres": lambda: [postmaster, *postmaster.children()],
        "redis": lambda: [redis_server],
    }


def is_sandbox(proc) -> bool:
    return any(part.endswith("sandbox.py") for part in proc.cmdline())


def per_request_ms(cpu: dict[str, float], requests: int) -> dict[str, float]:
    return {name: seconds * 1000 / requests for name, seconds in cpu.items()} if requests else {}


def cpu_text(cpu_ms: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in cpu_ms.items())


# --- fixtures in the console's database --------------------------------------------------------


class Fixture:
    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        from apps.environments.selectors import environment_by_slug
        from apps.spaces.audit import Actor
        from apps.spaces.services import apikey_create, space_create
        from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish

        tag = uuid.uuid4().hex[:10]
        self.user = get_user_model().objects.create_user(
            username=f"bench-api-{tag}", email=f"bench-api-{tag}@example.com"
        )
        actor = Actor.for_user(self.user)
        self.space = space_create(f"bench api {tag}", owner=self.user, actor=actor)
        _key, self.raw_key = apikey_create(self.space, name="bench", mode="live",
                                           actor=Actor.system())  # fmt: skip
        live = environment_by_slug(self.space, "live")
        self.workflows = {}
        for tier in ("instant", "standard"):
            workflow = workflow_create(self.space, actor=actor, name=f"Bench {tier}",
                                       slug=f"bench-{tier}", tier=tier,
                                       code=TRIVIAL_WORKFLOW)  # fmt: skip
            version = workflow_publish(workflow, actor=actor)
            workflow_deploy(workflow, version=version, environment=live, actor=actor)
            self.workflows[tier] = workflow

    @property
    def headers(self) -> dict:
        return {"x-fastn-api-key": self.raw_key, "x-fastn-space-id": str(self.space.id)}

    def delete(self) -> None:
        self.space.delete()
        self.user.delete()


# --- the floors --------------------------------------------------------------------------------


def measure_floors(env: dict, log_dir: Path, infra: dict) -> dict:
    floors: dict = {}
    port = free_port()
    say("floors: fresh isolate in its own process …")
    floors["isolate"] = p50(probe("isolate", 200, env))
    for variant, pool, concurrency in (("prefork2", "prefork", "2"), ("threads4", "threads", "4")):
        with Services() as services:
            web = services.add(Service(
                f"floor-web-{variant}", ["gunicorn", "floors.wsgi", *procfile_web_args(port)],
                cwd=BENCH_DIR, env=env, log_dir=log_dir))  # fmt: skip
            worker = services.add(Service(
                f"floor-worker-{variant}",
                ["celery", "-A", "floors.celery_app", "worker", "-n", f"floor-{variant}@%h",
                 "--concurrency", concurrency, "--pool", pool, "--without-mingle",
                 "--without-gossip", "-l", "info"],
                cwd=BENCH_DIR, env=env, log_dir=log_dir))  # fmt: skip
            web.wait_http(port, "/json")
            worker.wait_log(" ready.")
            if variant == "prefork2":
                result = one_client(port, "/json", env, method="GET", body=None)
                floors["json_p50"] = p50(result["latencies_ms"])
                say(f"floor bare JSON view: p50 {floors['json_p50']:.3f} ms")
            floors[f"roundtrip_{variant}"] = p50(probe("roundtrip", 200, env))
            single = one_client(port, "/v8", env)
            meter = CpuMeter({"web": web.processes, "worker": worker.processes, **infra})
            before = meter.snapshot()
            burst = many_clients(port, "/v8", env)
            cpu = meter.delta(before, meter.snapshot())
            floors[variant] = {
                "p50": p50(single["latencies_ms"]),
                "p95": p95(single["latencies_ms"]),
                "errors_1": single["errors"],
                "rps": burst["rps"],
                "errors_16": burst["errors"],
                "kinds_16": burst["error_kinds"],
                "cpu_ms": per_request_ms(cpu, burst["ok"] + burst["errors"]
                                         + 3 * CONCURRENT_CLIENTS),
            }  # fmt: skip
            f = floors[variant]
            say(f"floor Celery V8 view ({variant}): p50 {f['p50']:.2f} ms, p95 {f['p95']:.2f} ms;"
                f" 16 clients {f['rps']:.1f} req/s, {f['errors_16']} errors; no-op round trip "
                f"{floors[f'roundtrip_{variant}']:.2f} ms")  # fmt: skip
            say(f"  CPU ms per request at 16 clients: {cpu_text(f['cpu_ms'])}")
    say(f"floor fresh isolate: p50 {floors['isolate']:.2f} ms")
    return floors


# --- the console -------------------------------------------------------------------------------


def instant_stages(fixture, spans) -> dict:
    """Match each 1-client request to its execution row (its queued_at falls inside the
    request) and split the request's time by the row's timestamps."""
    from apps.executions.models import Execution

    first, last = spans[0][0] - 1, spans[-1][1] + 1
    rows = list(
        Execution.objects.filter(workflow=fixture.workflows["instant"],
                                 queued_at__gte=_dt(first), queued_at__lte=_dt(last))
        .order_by("queued_at")
        .values_list("queued_at", "started_at", "finished_at", "duration_ms")
    )  # fmt: skip
    queued = [r[0].timestamp() for r in rows]
    parts = {"before": [], "queue": [], "run": [], "sandbox": [], "after": [], "total": []}
    for sent, answered in spans:
        i = bisect.bisect_left(queued, sent)
        if i >= len(rows) or queued[i] > answered:
            continue
        q, started, finished, duration = rows[i]
        if started is None or finished is None:
            continue
        parts["before"].append((q.timestamp() - sent) * 1000)
        parts["queue"].append((started.timestamp() - q.timestamp()) * 1000)
        parts["run"].append((finished.timestamp() - started.timestamp()) * 1000)
        parts["sandbox"].append(duration or 0.0)
        parts["after"].append((answered - finished.timestamp()) * 1000)
        parts["total"].append((answered - sent) * 1000)
    return {key: p50(values) for key, values in parts.items() if values} | {
        "matched": len(parts["total"])
    }


def _dt(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


def wait_drained(fixture, ids: list[str], timeout: float) -> dict[str, int]:
    """Wait until every accepted execution is terminal (or the timeout); answer the counts of
    the accepted ones per status ("missing" for ids without a row)."""
    from apps.executions.models import TERMINAL, Execution

    deadline = time.monotonic() + timeout
    while True:
        statuses = dict(Execution.objects.filter(pk__in=ids).values_list("id", "status").iterator())
        open_ = [s for s in statuses.values() if s not in TERMINAL]
        if (not open_ and len(statuses) == len(set(ids))) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    counts: dict[str, int] = {"missing": len(set(ids)) - len(statuses)}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def web_side_queries(fixture) -> tuple[float, list[str]]:
    """SQL statements the web side of one instant request sends (the view run in this process
    through the test Client, against the running instant worker): median count, and the
    statements of the last request."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")
    headers = fixture.headers
    counts, statements = [], []
    for _ in range(7):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(f"/api/v1/{fixture.workflows['instant'].slug}",
                                   data=TRIVIAL_BODY, content_type="application/json",
                                   headers=headers)  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(f"in-process instant request answered {response.status_code}")
        counts.append(len(captured.captured_queries))
        statements = [q["sql"] for q in captured.captured_queries]
    return p50(counts), statements


def measure_console(fixture, env: dict, log_dir: Path, infra: dict) -> dict:
    from django.db import connection

    from apps.executions.models import Execution

    out: dict = {}
    port = free_port()
    table = Execution._meta.db_table
    database_url = os.environ["DATABASE_URL"]
    headers = fixture.headers
    instant_path = f"/api/v1/{fixture.workflows['instant'].slug}"
    standard_path = f"/api/v1/{fixture.workflows['standard'].slug}"
    celery = ["celery", "-A", "fastn_console", "worker"]
    common = ["--pool", "threads", "--without-mingle", "--without-gossip", "-l", "info"]
    with Services() as services:
        web = services.add(Service(
            "console-web", ["gunicorn", "fastn_console.wsgi", *procfile_web_args(port)],
            cwd=ROOT, env=env, log_dir=log_dir))  # fmt: skip
        instant = services.add(Service(
            "console-worker-instant",
            [*celery, "-Q", "instant", "-n", "instant@%h", "--concurrency",
             env.get("INSTANT_CONCURRENCY") or "4", *common],
            cwd=ROOT, env=env, log_dir=log_dir))  # fmt: skip
        standard = services.add(Service(
            "console-worker-standard",
            [*celery, "-Q", "standard", "-n", "standard@%h", "--concurrency",
             env.get("STANDARD_CONCURRENCY") or "4", *common],
            cwd=ROOT, env=env, log_dir=log_dir))  # fmt: skip
        web.wait_http(port, "/healthz")
        instant.wait_log(" ready.")
        standard.wait_log(" ready.")

        # Instant, 1 client.
        before = Execution.objects.filter(workflow=fixture.workflows["instant"]).count()
        single = one_client(port, instant_path, env, headers=headers)
        out["instant_p50"] = p50(single["latencies_ms"])
        out["instant_p95"] = p95(single["latencies_ms"])
        out["instant_errors_1"] = single["errors"]
        out["stages"] = instant_stages(fixture, sorted(single["spans"]))
        say(f"console instant 1 client: p50 {out['instant_p50']:.2f} ms, "
            f"p95 {out['instant_p95']:.2f} ms, {single['errors']} errors")  # fmt: skip

        queries, statements = web_side_queries(fixture)
        out["web_queries"] = queries
        say(f"web side of one instant request: {queries:.0f} SQL statements:")
        for sql in statements:
            say(f"    {sql[:150]}")

        # Instant, 16 clients.
        meter = CpuMeter(
            {"web": web.processes, "worker": instant.processes,
             "standard worker (idle)": standard.processes, **infra},
            split={"sandboxes": ("worker", is_sandbox)},
        )  # fmt: skip
        before = meter.snapshot()
        burst = many_clients(port, instant_path, env, headers=headers)
        out["instant_cpu_ms"] = per_request_ms(
            meter.delta(before, meter.snapshot()),
            burst["ok"] + burst["errors"] + 3 * CONCURRENT_CLIENTS,
        )
        out["instant_rps"] = burst["rps"]
        out["instant_errors_16"] = burst["errors"]
        out["instant_kinds_16"] = burst["error_kinds"]
        say(f"console instant 16 clients: {burst['rps']:.1f} req/s, {burst['errors']} errors "
            f"{burst['error_kinds'] or ''}")  # fmt: skip
        say(f"  CPU ms per request at 16 clients: {cpu_text(out['instant_cpu_ms'])}")
        answered = 20 + single["ok"] + single["errors"] + burst["ok"] + burst["errors"]
        answered += 3 * CONCURRENT_CLIENTS  # warm-up requests of the 16 clients
        recorded = (
            Execution.objects.filter(
                workflow=fixture.workflows["instant"], status="completed", triggered_by="api"
            ).count()
            - before
        )
        # Every 200 must have its completed row; a request answered with an error may or may
        # not have one, so the check is: completed rows >= successful answers.
        successes = 20 + single["ok"] + burst["ok"] + 3 * CONCURRENT_CLIENTS
        out["instant_unrecorded"] = max(0, successes - recorded)
        say(f"instant runs recorded as completed: {recorded} of {successes} answered 200 "
            f"({answered} requests)")  # fmt: skip

        # Standard, one run at a time: enqueue → completed from the row's own timestamps.
        start = time.time()
        sequential = load({
            "port": port, "path": standard_path, "method": "POST", "headers": headers,
            "body": TRIVIAL_BODY.decode(), "clients": 1, "requests": STANDARD_SEQUENTIAL,
            "warmup": 10, "expect_status": 202, "collect": "executionId",
            "wait_done": {"database_url": database_url,
                          "sql": f"SELECT status FROM {table} WHERE id = %s"},
        }, env)  # fmt: skip
        measured_ids = sequential["collected"][-STANDARD_SEQUENTIAL:]
        times = Execution.objects.filter(pk__in=measured_ids, status="completed",
                                         queued_at__gte=_dt(start - 1)).values_list(
            "queued_at", "finished_at")  # fmt: skip
        enqueue_to_done = [(f - q).total_seconds() * 1000 for q, f in times]
        out["standard_p50"] = p50(enqueue_to_done)
        out["standard_client_p50"] = p50(sequential["latencies_ms"])
        out["standard_errors_seq"] = sequential["errors"]
        say(f"console standard enqueue→completed p50 {out['standard_p50']:.2f} ms "
            f"({len(enqueue_to_done)} runs; POST→seen completed by polling "
            f"{out['standard_client_p50']:.2f} ms)")  # fmt: skip

        # Standard, sustained: 16 clients for 30 s, backlog bounded.
        backlog_sql = (f"SELECT count(*) FROM {table} WHERE space_id = '{fixture.space.id}' "
                       "AND status IN ('pending', 'running')")  # fmt: skip
        meter = CpuMeter(
            {"web": web.processes, "worker": standard.processes, **infra},
            split={"sandboxes": ("worker", is_sandbox)},
        )
        before = meter.snapshot()
        sustained = many_clients(
            port,
            standard_path,
            env,
            headers=headers,
            expect_json=None,
            expect_status=202,
            seconds=SUSTAIN_SECONDS,
            warmup=1,
            collect="executionId",
            gate={"database_url": database_url, "sql": backlog_sql, "max": BACKLOG_MAX},
        )
        window = (sustained["started_at"], sustained["started_at"] + SUSTAIN_SECONDS)
        ids = sustained["collected"]
        counts = wait_drained(fixture, ids, DRAIN_TIMEOUT)
        out["standard_cpu_ms"] = per_request_ms(meter.delta(before, meter.snapshot()), len(ids))
        connection.close()  # a fresh connection sees every commit
        in_window = Execution.objects.filter(
            space=fixture.space, tier="standard", status="completed",
            finished_at__gte=_dt(window[0]), finished_at__lt=_dt(window[1]),
        ).count()  # fmt: skip
        out["standard_per_s"] = in_window / SUSTAIN_SECONDS
        out["standard_accepted_per_s"] = len(ids) / SUSTAIN_SECONDS
        out["standard_lost"] = len(set(ids)) - counts.get("completed", 0)
        out["standard_counts"] = counts
        out["standard_errors_sustained"] = sustained["errors"]
        say(f"console standard sustained {SUSTAIN_SECONDS} s: {out['standard_per_s']:.1f} "
            f"completed/s, {len(ids)} accepted ({out['standard_accepted_per_s']:.1f}/s), "
            f"{sustained['errors']} errors; after the drain: {counts}")  # fmt: skip
        say(f"  CPU ms per accepted run (load + drain): {cpu_text(out['standard_cpu_ms'])}")
    return out


# --- the module's entry point ------------------------------------------------------------------


def run() -> list[dict]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError("bench_api needs PostgreSQL: set DATABASE_URL")
    redis_url = os.environ["REDIS_URL"]
    log_dir = Path(os.environ.get("RUN_DIR") or tempfile.gettempdir()) / f"bench-api-{os.getpid()}"
    base = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    console_env = {**base, "DJANGO_SETTINGS_MODULE": "fastn_console.settings"}
    floor_env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "floors.settings",
        "PYTHONPATH": str(BENCH_DIR),
        "FLOORS_REDIS_URL": redis_db_url(redis_url, urlsplit(redis_url).path.strip("/") or "0"),
    }
    started = time.monotonic()
    infra = infra_groups()
    floors = measure_floors(floor_env, log_dir, infra)
    fixture = Fixture()
    try:
        console = measure_console(fixture, console_env, log_dir, infra)
    finally:
        connection.close()
        fixture.delete()
    say(f"bench_api took {time.monotonic() - started:.0f} s (logs: {log_dir})")
    return rows_for(floors, console)


def rows_for(floors: dict, c: dict) -> list[dict]:
    pf, th = floors["prefork2"], floors["threads4"]
    v8 = "Celery V8 view, prefork c2"
    v8t = "Celery V8 view, threads c4"
    rows = [
        row("floor: bare Django JSON view, gunicorn, p50", floors["json_p50"], "ms"),
        row("floor: fresh isolate + eval + get, p50", floors["isolate"], "ms"),
        row("floor: Celery no-op round trip, prefork c2, p50", floors["roundtrip_prefork2"],
            "ms"),
        row("floor: Celery no-op round trip, threads c4, p50", floors["roundtrip_threads4"],
            "ms"),
        row(f"floor: {v8}, 1 client p50", pf["p50"], "ms", "bare Django JSON view p50",
            floors["json_p50"]),
        row(f"floor: {v8}, 16 clients", pf["rps"], "req/s"),
        row(f"floor: {v8t}, 1 client p50", th["p50"], "ms", "bare Django JSON view p50",
            floors["json_p50"]),
        row(f"floor: {v8t}, 16 clients", th["rps"], "req/s"),
        row("instant POST /api/v1/{slug}, 1 client p50", c["instant_p50"], "ms",
            f"{v8} p50", pf["p50"]),
        row("instant POST /api/v1/{slug}, 1 client p95", c["instant_p95"], "ms",
            f"{v8} p95", pf["p95"]),
        row("instant POST, 1 client p50 (vs threads floor)", c["instant_p50"], "ms",
            f"{v8t} p50", th["p50"]),
        row("instant POST, 16 clients (higher is better)", c["instant_rps"], "req/s",
            f"{v8}, 16 clients", pf["rps"]),
        row("instant POST, 16 clients (vs threads floor)", c["instant_rps"], "req/s",
            f"{v8t}, 16 clients", th["rps"]),
        row("instant POST errors (1 + 16 clients)", c["instant_errors_1"] + c["instant_errors_16"],
            "errors", "Celery V8 view errors (prefork c2)", pf["errors_1"] + pf["errors_16"]),
        row("instant answered 200 but no completed row", c["instant_unrecorded"], "runs"),
    ]  # fmt: skip
    rows.append(row("instant: SQL statements on the web side per request", c["web_queries"],
                    "queries"))  # fmt: skip
    mine, theirs = c["instant_cpu_ms"], pf["cpu_ms"]
    rows += [
        row("instant @16: CPU per request, gunicorn", mine["web"], "ms",
            f"{v8}: gunicorn", theirs["web"]),
        row("instant @16: CPU per request, instant worker", mine["worker"], "ms",
            f"{v8}: worker incl. V8", theirs["worker"]),
        row("instant @16: CPU per request, sandboxes", mine["sandboxes"], "ms"),
        row("instant @16: CPU per request, PostgreSQL", mine["postgres"], "ms"),
        row("instant @16: CPU per request, Redis", mine["redis"], "ms",
            f"{v8}: Redis", theirs["redis"]),
        row("instant @16: CPU per request, whole machine", mine["machine"], "ms",
            f"{v8}: whole machine", theirs["machine"]),
    ]  # fmt: skip
    s = c["stages"]
    if s.get("matched"):
        rows += [
            row("instant stage: request → row created (web)", s["before"], "ms"),
            row("instant stage: row → claimed by worker", s["queue"], "ms"),
            row("instant stage: claimed → finished (worker)", s["run"], "ms"),
            row("instant stage:   of which run_workflow", s["sandbox"], "ms"),
            row("instant stage: finished → answer received", s["after"], "ms"),
        ]
    standard_floor = floors["roundtrip_threads4"] + floors["isolate"]
    rows += [
        row("standard enqueue → completed p50", c["standard_p50"], "ms",
            "no-op round trip (threads c4) + isolate", standard_floor),
        row("standard POST → 202 + completed seen, p50", c["standard_client_p50"], "ms"),
        row(f"standard completed/s, {SUSTAIN_SECONDS} s, 16 clients", c["standard_per_s"],
            "runs/s"),
        row("standard accepted (202) per second", c["standard_accepted_per_s"], "runs/s"),
        row("standard lost (accepted, not completed)", c["standard_lost"], "runs"),
        row("standard POST errors (sequential + sustained)",
            c["standard_errors_seq"] + c["standard_errors_sustained"], "errors"),
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
