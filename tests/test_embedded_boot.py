"""`make run`'s embedded default boots (its private PostgreSQL and Redis under var/, every
process under supervisord), serves the login page and the API, and Ctrl-C stops every process
it started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, deadline: float) -> bytes:
    last_error = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError as exc:
            last_error = exc
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered: {last_error}")


# Run in the embedded instance (its SQLite file): a live key and two deployed workflows.
SETUP = """
from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.spaces.services import apikey_create
from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish
space = Space.objects.get(name="Demo Space")
actor = Actor.system("test")
_key, raw = apikey_create(space, name="boot test", mode="live", actor=actor)
code = "export default async (ctx) => ({sum: ctx.input.a + ctx.input.b, tier: ctx.tier})"
for tier in ("instant", "standard"):
    workflow = workflow_create(space, actor=actor, name=f"Boot {tier}", slug=f"boot-{tier}",
                               tier=tier, code=code)
    version = workflow_publish(workflow, actor=actor)
    workflow_deploy(workflow, version=version, environment=environment_by_slug(space, "live"),
                    actor=actor)
print(raw, space.id)
"""


def api(port: int, path: str, headers: dict, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        headers=headers,
        method="POST" if data else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def run_through_the_api(port: int, env: dict) -> None:
    """The execute API end to end on the embedded database: authenticate + deployed version,
    the execution record, the claim and the finish (the hot path's hand-written SQL)."""
    setup = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    raw_key, space_id = setup.stdout.split()[-2:]
    headers = {"x-fastn-api-key": raw_key, "x-fastn-space-id": space_id,
               "Content-Type": "application/json"}  # fmt: skip
    status, body = api(port, "/api/v1/boot-instant", headers, {"input": {"a": 2, "b": 3}})
    assert (status, body) == (200, {"sum": 5, "tier": "instant"})
    status, body = api(port, "/api/v1/boot-standard", headers, {"input": {"a": 1, "b": 1}})
    assert status == 202, body
    path = f"/api/v1/tenants/{space_id}/executions/{body['executionId']}"
    deadline = time.monotonic() + 30
    while (detail := api(port, path, headers)[1])["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, detail
        time.sleep(0.2)
    assert detail["status"] == "completed", detail
    assert detail["output"] == {"sum": 2, "tier": "standard"}
    assert detail["attempts"] == 1
    attempts = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from apps.executions.models import ExecutionAttempt as A; "
         "print(sorted(A.objects.values_list('execution__tier', 'status')))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (
        attempts.stdout.split("\n")[-2] == "[('instant', 'completed'), ('standard', 'completed')]"
    )


@pytest.mark.slow
def test_make_run_boots_the_embedded_default_and_stops_on_ctrl_c():
    port, redis_port = free_port(), free_port()
    # As root the private PostgreSQL runs as the user postgres, which must reach var/ through
    # its parents (pytest's own folders are closed to other users).
    home = Path(tempfile.mkdtemp(prefix="fastn-boot-", dir="/tmp"))
    home.chmod(0o711)
    var = home / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        FASTN_ENV="embedded",
        FASTN_VAR_DIR=str(var),
        FASTN_PORT=str(port),
        FASTN_REDIS_PORT=str(redis_port),
        SECRET_KEY="",
    )
    process = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # Drained all along: a full pipe would block supervisord (and every process) on a write.
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        page = wait_for(f"http://127.0.0.1:{port}/accounts/login/", time.monotonic() + 120)
        assert b"Sign In" in page
        assert (var / "pg" / "data" / "PG_VERSION").exists()
        assert not (var / "fastn.sqlite3").exists()
        # The server listens on its socket directory only (mode 700), never on TCP.
        assert (var / "pg" / "run").stat().st_mode & 0o777 == 0o700
        children = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children if c.is_running())
        assert "supervisord" in names and "gunicorn" in names and "redis-server" in names
        postgres = [c for c in children if c.is_running() and c.name() == "postgres"]
        assert postgres, names
        assert not [c for p in postgres for c in p.net_connections("tcp") if c.status == "LISTEN"]
        for queue in ("instant", "standard", "long", "housekeeping"):
            assert f"-Q {queue}" in names
        run_through_the_api(port, env)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        process.wait(timeout=60)
        reader.join(timeout=10)
    output = b"".join(lines).decode(errors="replace")
    assert "demo@fastn.local" in output
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"still running after Ctrl-C: {[p.cmdline() for p in alive]}"
    shutil.rmtree(home)
