"""`fastn.state` atomic operations under real concurrency: 200 workflow runs incrementing one
counter at once through real sandboxes and the real DatabaseHost count exactly 200, on
PostgreSQL (the suite's database) and on the embedded SQLite default (in a process of its own,
since the suite's SQLite would be an in-memory database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.datastore.state import StateScope, state_get
from apps.executions.host import DatabaseHost
from apps.runtime import run_workflow
from tests.executions.concurrent_incr import count_concurrently

ROOT = Path(__file__).resolve().parents[2]
RUNS = 200


def expect_exact_count(summary: dict) -> None:
    assert summary["errors"] == [], summary["errors"]
    assert summary["completed"] == RUNS
    assert summary["final"] == RUNS
    # Every run saw its own new value: no two increments were merged into one.
    assert summary["values"] == list(range(1, RUNS + 1))
    assert summary["monotonic"] is True


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_increments_count_exactly_200_on_postgresql(cast):
    expect_exact_count(count_concurrently(cast.space, RUNS))


@pytest.mark.slow
def test_200_concurrent_increments_count_exactly_200_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fastn.sqlite3'}",
        "FASTN_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "fastn_console.settings",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.executions.concurrent_incr", str(RUNS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    expect_exact_count(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.django_db(transaction=True)
def test_the_atomic_operations_through_the_database_host(cast):
    code = """export default async () => {
      const once = [await fastn.state.setIfAbsent("job", { owner: 1 }, { ttl: 60 }),
                    await fastn.state.setIfAbsent("job", { owner: 2 })];
      const swap = [await fastn.state.compareAndSet("job", { owner: 2 }, "no"),
                    await fastn.state.compareAndSet("job", { owner: 1.0 }, { owner: 3 })];
      await fastn.state.set("text", "seven");
      let refused;
      try { await fastn.state.incr("text"); } catch (e) { refused = [e.code, e.retryable]; }
      const temp = await fastn.state.incr("t", 2, { scope: "INVOCATION" });
      return { once, swap, refused, temp, n: await fastn.state.incr("n", 2.5) };
    }"""
    with DatabaseHost(
        cast.space, customer=None, workflow_key="wf", invocation_id="inv-1", environment="live"
    ) as host:
        result = run_workflow(code, {"input": {}}, host)
    assert result.status == "completed", result.error
    assert result.output == {
        "once": [True, False],
        "swap": [False, True],
        "refused": ["STATE_NOT_A_NUMBER", False],
        "temp": 2,
        "n": 2.5,
    }
    scope = StateScope(cast.space.id, None, "wf", "inv-1")
    assert state_get(scope, "job") == {"owner": 3}
    assert state_get(scope, "t", scope="INVOCATION") is None  # cleared when the run ended
    names = [step["name"] for step in result.steps]
    assert names[:4] == ["state.setIfAbsent"] * 2 + ["state.compareAndSet"] * 2
    assert result.steps[-1]["args"] == {"key": "n", "by": 2.5, "scope": "ORG", "ttl": None}
