"""Nothing lost, nothing looping: SIGKILL real worker processes in the middle of runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from apps.executions.models import Execution, ExecutionAttempt
from apps.executions.services import execution_create, execution_dispatch, execution_reap
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = "2"


def start_worker(name: str) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "FASTN_EXECUTION_LEASE_SECONDS": LEASE_SECONDS,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fastn_console", "worker", "-Q", "standard",
         "-n", f"{name}@%h", "--pool", "threads", "--concurrency", "4",
         "--without-mingle", "--without-gossip", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def reap_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        execution_reap()
        time.sleep(0.5)
    raise AssertionError("timed out")


def enqueue(workflow, n: int) -> list[Execution]:
    executions = [
        execution_create(
            workflow,
            version=None,
            code=None,
            input={"i": i},
            headers={},
            triggered_by="api",
            actor=None,
        )
        for i in range(n)
    ]
    for execution in executions:
        execution_dispatch(execution)
    return executions


def test_sigkill_mid_run_loses_no_execution(cast):
    workflow = make_workflow(
        cast.space, tier="standard", timeout=30,
        code="export default async (ctx) => { const t = Date.now(); while (Date.now() - t < 40) {} "
             "return ctx.input.i; }",
    )  # fmt: skip
    first = start_worker("first")
    try:
        ids = [e.id for e in enqueue(workflow, 200)]
        rows = Execution.objects.filter(id__in=ids)
        reap_until(lambda: rows.filter(status="completed").count() >= 20, timeout=60)
    finally:
        kill(first)
    interrupted = set(rows.filter(status="running").values_list("id", flat=True))
    assert interrupted, "the worker was killed between runs; nothing was in flight"
    second = start_worker("second")
    try:
        reap_until(lambda: not rows.exclude(status="completed").exists(), timeout=120)
    finally:
        kill(second)
    assert rows.filter(status="completed").count() == 200
    assert sorted(rows.values_list("output", flat=True)) == list(range(200))
    for execution in rows.filter(id__in=interrupted):
        attempts = list(ExecutionAttempt.objects.filter(execution=execution))
        assert [a.number for a in attempts] == [1, 2]
        assert attempts[0].error["code"] == "WORKER_LOST"
        assert attempts[1].status == "completed"
    assert not rows.annotate(n=Count("attempt_set")).filter(n=0).exists()


class KillOnRequest(BaseHTTPRequestHandler):
    """A loopback endpoint that SIGKILLs the worker whose run called it."""

    worker_pid: int | None = None

    def do_GET(self):
        if self.worker_pid:
            os.killpg(self.worker_pid, signal.SIGKILL)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_workflow_that_kills_its_worker_ends_after_max_attempts(cast):
    server = ThreadingHTTPServer(("127.0.0.1", 0), KillOnRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/kill"
    workflow = make_workflow(
        cast.space, slug="killer", tier="standard", timeout=30,
        code=f'export default async () => {{ await fastn.connector.http.request({{url: "{url}"}});'
             " return 'survived'; }",
        retry_max_attempts=3,
    )  # fmt: skip
    [execution] = enqueue(workflow, 1)
    workers = []
    try:
        for attempt in range(1, 4):
            worker = start_worker(f"w{attempt}")
            workers.append(worker)
            KillOnRequest.worker_pid = worker.pid
            reap_until(lambda w=worker: w.poll() is not None, timeout=60)
            reap_until(
                lambda: Execution.objects.get(pk=execution.pk).status in ("pending", "failed"),
                timeout=30,
            )
        execution.refresh_from_db()
        assert execution.status == "failed"
        assert execution.attempts == 3
        assert execution.error["code"] == "WORKER_LOST"
        assert ExecutionAttempt.objects.filter(execution=execution).count() == 3
        time.sleep(3)
        execution_reap()
        execution.refresh_from_db()
        assert execution.status == "failed" and execution.attempts == 3  # no loop
    finally:
        server.shutdown()
        for worker in workers:
            if worker.poll() is None:
                kill(worker)
