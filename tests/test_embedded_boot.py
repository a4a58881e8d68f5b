"""`make run`'s embedded default boots (SQLite + its own Redis), serves the login page, and
Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
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


@pytest.mark.slow
def test_make_run_boots_the_embedded_default_and_stops_on_ctrl_c(tmp_path):
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
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        page = wait_for(f"http://127.0.0.1:{port}/accounts/login/", time.monotonic() + 120)
        assert b"Sign In" in page
        assert (tmp_path / "var" / "fastn.sqlite3").exists()
        children = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children if c.is_running())
        assert "gunicorn" in names and "redis-server" in names
        for queue in ("instant", "standard", "long"):
            assert f"-Q {queue}" in names
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    assert "demo@fastn.local" in output
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"still running after Ctrl-C: {[p.cmdline() for p in alive]}"
