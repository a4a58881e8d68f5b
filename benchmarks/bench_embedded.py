"""The execute API against `make run`'s own configuration — the embedded default a new user
meets first — beside the same floors as bench_api, in the same run.

The console is `scripts/run.sh` itself, started in a temporary var dir on free ports: the
private PostgreSQL and the Redis server it supervises under var/ (or SQLite, with
BENCH_EMBEDDED_DB=sqlite), every Procfile process with the same flags under supervisord, their
output through scripts/prefix-output.sh. The floors
(benchmarks/floors/) run beside it on that same Redis server (another database number). The
figures and their order are bench_api's (1 client alternating with the floors request by
request, 16 clients in rounds in turn, standard accept against "Django view + Celery enqueue",
enqueue → completed, sustained), with the CPU of the database server and of supervisord and the
output prefixers as groups of their own.

Run by `make bench` after the PostgreSQL modules, or alone: `scripts/bench.sh bench_embedded`
(it sets FASTN_VAR_DIR, FASTN_PORT, FASTN_REDIS_PORT and REDIS_URL for this process and for
run.sh, and removes the var dir afterwards).
"""

from __future__ import annotations

import contextlib
import os
import time

import psutil
from bench_api import (
    ROOT,
    Fixture,
    Floors,
    bench_env,
    floor_env,
    measure,
    rows_for,
    say,
)
from floors.procs import Service, Services


def cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def process_name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


def is_prefixer(proc: psutil.Process) -> bool:
    """The `sed -u` that scripts/prefix-output.sh puts in front of each program's output."""
    return process_name(proc) == "sed"


class Group:
    """Processes under run.sh picked by their command line, for the CPU figures."""

    def __init__(self, run: Service, match, *, descendants: bool = False) -> None:
        self.run = run
        self.match = match
        self.descendants = descendants

    def processes(self) -> list[psutil.Process]:
        try:
            tree = psutil.Process(self.run.process.pid).children(recursive=True)
        except psutil.Error:
            return []
        out = []
        for proc in tree:
            if not self.match(proc):
                continue
            out.append(proc)
            if self.descendants:
                with contextlib.suppress(psutil.Error):
                    out += [p for p in proc.children(recursive=True) if not is_prefixer(p)]
        return out


def use_embedded_database() -> str:
    """Point this process at the database make run chose and created (its private PostgreSQL,
    or SQLite): run.py set Django up before it existed. Answers its URL."""
    import dj_database_url
    from django.db import connections

    from fastn_console.settings import embedded_database_url

    url = embedded_database_url()
    connections.close_all()
    parsed = dj_database_url.parse(url)
    if parsed["ENGINE"] == "django.db.backends.sqlite3":
        return url  # what settings chose already
    connections.settings["default"].update(parsed)
    connections.settings["default"]["OPTIONS"] = {}
    del connections["default"]  # the next use builds the wrapper from the new settings
    return url


class EmbeddedConsole:
    """`make run` (scripts/run.sh), stopped as Ctrl-C would: run.sh's trap stops supervisord,
    which stops every program."""

    def __init__(self, services: Services, log_dir, env: dict) -> None:
        self.port = int(env["FASTN_PORT"])
        self.database_url = env.get("DATABASE_URL")
        self.run = services.add(Service("make-run", ["bash", "scripts/run.sh"], cwd=ROOT, env=env,
                                        log_dir=log_dir))  # fmt: skip
        self.web = Group(self.run, lambda p: "gunicorn" in cmdline(p))
        self.instant = Group(self.run, lambda p: "-Q instant" in cmdline(p), descendants=True)
        self.standard = Group(self.run, lambda p: "-Q standard" in cmdline(p), descendants=True)
        self.infra = {
            "database server": Group(self.run, lambda p: process_name(p) == "postgres").processes,
            "redis": Group(self.run, lambda p: "redis-server" in cmdline(p)).processes,
            "supervisord + prefixers": Group(
                self.run, lambda p: is_prefixer(p) or "supervisord" in cmdline(p)
            ).processes,
        }

    def wait_ready(self, timeout: float = 180.0) -> None:
        self.run.wait_http(self.port, "/healthz", timeout=timeout)
        if not self.database_url:
            self.database_url = use_embedded_database()
        deadline = time.monotonic() + timeout
        for name in ("instant@", "standard@"):
            while not any(
                name in line and " ready." in line for line in self.run.log_text().splitlines()
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no {name} worker ready:\n{self.run.log_text()[-3000:]}")
                time.sleep(0.1)


def run() -> list[dict]:
    from django.db import connection

    started = time.monotonic()
    log_dir, base = bench_env()
    redis_url = base["REDIS_URL"]
    # run.sh starts (and supervises) its own Redis only when REDIS_URL is unset. DATABASE_URL
    # is passed on when set (make run against that database), else make run's default.
    console_env = {k: v for k, v in base.items() if k != "REDIS_URL"}
    console_env["FASTN_ENV"] = "embedded"
    env = {"console": console_env, "floor": floor_env(base, redis_url)}
    fixture = None
    try:
        with Services() as services:
            console = EmbeddedConsole(services, log_dir, console_env)
            console.wait_ready()
            floors = Floors(services, log_dir, env["floor"])
            floors.wait_ready()
            fixture = Fixture()
            connection.close()
            say(f"make run and floors up in {time.monotonic() - started:.1f} s "
                f"(load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})")  # fmt: skip
            figures = measure(floors, console, fixture, env)
        say("all processes stopped; none left behind")
    finally:
        connection.close()
    say(f"bench_embedded took {time.monotonic() - started:.0f} s (process logs: {log_dir}; "
        f"load average now {', '.join(f'{x:.2f}' for x in os.getloadavg())})")  # fmt: skip
    return [{**r, "name": f"embedded: {r['name']}"} for r in rows_for(figures)]
