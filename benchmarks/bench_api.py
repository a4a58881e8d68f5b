"""The public execute API through real processes, beside floors built on this machine in the
same run.

Processes (all on 127.0.0.1, all up together for the whole measurement, then stopped —
SIGTERM, then SIGKILL — and checked gone):
- the console as the Procfile starts it: `gunicorn fastn_console.wsgi` with the `web` line's
  flags (WEB_CONCURRENCY=2 workers × WEB_THREADS=4 threads unless set), and `celery -A
  fastn_console worker -Q instant …` / `nice -n 10 celery … -Q standard …` with the
  `worker-instant` / `worker-standard` flags (threads pool, concurrency 4 unless
  INSTANT_/STANDARD_CONCURRENCY);
- the floors (benchmarks/floors/): a bare Django project under the same gunicorn flags, and a
  bare Celery app on the same Redis server (another database number) with two workers, each
  on its own queue: prefork with concurrency 2 (the floor as STACK.md defines it) and threads
  with concurrency 4 (the console's instant worker settings);
- load comes from `python -m floors.loadgen`, a separate process with one spawned process per
  client, each on keep-alive `http.client` connections; the same generator drives the floors
  and the console. At 1 client it alternates between the floors and the console request by
  request; at 16 clients it runs 5-second rounds in turn (twice each), so that the noise of a
  shared 2-core machine falls on all of them alike.

Figures:
1. floors: bare JSON view p50; fresh-isolate run p50 (in a process of its own); bare Celery
   no-op `apply_async().get()` p50; the "Celery V8 view" (the view sends the trivial function to
   a bare task that evaluates it in a fresh MiniRacer; the view `.get()`s it and answers its
   JSON) at 1 client (300 requests: p50, p95) and at 16 clients (requests/s, errors; prefork
   only, see sixteen_clients);
2. instant `POST /api/v1/{slug}` of the trivial workflow (live API key, published and deployed
   to live, execution recorded): the same two loads, against the Celery V8 view; the check that
   every answer had its completed execution row; the web side's SQL statements; CPU per request
   of each process group at 16 clients, beside the floor's; and where a 1-client request's time
   goes, from the execution rows' timestamps matched to the requests;
3. standard accept: `POST /api/v1/{slug}` of a standard workflow answered 202 (the row
   committed, the message sent) at 1 client (p50, p95) and 16 clients (202s per second), against
   the "Django view + Celery enqueue" floor (a bare view that sends a no-op task and answers 202
   JSON; a floor worker consumes it). At 16 clients each round is followed by the drain of what
   it accepted (outside the timed window, inside the CPU figure), so that no round pays for the
   previous one's backlog;
4. standard: enqueue → completed p50 (the row's queued_at → finished_at, one run at a time)
   against the bare round trip (threads worker) + one fresh-isolate run; executions/s completed
   during 30 s of 16 clients posting (the backlog held under BACKLOG_MAX so that the worker is
   always busy and the drain stays short), and how many accepted runs did not complete (lost).

Needs DATABASE_URL (PostgreSQL, migrated) and REDIS_URL: `scripts/bench.sh bench_api`.
The module creates its own user, Space and workflows and deletes them afterwards.
`bench_embedded` measures the same figures against `make run`'s own processes (SQLite) with the
functions below; a "console" is any object with `port`, `database_url`, `web`, `instant`,
`standard` (each with `processes()`) and `infra` (more CPU groups: database server, Redis…).
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

from common import row

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

SEQUENTIAL = 300  # 1-client requests per target after warm-up
CLIENTS = 16
ROUND_SECONDS = 5  # 16-client rounds, ROUNDS per target, in turn
ROUNDS = 2
WARMUP_16 = 3  # warm-up requests per client and round
STANDARD_SEQUENTIAL = 80
SUSTAIN_SECONDS = 30
BACKLOG_MAX = 64  # pending + running executions allowed while sustaining the standard load
DRAIN_TIMEOUT = 90
if os.environ.get("BENCH_SHORT"):  # a quick pass to check the harness, not figures to quote
    SEQUENTIAL, ROUND_SECONDS, ROUNDS, STANDARD_SEQUENTIAL, SUSTAIN_SECONDS = 40, 2, 1, 20, 5
OK_BODY = {"ok": True}
VARIANTS = {"prefork2": ("prefork", "2"), "threads4": ("threads", "4")}  # V8 floor workers
# The accept floor's consumer: the console's worker-standard flags (threads, concurrency 4).
FLOOR_WORKERS = {**VARIANTS, "enqueue": ("threads", "4")}
ENQUEUE_QUEUE = "floor-enqueue"


def p50(values) -> float:
    return statistics.median(values)


def p95(values) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def say(text: str) -> None:
    print(f"  {text}", flush=True)


def load(spec: dict, env: dict) -> dict:
    """Run the load generator in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "floors.loadgen"],
        input=json.dumps(spec), capture_output=True, text=True, cwd=BENCH_DIR, env=env,
        timeout=(spec.get("duration") or 0) + 600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def probe(what: str, count: int, env: dict, *args: str) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-m", "floors.probe", what, str(count), *args],
        capture_output=True, text=True, cwd=BENCH_DIR, env=env, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"probe {what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def redis_db_url(url: str) -> str:
    """The same Redis server, another database number."""
    parts = urlsplit(url)
    db = "3" if parts.path.strip("/") == "2" else "2"
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


def cpu_text(cpu_ms: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in cpu_ms.items())


def _dt(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


# --- fixtures in the console's database --------------------------------------------------------


class Fixture:
    """A Space with a live API key and a trivial instant and standard workflow deployed to
    `live`; bench_webhooks adds its triggers to it."""

    label = "api"

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        from apps.environments.selectors import environment_by_slug
        from apps.spaces.audit import Actor
        from apps.spaces.services import apikey_create, space_create
        from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish

        tag = uuid.uuid4().hex[:10]
        self.user = get_user_model().objects.create_user(
            username=f"bench-{self.label}-{tag}", email=f"bench-{self.label}-{tag}@example.com"
        )
        actor = Actor.for_user(self.user)
        self.space = space_create(f"bench {self.label} {tag}", owner=self.user, actor=actor)
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

    def path(self, tier: str) -> str:
        return f"/api/v1/{self.workflows[tier].slug}"

    def delete(self) -> None:
        self.space.delete()
        self.user.delete()


# --- the processes -----------------------------------------------------------------------------


class Floors:
    """The floor project under the Procfile's gunicorn flags, and its Celery workers (one queue
    each) on the console's Redis server (another database number)."""

    def __init__(self, services: Services, log_dir: Path, env: dict):
        self.port = free_port()
        self.redis_url = env["FLOORS_REDIS_URL"]
        self.web = services.add(Service(
            "floor-web", ["gunicorn", "floors.wsgi", *procfile_web_args(self.port)],
            cwd=BENCH_DIR, env=env, log_dir=log_dir))  # fmt: skip
        self.workers = {
            name: services.add(Service(
                f"floor-worker-{name}",
                ["celery", "-A", "floors.celery_app", "worker", "-Q", f"floor-{name}",
                 "-n", f"floor-{name}@%h", "--concurrency", concurrency, "--pool", pool,
                 "--without-mingle", "--without-gossip", "-l", "info"],
                cwd=BENCH_DIR, env=env, log_dir=log_dir))
            for name, (pool, concurrency) in FLOOR_WORKERS.items()
        }  # fmt: skip

    def wait_ready(self) -> None:
        self.web.wait_http(self.port, "/json")
        for worker in self.workers.values():
            worker.wait_log(" ready.")

    def wait_drained(self, timeout: float) -> None:
        """Until the enqueue floor's queue is empty (its worker took every message)."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while client.llen(ENQUEUE_QUEUE) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            client.close()


class PostgresConsole:
    """The console's web, instant and standard workers as the Procfile starts them."""

    def __init__(self, services: Services, log_dir: Path, env: dict, infra: dict):
        self.port = free_port()
        self.database_url = os.environ["DATABASE_URL"]
        self.infra = infra
        celery = ["celery", "-A", "fastn_console", "worker"]
        flags = ["--pool", "threads", "--without-mingle", "--without-gossip", "-l", "info"]
        self.web = services.add(Service(
            "console-web", ["gunicorn", "fastn_console.wsgi", *procfile_web_args(self.port)],
            cwd=ROOT, env=env, log_dir=log_dir))  # fmt: skip
        self.instant = services.add(Service(
            "console-worker-instant",
            [*celery, "-Q", "instant", "-n", "instant@%h", "--concurrency",
             env.get("INSTANT_CONCURRENCY") or "4", *flags],
            cwd=ROOT, env=env, log_dir=log_dir))  # fmt: skip
        self.standard = services.add(Service(
            "console-worker-standard",
            ["nice", "-n", "10", *celery, "-Q", "standard", "-n", "standard@%h", "--concurrency",
             env.get("STANDARD_CONCURRENCY") or "4", *flags],
            cwd=ROOT, env=env, log_dir=log_dir))  # fmt: skip

    def wait_ready(self) -> None:
        self.web.wait_http(self.port, "/healthz")
        for worker in (self.instant, self.standard):
            worker.wait_log(" ready.")


def floor_env(base: dict, redis_url: str) -> dict:
    return {**base, "DJANGO_SETTINGS_MODULE": "floors.settings", "PYTHONPATH": str(BENCH_DIR),
            "FLOORS_REDIS_URL": redis_db_url(redis_url)}  # fmt: skip


def console_groups(console, worker) -> CpuMeter:
    return CpuMeter({"web": console.web.processes, "worker": worker.processes, **console.infra},
                    split={"sandboxes": ("worker", is_sandbox)})  # fmt: skip


def db_uuid(value) -> str:
    """A UUID as the console's database stores it (32 hex digits on SQLite)."""
    from django.db import connection

    return value.hex if connection.vendor == "sqlite" else str(value)


def id_sql(table: str) -> str:
    """`SELECT status … WHERE id = <the API's executionId>` for the load generator's polls."""
    from django.db import connection

    param = "replace(%s, '-', '')" if connection.vendor == "sqlite" else "%s"
    return f"SELECT status FROM {table} WHERE id = {param}"


# --- measurements ------------------------------------------------------------------------------


def targets(floors: Floors, console, fixture: Fixture) -> dict[str, dict]:
    body = TRIVIAL_BODY.decode()
    out = {}
    for name in VARIANTS:
        out[name] = {"port": floors.port, "path": f"/v8/floor-{name}", "body": body,
                     "expect_json": OK_BODY}  # fmt: skip
    out["console"] = {"port": console.port, "path": fixture.path("instant"), "body": body,
                      "headers": fixture.headers, "expect_json": OK_BODY}  # fmt: skip
    return out


def accept_targets(floors: Floors, console, fixture: Fixture) -> dict[str, dict]:
    body = TRIVIAL_BODY.decode()
    common = {"body": body, "expect_status": 202, "collect": "executionId"}
    return {
        "floor": {"port": floors.port, "path": f"/enqueue/{ENQUEUE_QUEUE}", **common},
        "console": {"port": console.port, "path": fixture.path("standard"),
                    "headers": fixture.headers, **common},
    }  # fmt: skip


def one_client(floors, console, fixture, env) -> dict[str, dict]:
    """300 requests to each target, alternating request by request; before that, the bare
    JSON view on its own (alternated with heavier requests, its p50 came out about twice its
    standalone p50 on this machine: it then measures wake-ups more than Django)."""
    json_view = {"port": floors.port, "path": "/json", "method": "GET", "body": None,
                 "expect_json": OK_BODY}  # fmt: skip
    result = load({"clients": 1, "requests": SEQUENTIAL, "warmup": 20,
                   "targets": [json_view]}, env)  # fmt: skip
    out = {"json": result["targets"][0]}
    named = targets(floors, console, fixture)
    result = load({"clients": 1, "requests": SEQUENTIAL, "warmup": 20,
                   "targets": list(named.values())}, env)  # fmt: skip
    out.update(zip(named, result["targets"], strict=True))
    for name, part in out.items():
        if not part["latencies_ms"]:
            raise RuntimeError(f"{name}: no successful request ({part['error_kinds']})")
        part["p50"], part["p95"] = p50(part["latencies_ms"]), p95(part["latencies_ms"])
    return out


def floor_meter(floors: Floors, worker: str, console) -> CpuMeter:
    return CpuMeter({"web": floors.web.processes, "worker": floors.workers[worker].processes,
                     **console.infra})  # fmt: skip


def sixteen_clients(floors, console, fixture, env) -> dict[str, dict]:
    """ROUNDS rounds of ROUND_SECONDS per target, in turn; requests/s, errors, and CPU
    milliseconds per request of each process group (web, worker, sandboxes, the database
    server, Redis, and the whole machine, which includes the load generator and anything else
    running)."""
    named = targets(floors, console, fixture)
    # Not the threads c4 V8 floor: under 16 clients its worker stops finishing tasks (fresh
    # MiniRacers made concurrently in threads of one process hung there, twice in a row, on
    # this machine), and every request then waits for its timeout. The console never makes an
    # isolate in a worker thread (sandbox processes), so prefork is the floor that applies.
    meters = {"prefork2": floor_meter(floors, "prefork2", console)}
    meters["console"] = console_groups(console, console.instant)
    return rounds(meters, named, env)


def rounds(meters: dict, named: dict, env: dict, drain: dict | None = None) -> dict[str, dict]:
    """ROUNDS rounds of ROUND_SECONDS of CLIENTS clients per target, in turn. `drain[name]`
    (the round's load-generator result) waits until the target's accepted work is done, inside
    the CPU figure, outside the timed window."""
    totals = {name: {"ok": 0, "errors": 0, "warmup_ok": 0, "requests": 0, "elapsed": 0.0,
                     "kinds": {}, "cpu": {}} for name in meters}  # fmt: skip
    for _ in range(ROUNDS):
        for name, meter in meters.items():
            before = meter.snapshot()
            result = load({"clients": CLIENTS, "duration": ROUND_SECONDS, "warmup": WARMUP_16,
                           "targets": [named[name]]}, env)  # fmt: skip
            if drain:
                drain[name](result)
            cpu = meter.delta(before, meter.snapshot())
            part, total = result["targets"][0], totals[name]
            total["ok"] += part["ok"]
            total["errors"] += part["errors"]
            total["warmup_ok"] += part["warmup_ok"]
            total["requests"] += part["ok"] + part["errors"] + WARMUP_16 * CLIENTS
            total["elapsed"] += result["elapsed_s"]
            for kind, n in part["error_kinds"].items():
                total["kinds"][kind] = total["kinds"].get(kind, 0) + n
            for group, seconds in cpu.items():
                total["cpu"][group] = total["cpu"].get(group, 0.0) + seconds
    for total in totals.values():
        total["rps"] = total["ok"] / total["elapsed"] if total["elapsed"] else 0.0
        total["cpu_ms"] = {g: s * 1000 / total["requests"] for g, s in total["cpu"].items()}
    return totals


def instant_stages(fixture, spans) -> dict:
    """Match each 1-client request to its execution row (its queued_at falls inside the
    request) and split the request's time by the row's timestamps."""
    from apps.executions.models import Execution

    spans = sorted(spans)
    rows = list(
        Execution.objects.filter(workflow=fixture.workflows["instant"],
                                 queued_at__gte=_dt(spans[0][0] - 1),
                                 queued_at__lte=_dt(spans[-1][1] + 1))
        .order_by("queued_at")
        .values_list("queued_at", "started_at", "finished_at", "duration_ms")
    )  # fmt: skip
    queued = [r[0].timestamp() for r in rows]
    parts: dict[str, list[float]] = {k: [] for k in ("before", "queue", "run", "sandbox", "after")}
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
    out = {key: p50(values) for key, values in parts.items() if values}
    out["matched"] = len(parts["before"])
    return out


def web_side_queries(fixture) -> tuple[float, list[str]]:
    """SQL statements the web side of one instant request sends (the view run in this process
    through the test Client, against the running instant worker): median count, and the
    statements of the last request."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")
    counts, statements = [], []
    for _ in range(7):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(fixture.path("instant"), data=TRIVIAL_BODY,
                                   content_type="application/json",
                                   headers=fixture.headers)  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(f"in-process instant request answered {response.status_code}")
        counts.append(len(captured.captured_queries))
        statements = [q["sql"] for q in captured.captured_queries]
    return p50(counts), statements


def completed_count(fixture, tier: str) -> int:
    from apps.executions.models import Execution

    return Execution.objects.filter(
        workflow=fixture.workflows[tier], status="completed", triggered_by="api"
    ).count()


def wait_drained(ids: list[str], timeout: float) -> dict[str, int]:
    """Wait until every accepted execution is terminal (or the timeout); answer the counts of
    the accepted ones per status ("missing" for ids without a row)."""
    from apps.executions.models import TERMINAL, Execution

    wanted = set(ids)
    deadline = time.monotonic() + timeout
    while True:
        statuses = dict(Execution.objects.filter(pk__in=wanted).values_list("id", "status"))
        still_open = [s for s in statuses.values() if s not in TERMINAL]
        if (not still_open and len(statuses) == len(wanted)) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    counts = {"missing": len(wanted) - len(statuses)}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def accept_figures(floors, console, fixture, env) -> dict:
    """Standard runs accepted (202): the console's POST against the enqueue floor, alternating
    request by request at 1 client, in rounds at 16 clients (each round drained afterwards)."""
    named = accept_targets(floors, console, fixture)
    result = load({"clients": 1, "requests": SEQUENTIAL, "warmup": 20,
                   "targets": list(named.values())}, env["floor"])  # fmt: skip
    single = dict(zip(named, result["targets"], strict=True))
    for name, part in single.items():
        if not part["latencies_ms"]:
            raise RuntimeError(f"accept {name}: no successful request ({part['error_kinds']})")
        part["p50"], part["p95"] = p50(part["latencies_ms"]), p95(part["latencies_ms"])
        say(f"accept 1 client, {name}: p50 {part['p50']:.2f} ms, p95 {part['p95']:.2f} ms, "
            f"{part['errors']} errors")  # fmt: skip
    drained = wait_drained(single["console"]["collected"], DRAIN_TIMEOUT)
    floors.wait_drained(DRAIN_TIMEOUT)
    meters = {"floor": floor_meter(floors, "enqueue", console),
              "console": console_groups(console, console.standard)}  # fmt: skip
    left: dict[str, int] = {}

    def drain_console(result: dict) -> None:
        counts = wait_drained(result["targets"][0]["collected"], DRAIN_TIMEOUT)
        for status, n in counts.items():
            left[status] = left.get(status, 0) + n

    drain = {"floor": lambda _result: floors.wait_drained(DRAIN_TIMEOUT),
             "console": drain_console}  # fmt: skip
    burst = rounds(meters, named, env["floor"], drain)
    for name, total in burst.items():
        say(f"accept 16 clients, {name}: {total['rps']:.1f} req/s, {total['errors']} errors "
            f"{total['kinds'] or ''}; CPU ms per accepted run (accept + drain): "
            f"{cpu_text(total['cpu_ms'])}")  # fmt: skip
    say(f"accepted runs after their drains: 1 client {drained}, 16 clients {left}")
    accepted = drained.get("completed", 0) + left.get("completed", 0)
    lost = sum(drained.values()) + sum(left.values()) - accepted
    return {"single": single, "burst": burst, "lost": lost}


def standard_figures(floors, console, fixture, env) -> dict:
    from apps.executions.models import Execution

    out: dict = {}
    table = Execution._meta.db_table
    database_url = console.database_url
    target = {"port": console.port, "path": fixture.path("standard"),
              "headers": fixture.headers, "body": TRIVIAL_BODY.decode(), "expect_status": 202,
              "collect": "executionId"}  # fmt: skip

    # The floor for one run, measured just before: bare round trip + fresh isolate.
    out["roundtrip"] = p50(probe("roundtrip", 200, env["floor"], "floor-threads4"))
    out["roundtrip_prefork"] = p50(probe("roundtrip", 200, env["floor"], "floor-prefork2"))
    out["isolate"] = p50(probe("isolate", 200, env["floor"]))
    say(f"floor no-op round trip: threads c4 {out['roundtrip']:.2f} ms, prefork c2 "
        f"{out['roundtrip_prefork']:.2f} ms; fresh isolate {out['isolate']:.2f} ms")  # fmt: skip

    # One run at a time: enqueue → completed from the row's own timestamps.
    wait_done = {"database_url": database_url, "sql": id_sql(table)}
    result = load({"clients": 1, "requests": STANDARD_SEQUENTIAL, "warmup": 10,
                   "targets": [{**target, "wait_done": wait_done}]}, env["console"])  # fmt: skip
    part = result["targets"][0]
    measured = part["collected"][-STANDARD_SEQUENTIAL:]
    times = Execution.objects.filter(pk__in=measured, status="completed").values_list(
        "queued_at", "finished_at"
    )
    out["p50"] = p50([(f - q).total_seconds() * 1000 for q, f in times])
    out["client_p50"] = p50(part["latencies_ms"])
    out["errors"] = part["errors"]
    say(f"console standard enqueue→completed p50 {out['p50']:.2f} ms ({len(times)} runs; "
        f"POST → completed seen by polling {out['client_p50']:.2f} ms)")  # fmt: skip

    # Sustained: 16 clients for 30 s, the backlog bounded.
    backlog = (f"SELECT count(*) FROM {table} WHERE space_id = '{db_uuid(fixture.space.id)}' "
               "AND status IN ('pending', 'running')")  # fmt: skip
    meter = console_groups(console, console.standard)
    before = meter.snapshot()
    result = load({"clients": CLIENTS, "duration": SUSTAIN_SECONDS, "warmup": 1,
                   "targets": [target],
                   "gate": {"database_url": database_url, "sql": backlog, "max": BACKLOG_MAX}},
                  env["console"])  # fmt: skip
    part = result["targets"][0]
    ids = part["collected"]
    counts = wait_drained(ids, DRAIN_TIMEOUT)
    cpu = meter.delta(before, meter.snapshot())
    start = result["started_at"]
    in_window = Execution.objects.filter(
        space=fixture.space, tier="standard", status="completed",
        finished_at__gte=_dt(start), finished_at__lt=_dt(start + SUSTAIN_SECONDS),
    ).count()  # fmt: skip
    out["per_s"] = in_window / SUSTAIN_SECONDS
    out["accepted_per_s"] = part["ok"] / SUSTAIN_SECONDS
    out["lost"] = len(set(ids)) - counts.get("completed", 0)
    out["counts"] = counts
    out["gate_closed"] = result.get("gate_closed_fraction", 0.0)
    out["backlog_median"] = result.get("backlog_median", 0)
    out["errors"] += part["errors"]
    out["cpu_ms"] = {g: s * 1000 / len(ids) for g, s in cpu.items()} if ids else {}
    say(
        f"console standard sustained {SUSTAIN_SECONDS} s: {out['per_s']:.1f} completed/s, "
        f"{part['ok']} accepted in the window ({out['accepted_per_s']:.1f}/s), "
        f"{part['errors']} errors {part.get('error_kinds') or ''}; accepted in all {len(ids)}, "
        f"after the drain: {counts}; "
        f"backlog median {out['backlog_median']}, at the cap ({BACKLOG_MAX}) "
        f"{out['gate_closed']:.0%} of the time"
    )
    say(f"  CPU ms per accepted run (load + drain): {cpu_text(out['cpu_ms'])}")
    return out


# --- the module's entry point ------------------------------------------------------------------


def bench_env() -> tuple[Path, dict]:
    """Where the processes' logs go, and the environment of the processes (the virtualenv's
    commands first on PATH)."""
    log_dir = Path(os.environ.get("RUN_DIR") or tempfile.gettempdir()) / f"bench-api-{os.getpid()}"
    base = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return log_dir, base


def run() -> list[dict]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError("bench_api needs PostgreSQL: set DATABASE_URL")
    started = time.monotonic()
    log_dir, base = bench_env()
    env = {
        "console": {**base, "DJANGO_SETTINGS_MODULE": "fastn_console.settings"},
        "floor": floor_env(base, os.environ["REDIS_URL"]),
    }
    fixture = Fixture()
    try:
        with Services() as services:
            floors = Floors(services, log_dir, env["floor"])
            console = PostgresConsole(services, log_dir, env["console"], infra_groups())
            floors.wait_ready()
            console.wait_ready()
            say(f"floors and console up in {time.monotonic() - started:.1f} s")
            figures = measure(floors, console, fixture, env)
        say("all processes stopped; none left behind")
    finally:
        connection.close()
        fixture.delete()
    say(f"bench_api took {time.monotonic() - started:.0f} s (process logs: {log_dir}; "
        "scripts/bench.sh removes RUN_DIR when it ends)")  # fmt: skip
    return rows_for(figures)


def measure(floors, console, fixture, env) -> dict:
    figures: dict = {}
    instant_before = completed_count(fixture, "instant")
    single = one_client(floors, console, fixture, env["floor"])
    figures["single"] = single
    for name, label in (("json", "bare JSON view"), ("prefork2", "Celery V8 view, prefork c2"),
                        ("threads4", "Celery V8 view, threads c4"),
                        ("console", "console instant POST")):  # fmt: skip
        part = single[name]
        say(f"1 client, {label}: p50 {part['p50']:.2f} ms, p95 {part['p95']:.2f} ms, "
            f"{part['errors']} errors")  # fmt: skip
    figures["stages"] = instant_stages(fixture, single["console"]["spans"])
    say("1 client, where an instant request's time goes (p50 ms): " + ", ".join(
        f"{k} {v:.2f}" for k, v in figures["stages"].items() if k != "matched"))  # fmt: skip

    burst = sixteen_clients(floors, console, fixture, env["floor"])
    figures["burst"] = burst
    for name, total in burst.items():
        say(
            f"16 clients, {name}: {total['rps']:.1f} req/s, {total['errors']} errors "
            f"{total['kinds'] or ''}; CPU ms per request: {cpu_text(total['cpu_ms'])}"
        )

    successes = (single["console"]["ok"] + single["console"]["warmup_ok"]
                 + burst["console"]["ok"] + burst["console"]["warmup_ok"])  # fmt: skip
    recorded = completed_count(fixture, "instant") - instant_before
    # Every 200 must have its completed row (a request answered with an error may or may not).
    figures["unrecorded"] = max(0, successes - recorded)
    say(f"instant runs recorded as completed: {recorded}; answered 200: {successes}")

    figures["web_queries"], statements = web_side_queries(fixture)
    say(f"web side of one instant request: {figures['web_queries']:.0f} SQL statements:")
    for sql in statements:
        say(f"    {sql[:120]}")

    figures["accept"] = accept_figures(floors, console, fixture, env)
    figures["standard"] = standard_figures(floors, console, fixture, env)
    return figures


def rows_for(f: dict) -> list[dict]:
    single, burst, std, stages = f["single"], f["burst"], f["standard"], f["stages"]
    v8, v8t = "Celery V8 view, prefork c2", "Celery V8 view, threads c4"
    pf, th, me = single["prefork2"], single["threads4"], single["console"]
    bpf, bme = burst["prefork2"], burst["console"]
    rows = [
        row("floor: bare Django JSON view, gunicorn, p50", single["json"]["p50"], "ms"),
        row("floor: fresh isolate + eval + get, p50", std["isolate"], "ms"),
        row("floor: Celery no-op round trip, threads c4, p50", std["roundtrip"], "ms"),
        row("floor: Celery no-op round trip, prefork c2, p50", std["roundtrip_prefork"], "ms"),
        row(f"floor: {v8}, 1 client p50", pf["p50"], "ms"),
        row(f"floor: {v8t}, 1 client p50", th["p50"], "ms"),
        row(f"floor: {v8}, 16 clients", bpf["rps"], "req/s"),
        row("instant POST /api/v1/{slug}, 1 client p50", me["p50"], "ms", f"{v8} p50",
            pf["p50"]),
        row("instant POST /api/v1/{slug}, 1 client p95", me["p95"], "ms", f"{v8} p95",
            pf["p95"]),
        row("instant POST, 1 client p50 (threads floor)", me["p50"], "ms", f"{v8t} p50",
            th["p50"]),
        row("instant POST, 16 clients (higher is better)", bme["rps"], "req/s",
            f"{v8}, 16 clients", bpf["rps"]),
        row("instant POST errors, 1 + 16 clients", me["errors"] + bme["errors"], "errors",
            f"{v8} errors", pf["errors"] + bpf["errors"]),
        row("instant answered 200 without a completed row", f["unrecorded"], "runs"),
        row("instant: SQL statements, web side, per request", f["web_queries"], "queries"),
    ]  # fmt: skip
    mine, theirs = bme["cpu_ms"], bpf["cpu_ms"]
    rows += [
        row("instant @16: CPU/request, gunicorn", mine["web"], "ms",
            f"{v8}: gunicorn", theirs["web"]),
        # A sandbox recycled inside the window leaves its CPU to the worker (its parent), so
        # the sum is exact and the split between the two approximate.
        row("instant @16: CPU/request, worker + sandboxes", mine["worker"] + mine["sandboxes"],
            "ms", f"{v8}: worker, V8 included", theirs["worker"]),
        row("instant @16:   of which sandboxes (approx.)", mine["sandboxes"], "ms"),
        *(row(f"instant @16: CPU/request, {group}", mine[group], "ms")
          for group in mine if group not in ("web", "worker", "sandboxes", "redis", "machine")),
        row("instant @16: CPU/request, Redis", mine["redis"], "ms",
            f"{v8}: Redis", theirs["redis"]),
        row("instant @16: CPU/request, whole machine", mine["machine"], "ms",
            f"{v8}: whole machine", theirs["machine"]),
    ]  # fmt: skip
    if stages.get("matched"):
        rows += [
            # queued_at is set when the web builds the row (before its INSERT); started_at when
            # the worker claims it (before the UPDATE); finished_at before the attempt row and
            # the final UPDATE are written; duration_ms is run_workflow's own figure.
            row("instant 1 client: sent → queued_at (web, auth)", stages["before"], "ms"),
            row("instant 1 client: queued_at → started_at", stages["queue"], "ms"),
            row("instant 1 client: started_at → finished_at", stages["run"], "ms"),
            row("instant 1 client:   of which run_workflow", stages["sandbox"], "ms"),
            row("instant 1 client: finished_at → answer", stages["after"], "ms"),
        ]
    acc, bacc = f["accept"]["single"], f["accept"]["burst"]
    enq = "Django view + Celery enqueue"
    rows += [
        row(f"floor: {enq}, 1 client p50", acc["floor"]["p50"], "ms"),
        row(f"floor: {enq}, 16 clients", bacc["floor"]["rps"], "req/s"),
        row("standard accept (202), 1 client p50", acc["console"]["p50"], "ms", f"{enq} p50",
            acc["floor"]["p50"]),
        row("standard accept (202), 1 client p95", acc["console"]["p95"], "ms", f"{enq} p95",
            acc["floor"]["p95"]),
        row("standard accept (202), 16 clients", bacc["console"]["rps"], "req/s",
            f"{enq}, 16 clients", bacc["floor"]["rps"]),
        row("standard accept @16: CPU/accepted run, gunicorn", bacc["console"]["cpu_ms"]["web"],
            "ms", f"{enq}: gunicorn", bacc["floor"]["cpu_ms"]["web"]),
        row("standard accept @16: CPU/accepted run, worker + sandboxes",
            bacc["console"]["cpu_ms"]["worker"] + bacc["console"]["cpu_ms"]["sandboxes"], "ms",
            f"{enq}: no-op worker", bacc["floor"]["cpu_ms"]["worker"]),
        row("standard accept errors, 1 + 16 clients",
            acc["console"]["errors"] + bacc["console"]["errors"], "errors", f"{enq} errors",
            acc["floor"]["errors"] + bacc["floor"]["errors"]),
        row("standard accepted (202) but not completed", f["accept"]["lost"], "runs"),
    ]  # fmt: skip
    rows += [
        row("standard enqueue → completed p50", std["p50"], "ms",
            "no-op round trip (threads c4) + isolate", std["roundtrip"] + std["isolate"]),
        row("standard POST → completed seen (polling), p50", std["client_p50"], "ms"),
        row(f"standard completed/s over {SUSTAIN_SECONDS} s, 16 clients", std["per_s"],
            "runs/s"),
        row("standard accepted (202) per second", std["accepted_per_s"], "runs/s"),
        row("standard lost (accepted, not completed)", std["lost"], "runs"),
        row(f"standard: time the backlog sat at its cap ({BACKLOG_MAX})",
            std["gate_closed"] * 100, "%"),
        row("standard POST errors", std["errors"], "errors"),
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
