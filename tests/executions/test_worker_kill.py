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
from apps.executions.services import execution_create, execution_dispatch
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# The README's promise: a lost attempt is recorded and dispatched again within 15 s of its
# worker's death, with the default lease (8 s) and reaper interval (2 s).
RECOVERY_S = 15.0


def celery_env() -> dict:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    # The defaults under test, whatever the calling shell says.
    env.pop("FASTN_EXECUTION_LEASE_SECONDS", None)
    env.pop("FASTN_REAPER_INTERVAL_SECONDS", None)
    return env


def start_worker(name: str, queue: str = "standard") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fastn_console", "worker", "-Q", queue,
         "-n", f"{name}@%h", "--pool", "threads", "--concurrency", "4",
         "--without-mingle", "--without-gossip", "-l", "warning"],
        cwd=ROOT, env=celery_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def start_housekeeping(tmp_path: Path) -> list[subprocess.Popen]:
    """What `make run` runs besides the run workers: beat and the housekeeping worker."""
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fastn_console", "beat", "-l", "warning",
         "--schedule", str(tmp_path / "celerybeat-schedule")],
        cwd=ROOT, env=celery_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    return [start_worker("housekeeping", queue="housekeeping"), beat]


def kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_until(predicate, timeout: float) -> float:
    """Seconds until predicate() held (the reaper here is the real one: beat + housekeeping)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.2)
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


def test_sigkill_mid_run_loses_no_execution(cast, tmp_path):
    workflow = make_workflow(
        cast.space, tier="standard", timeout=30, retry_enabled=True, retry_max_attempts=3,
        code="export default async (ctx) => { const t = Date.now(); while (Date.now() - t < 40) {} "
             "return ctx.input.i; }",
    )  # fmt: skip
    housekeeping = start_housekeeping(tmp_path)
    first = start_worker("first")
    second = None
    try:
        ids = [e.id for e in enqueue(workflow, 200)]
        rows = Execution.objects.filter(id__in=ids)
        wait_until(lambda: rows.filter(status="completed").count() >= 20, timeout=60)
        kill(first)
        interrupted = set(rows.filter(status="running").values_list("id", flat=True))
        assert interrupted, "the worker was killed between runs; nothing was in flight"
        second = start_worker("second")  # what supervisord does at once
        lost = ExecutionAttempt.objects.filter(
            execution_id__in=interrupted, error__code="WORKER_LOST"
        )
        # Recorded and dispatched again within 15 s of the death: the lease (8 s, renewed
        # every second) expired and the reaper (every 2 s, on its own queue) took over.
        recovered_in = wait_until(
            lambda: (
                lost.count() == len(interrupted)
                and not rows.filter(id__in=interrupted, status="running", attempts=1).exists()
            ),
            timeout=30,
        )
        assert recovered_in <= RECOVERY_S, recovered_in
        wait_until(lambda: not rows.exclude(status="completed").exists(), timeout=120)
    finally:
        for process in [first, second, *housekeeping]:
            if process is not None and process.poll() is None:
                kill(process)
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


def test_a_workflow_that_kills_its_worker_ends_after_max_attempts(cast, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), KillOnRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/kill"
    workflow = make_workflow(
        cast.space, slug="killer", tier="standard", timeout=30,
        code=f'export default async () => {{ await fastn.connector.http.request({{url: "{url}"}});'
             " return 'survived'; }",
        retry_enabled=True, retry_max_attempts=3,
    )  # fmt: skip
    housekeeping = start_housekeeping(tmp_path)
    workers = []
    try:
        worker = start_worker("w1")
        workers.append(worker)
        KillOnRequest.worker_pid = worker.pid
        [execution] = enqueue(workflow, 1)
        row = Execution.objects.filter(pk=execution.pk)
        for attempt in range(1, 4):
            wait_until(lambda w=worker: w.poll() is not None, timeout=60)
            if attempt < 3:
                # Started at once, as supervisord does; it boots while the lease runs out.
                worker = start_worker(f"w{attempt + 1}")
                workers.append(worker)
                KillOnRequest.worker_pid = worker.pid
            recorded_in = wait_until(
                lambda n=attempt: (
                    ExecutionAttempt.objects.filter(
                        execution_id=execution.pk, number=n, error__code="WORKER_LOST"
                    ).exists()
                    and row.get().status in ("pending", "running", "failed")
                ),
                timeout=30,
            )
            assert recorded_in <= RECOVERY_S, (attempt, recorded_in)
        wait_until(lambda: row.get().status == "failed", timeout=10)
        execution.refresh_from_db()
        assert execution.status == "failed"
        assert execution.attempts == 3
        assert execution.error["code"] == "WORKER_LOST"
        attempts = list(ExecutionAttempt.objects.filter(execution=execution).order_by("number"))
        assert [a.number for a in attempts] == [1, 2, 3]
        # Every attempt died at once (run time ~0): the whole thing within 3 × (0 + 15 s).
        elapsed = (execution.finished_at - attempts[0].started_at).total_seconds()
        assert elapsed <= 3 * RECOVERY_S, elapsed
        time.sleep(3)  # at least one more reap: nothing loops
        execution.refresh_from_db()
        assert execution.status == "failed" and execution.attempts == 3
        assert ExecutionAttempt.objects.filter(execution=execution).count() == 3
    finally:
        server.shutdown()
        for process in [*workers, *housekeeping]:
            if process.poll() is None:
                kill(process)
