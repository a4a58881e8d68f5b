"""Retention purge and the reaper's bookkeeping (the worker-kill tests cover its main path)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from apps.executions.models import Execution, ExecutionAttempt
from apps.executions.services import (
    claim,
    execution_create,
    execution_purge_old,
    execution_reap,
    finish_attempt,
)
from apps.executions.services.reaper import due_waiting, expired_leases, overdue_pending
from apps.executions.tasks import purge_old_executions
from apps.runtime import RunResult
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def create(workflow, **fields) -> Execution:
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    Execution.objects.filter(pk=execution.pk).update(**fields)
    return Execution.objects.get(pk=execution.pk)


def test_executions_older_than_the_retention_are_purged(cast, settings):
    settings.FASTN_EXECUTION_RETENTION_DAYS = 30
    workflow = make_workflow(cast.space)
    old = create(workflow, queued_at=timezone.now() - timedelta(days=31), status="completed")
    ExecutionAttempt.objects.create(execution=old, number=1, status="completed")
    recent = create(workflow, queued_at=timezone.now() - timedelta(days=29), status="completed")
    assert execution_purge_old(batch_size=1) == 1
    assert list(Execution.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not ExecutionAttempt.objects.filter(execution_id=old.pk).exists()
    assert purge_old_executions.apply().get() == 0


def test_reaper_fails_a_lost_run_that_has_no_attempts_left(cast):
    workflow = make_workflow(cast.space, retry_enabled=False)
    lost = create(
        workflow,
        status="running",
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=2),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert execution_reap()["failed"] == 1
    lost.refresh_from_db()
    assert lost.status == "failed" and lost.error["code"] == "WORKER_LOST"
    attempt = ExecutionAttempt.objects.get(execution=lost)
    assert attempt.number == 1 and attempt.status == "failed"
    assert execution_reap() == {"redispatched": 0, "failed": 0, "requeued": 0, "woken": 0}


def test_reaper_leaves_live_leases_and_fresh_pending_runs_alone(cast):
    workflow = make_workflow(cast.space)
    running = create(
        workflow, status="running", attempts=1, started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    pending = create(workflow)
    assert execution_reap() == {"redispatched": 0, "failed": 0, "requeued": 0, "woken": 0}
    assert Execution.objects.get(pk=running.pk).status == "running"
    assert Execution.objects.get(pk=pending.pk).status == "pending"


def test_claim_answers_the_run_and_what_it_needs_and_only_once(cast):
    workflow = make_workflow(cast.space, slug="claimed", retry_enabled=False)
    execution = create(workflow)
    claimed = claim(str(execution.pk))
    assert claimed.execution.status == "running" and claimed.execution.attempts == 1
    assert claimed.workflow_slug == "claimed" and claimed.code == workflow.draft_code
    assert claimed.execution.space_id == cast.space.id and claimed.tenant is None
    assert claim(str(execution.pk)) is None  # a duplicate delivery finds nothing to claim


@pytest.mark.django_db(transaction=True)
def test_the_claims_unflushed_commit_ends_with_it(cast):
    """The claim alone commits without waiting for the disk (running.py claim_sql): the
    setting must not outlive its statement, or the finish — which the caller is told of —
    would not be flushed either."""
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    execution = create(make_workflow(cast.space, retry_enabled=False))
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = on")
    assert claim(str(execution.pk)) is not None
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    result = RunResult("completed", {"ok": 1}, None, duration_ms=1.0)
    assert finish_attempt(Execution.objects.get(pk=execution.pk), result)[1]["status"] == (
        "completed"
    )


def test_a_worker_finishing_after_the_reaper_took_over_changes_nothing(cast):
    workflow = make_workflow(cast.space, retry_enabled=False)
    execution = create(workflow)
    claimed = claim(str(execution.pk))
    Execution.objects.filter(pk=execution.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert execution_reap()["failed"] == 1
    late = RunResult("completed", {"late": True}, None, duration_ms=1.0)
    assert finish_attempt(claimed.execution, late) == (None, None)
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.output is None
    attempts = ExecutionAttempt.objects.filter(execution=execution)
    assert [(a.number, a.error["code"]) for a in attempts] == [(1, "WORKER_LOST")]


def test_finishing_records_the_attempt_and_the_final_state_together(cast):
    workflow = make_workflow(cast.space, retry_enabled=False)
    execution = create(workflow)
    claimed = claim(str(execution.pk))
    result = RunResult("completed", {"ok": 1}, None, logs=[{"level": "log"}], duration_ms=2.5)
    delay, final = finish_attempt(claimed.execution, result)
    assert delay is None and final["status"] == "completed" and final["output"] == {"ok": 1}
    execution.refresh_from_db()
    assert (execution.status, execution.output, execution.duration_ms) == (
        "completed",
        {"ok": 1},
        2.5,
    )
    assert execution.lease_expires_at is None and execution.finished_at is not None
    attempt = ExecutionAttempt.objects.get(execution=execution)
    assert (attempt.number, attempt.status, attempt.duration_ms) == (1, "completed", 2.5)


def test_housekeeping_tasks_go_to_their_own_queue():
    from fastn_console.celery import app

    for name in ("executions.reap", "executions.purge", "apps.datastore.tasks.purge_expired_state"):
        assert app.amqp.router.route({}, name)["queue"].name == "housekeeping", name
    for entry in app.conf.beat_schedule.values():
        assert entry["options"]["queue"] == "housekeeping", entry
    reap = app.conf.beat_schedule["reap-executions"]
    assert reap["schedule"] <= 3  # with the 8 s lease: lost runs recovered within 15 s


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_reaper_runs_on_the_housekeeping_queue_with_no_standard_worker(cast, tmp_path):
    """Beat and the housekeeping worker alone (the standard queue has no worker at all) still
    record a lost attempt and put its run back in line."""
    from tests.executions.test_worker_kill import kill, start_housekeeping, wait_until

    workflow = make_workflow(cast.space, tier="standard", retry_enabled=True, retry_max_attempts=3)
    lost = create(
        workflow,
        status="running",
        attempts=1,
        started_at=timezone.now() - timedelta(seconds=20),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    processes = start_housekeeping(tmp_path)
    try:
        wait_until(lambda: Execution.objects.get(pk=lost.pk).status == "pending", timeout=30)
    finally:
        for process in processes:
            kill(process)
    attempt = ExecutionAttempt.objects.get(execution=lost)
    assert attempt.number == 1 and attempt.error["code"] == "WORKER_LOST"


REAPER_SEARCHES = {
    "exec_running_lease": expired_leases,
    "exec_pending_due": overdue_pending,
    "exec_waiting_due": due_waiting,
}


def test_the_reapers_searches_can_use_their_indexes():
    """Every 2 s on a table of every run kept: each search must be able to use its partial
    index (a predicate the planner cannot prove would mean a full scan). With sequential
    scans priced out, the plan names the index whatever the table's size."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    for index, search in REAPER_SEARCHES.items():
        assert index in search(now).only("id").explain(), index


@pytest.mark.slow
def test_the_reapers_searches_use_their_indexes_on_sqlite(tmp_path):
    """SQLite takes a partial index only for a term that names its very predicate (one index
    per status, not one for two)."""
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "from django.utils import timezone\n"
        "from tests.executions.test_housekeeping import REAPER_SEARCHES\n"
        "call_command('migrate', verbosity=0)\n"
        "now = timezone.now()\n"
        "for index, search in REAPER_SEARCHES.items():\n"
        "    print(index, '|', search(now).only('id').explain().replace('\\n', ' '))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fastn.sqlite3'}",
        "FASTN_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "fastn_console.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    plans = dict(line.split(" | ", 1) for line in done.stdout.splitlines() if " | " in line)
    assert set(plans) == set(REAPER_SEARCHES), done.stdout
    for index, plan in plans.items():
        assert f"USING INDEX {index}" in plan, plan
