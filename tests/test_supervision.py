"""`make run` supervises its processes: SIGKILL each kind under a load of API calls — the
console keeps answering, the killed process is back within 10 s, no accepted run is lost."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.test_embedded_boot import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
RECOVERY_S = 10.0

# A live key and two deployed workflows in the embedded instance; the standard one runs for
# ~300 ms, so a killed worker always has runs in flight.
SETUP = """
from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.spaces.services import apikey_create
from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish
space = Space.objects.get(name="Demo Space")
actor = Actor.system("test")
_key, raw = apikey_create(space, name="supervision test", mode="live", actor=actor)
codes = {
    "instant": "export default async (ctx) => ({n: ctx.input.n})",
    "standard": "export default async (ctx) => { "
                "await new Promise((resolve) => setTimeout(resolve, 300)); "
                "return {n: ctx.input.n}; }",
}
for tier, code in codes.items():
    # Retry on: a run whose worker was killed is dispatched again rather than failed.
    workflow = workflow_create(space, actor=actor, name=f"Load {tier}", slug=f"load-{tier}",
                               tier=tier, code=code, retry_enabled=True, retry_max_attempts=3)
    version = workflow_publish(workflow, actor=actor)
    workflow_deploy(workflow, version=version, environment=environment_by_slug(space, "live"),
                    actor=actor)
print(raw, space.id)
"""

# The end state of the given executions: {status: count}, and their attempts' errors.
OUTCOME = """
import collections, json, os
from apps.executions.models import Execution, ExecutionAttempt
ids = json.load(open(os.environ["IDS_FILE"]))
rows = Execution.objects.filter(pk__in=ids)
print(json.dumps({
    "found": rows.count(),
    "status": collections.Counter(rows.values_list("status", flat=True)),
    "lost_attempts": ExecutionAttempt.objects.filter(
        execution_id__in=ids, error__code="WORKER_LOST").count(),
}))
"""


@dataclass
class Load:
    """Bounded callers: standard runs (202), instant runs (200) and a /healthz probe."""

    port: int
    headers: dict
    stop: threading.Event = field(default_factory=threading.Event)
    accepted: list = field(default_factory=list)  # executionIds answered 202
    calls: list = field(default_factory=list)  # (monotonic time, kind, status or error)
    probes: list = field(default_factory=list)  # (monotonic time, /healthz status or 0)
    max_calls: int = 3000

    def call(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(),
            headers=self.headers, method="POST",
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, {}
        except OSError as exc:
            return 0, {"error": repr(exc)}

    def caller(self, tier: str, pause: float) -> None:
        n = 0
        while not self.stop.is_set() and len(self.calls) < self.max_calls:
            n += 1
            status, body = self.call(f"/api/v1/load-{tier}", {"input": {"n": n}})
            self.calls.append((time.monotonic(), tier, status))
            if tier == "standard" and status == 202:
                self.accepted.append(body["executionId"])
            time.sleep(pause)

    def prober(self) -> None:
        while not self.stop.is_set():
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            self.probes.append((time.monotonic(), status))
            time.sleep(0.1)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.caller, args=("standard", 0.2), daemon=True),
            threading.Thread(target=self.caller, args=("standard", 0.2), daemon=True),
            threading.Thread(target=self.caller, args=("instant", 0.2), daemon=True),
            threading.Thread(target=self.prober, daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def probes_between(self, start: float, end: float) -> list[int]:
        return [status for at, status in self.probes if start <= at <= end]


class Supervisor:
    def __init__(self, conf: Path):
        self.conf = conf

    def status(self, name: str) -> tuple[str, int | None]:
        out = subprocess.run(
            [str(ROOT / ".venv/bin/supervisorctl"), "-c", str(self.conf), "status", name],
            capture_output=True, text=True, timeout=10,
        ).stdout  # fmt: skip
        match = re.search(r"^\S+\s+(\w+)\s+(?:pid (\d+))?", out, re.M)
        if not match:
            return "UNKNOWN", None
        return match[1], int(match[2]) if match[2] else None

    def pid(self, name: str) -> int:
        state, pid = self.status(name)
        assert state == "RUNNING" and pid, (name, state)
        return pid

    def wait_running(self, name: str, old_pid: int, deadline: float) -> int:
        while time.monotonic() < deadline:
            state, pid = self.status(name)
            if state == "RUNNING" and pid and pid != old_pid:
                return pid
            time.sleep(0.2)
        raise AssertionError(f"{name} not back within {RECOVERY_S} s: {self.status(name)}")


def gunicorn_workers(master: int) -> list[psutil.Process]:
    """The master's worker processes (not the output prefixer, also its child)."""
    children = psutil.Process(master).children()
    return [child for child in children if "gunicorn" in " ".join(child.cmdline())]


def completed(port: int, headers: dict, execution_id: str) -> bool:
    space_id = headers["x-fastn-space-id"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/tenants/{space_id}/executions/{execution_id}",
        headers=headers,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["status"] == "completed"


def setup_instance(env: dict) -> dict:
    setup = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    raw_key, space_id = setup.stdout.split()[-2:]
    return {"x-fastn-api-key": raw_key, "x-fastn-space-id": space_id,
            "Content-Type": "application/json"}  # fmt: skip


def outcome(env: dict, ids: list[str], tmp_path: Path) -> dict:
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(ids))
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", OUTCOME],
        cwd=ROOT, env={**env, "IDS_FILE": str(path)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_every_kind_of_process_killed_under_load_is_restarted_and_nothing_is_lost(tmp_path):
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        FASTN_ENV="embedded",
        FASTN_VAR_DIR=str(tmp_path / "var"),
        FASTN_PORT=str(port),
        FASTN_REDIS_PORT=str(redis_port),
        SECRET_KEY="",
    )
    process = subprocess.Popen(
        ["bash", "scripts/run.sh"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    # Drained all along: a full pipe would block supervisord (and every process) on a write.
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    load = None
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 120)
        supervisor = Supervisor(tmp_path / "var" / "supervisord.conf")
        names = ["console:web", "console:worker-instant", "console:worker-standard",
                 "console:worker-long", "console:worker-housekeeping", "console:beat",
                 "console:events", "redis"]  # fmt: skip
        for name in names:  # every process is supervised, the embedded Redis too
            deadline = time.monotonic() + 30
            while supervisor.status(name)[0] != "RUNNING":
                assert time.monotonic() < deadline, (name, supervisor.status(name))
                time.sleep(0.3)
        load = Load(port, setup_instance(env))
        threads = load.start()
        # Kill while runs flow (the workers are up and busy), not while they are booting.
        deadline = time.monotonic() + 60
        while not load.accepted or not completed(port, load.headers, load.accepted[0]):
            assert time.monotonic() < deadline, load.calls[-5:]
            time.sleep(0.5)

        # 1. Each kind of process, SIGKILLed with runs in flight, is back within 10 s while
        # the console answers throughout (/healthz needs only the web and the database).
        for name in ["console:worker-standard", "console:worker-instant",
                     "console:worker-housekeeping", "console:beat", "console:events",
                     "redis"]:  # fmt: skip
            old = supervisor.pid(name)
            killed_at = time.monotonic()
            os.kill(old, signal.SIGKILL)
            supervisor.wait_running(name, old, killed_at + RECOVERY_S)
            time.sleep(1)
            probes = load.probes_between(killed_at, time.monotonic())
            assert probes and all(status == 200 for status in probes), (name, probes)

        # 2. A gunicorn worker (the realistic crash: OOM, segfault): the master replaces it,
        # the other worker keeps serving.
        master = supervisor.pid("console:web")
        worker = gunicorn_workers(master)[0]
        killed_at = time.monotonic()
        worker.kill()
        time.sleep(3)
        probes = load.probes_between(killed_at, time.monotonic())
        assert probes.count(200) >= len(probes) - 1, probes  # at most the one it was serving
        assert supervisor.pid("console:web") == master
        replaced = gunicorn_workers(master)
        assert len(replaced) == 2 and worker not in replaced  # the worker was replaced

        # 3. The gunicorn master: supervisord starts a new one within 10 s; it answers once its
        # workers have booted (the orphaned old ones let go of the port within their graceful
        # timeout, 10 s at most, usually at once).
        killed_at = time.monotonic()
        os.kill(master, signal.SIGKILL)
        supervisor.wait_running("console:web", master, killed_at + RECOVERY_S)
        wait_for(f"http://127.0.0.1:{port}/healthz", killed_at + 2 * RECOVERY_S)
        time.sleep(2)
        recent = load.probes_between(time.monotonic() - 1, time.monotonic())
        assert recent and all(status == 200 for status in recent), recent

        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)

        # 4. No accepted run is lost: every 202 ends completed (the reaper recovers the runs
        # of killed workers, and messages Redis lost when it was killed).
        assert len(load.accepted) > 50, load.calls[-5:]
        deadline = time.monotonic() + 60
        while (result := outcome(env, load.accepted, tmp_path))["status"].get("completed", 0) < len(
            load.accepted
        ) and time.monotonic() < deadline:
            time.sleep(2)
        assert result["found"] == len(load.accepted), result
        assert result["status"] == {"completed": len(load.accepted)}, result
    finally:
        if load is not None:
            load.stop.set()
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)
    output = b"".join(lines).decode(errors="replace")
    (tmp_path / "console.log").write_text(output)  # for a failure's post-mortem
    # Every restart is logged where the operator sees it.
    for program in ["worker-standard", "worker-instant", "worker-housekeeping", "beat", "redis",
                    "web"]:  # fmt: skip
        assert f"exited: {program} (terminated by SIGKILL; not expected)" in output, program
        assert output.count(f"spawned: '{program}'") >= 2, program


@pytest.mark.django_db
def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_does_not(client):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a database server to be away: PostgreSQL")
    saved = dict(connection.settings_dict)
    connection.close()
    # A real connection attempt to a loopback port nothing listens on.
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()), NAME="nowhere")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
