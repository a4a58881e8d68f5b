"""A refused request never runs; an accepted one always does (issue 9 item 2).

A real Redis that the test stops and starts again, a real web server (gunicorn), a real worker
and the real reaper, all in their own processes pointed at that Redis; the test's own process
only reads and writes the test database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from apps.api.models import IdempotencyKey
from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of our own on a loopback port, stoppable and restartable."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: can_connect(self.port), 10, "redis did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


def environment(redis: Redis) -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis.url,
        "CELERY_BROKER_URL": redis.url,
        "CELERY_RESULT_BACKEND": redis.url,
    }


class Worker:
    """A Celery worker process serving instant and standard, restarted when it exits, as the
    process supervisor of `make run` and production does: Celery sometimes gives up with
    "Unrecoverable error" when Redis vanishes under it while it restores unacked messages."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.process = self.start()

    def start(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "fastn_console", "worker", "-Q",
                 "instant,standard", "-n", "outage@%h", "--pool", "threads", "--concurrency",
                 "4", "--without-mingle", "--without-gossip", "-l", "info"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def supervise(self) -> None:
        if self.process.poll() is not None:
            self.process = self.start()


@pytest.fixture
def stack(tmp_path, transactional_db):
    redis = Redis(tmp_path)
    redis.start()
    env = environment(redis)
    web_port = free_port()
    web_log = tmp_path / "web.log"
    with open(web_log, "wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fastn_console.wsgi:application", "-b",
             f"127.0.0.1:{web_port}", "-w", "1", "--threads", "4", "--timeout", "120"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = Worker(env, tmp_path / "worker.log")
    try:
        wait_until(lambda: can_connect(web_port), 30, "the web server did not start")
        yield redis, web_port, web_log, env, worker
    finally:
        processes = (web, worker.process)
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()


REAPER = """
import time, django
django.setup()
from apps.executions.services import execution_reap
for _ in range({passes}):
    execution_reap()
    time.sleep(0.5)
"""


def reaper(env: dict[str, str], passes: int) -> subprocess.Popen:
    """The real reaper, every half second as beat would send it, in a process of its own that
    talks to the test's Redis."""
    return subprocess.Popen(
        [sys.executable, "-c", REAPER.format(passes=passes)], cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "fastn_console.settings"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def post(port: int, slug: str, headers: dict, body: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/{slug}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers}, method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_redis_down_instant_is_refused_for_good_and_standard_runs_later(stack, cast):
    redis, port, web_log, env, worker = stack
    publish(make_workflow(cast.space, slug="quick"))
    publish(make_workflow(cast.space, slug="later", tier="standard", timeout=30))
    _, key = apikey_create(cast.space, name="k", mode="live", actor=Actor.system())
    headers = {"x-fastn-api-key": key, "x-fastn-space-id": str(cast.space.id)}
    assert post(port, "quick", headers, {"input": {"warm": 1}})[0] == 200

    redis.stop()
    started = time.monotonic()
    status, response_headers, body = post(
        port, "quick", {**headers, "Idempotency-Key": "retry-me"}, {"input": {"n": 1}}
    )
    assert time.monotonic() - started < 10
    assert status == 503
    assert body["code"] == "SERVICE_UNAVAILABLE" and body["statusCode"] == 503
    assert int(response_headers["Retry-After"]) > 0
    refused = Execution.objects.get(id=body["executionId"])
    assert refused.status == "failed" and refused.error["code"] == "SERVICE_UNAVAILABLE"
    # Nothing ran, so the key is free for the retry.
    assert not IdempotencyKey.objects.exists()

    status, _, accepted = post(port, "later", headers, {"input": {"n": 2}})
    assert status == 202
    assert accepted["status"] == "pending" and accepted["dispatch"] == "deferred"

    redis.start()
    reaping = reaper(env, passes=120)
    try:
        deferred = Execution.objects.get(id=accepted["executionId"])
        deadline = time.monotonic() + 60
        while deferred.status != "completed":
            assert time.monotonic() < deadline, f"the deferred run is {deferred.status}"
            worker.supervise()
            time.sleep(0.2)
            deferred.refresh_from_db()
        assert deferred.output["input"] == {"n": 2} and deferred.attempts == 1
        time.sleep(1.5)  # more of the reaper's passes
    finally:
        reaping.kill()
        reaping.wait(timeout=10)

    # The refused instant run did not run, even after the reaper's passes.
    refused.refresh_from_db()
    assert refused.status == "failed" and refused.attempts == 0 and refused.started_at is None
    # The retry with the same key runs now.
    status, _, body = post(
        port, "quick", {**headers, "Idempotency-Key": "retry-me"}, {"input": {"n": 1}}
    )
    assert status == 200 and body["input"] == {"n": 1}

    log = web_log.read_text()
    assert "Traceback" not in log and " ERROR " not in log
    assert log.count("Queue unavailable") == 2  # one warning line per handled request
