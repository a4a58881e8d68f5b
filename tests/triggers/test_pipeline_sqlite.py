"""The pipeline on the embedded SQLite default, in a process of its own (the suite runs on
PostgreSQL; pytest-django would give SQLite an in-memory database that threads cannot share):
concurrent duplicates make one event, and the `events` threads route every event once. (`db`
only because the session fixture of the suite needs the test database to exist.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_pipeline_works_on_sqlite(db, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fastn.sqlite3'}",
        "FASTN_VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/triggers/sqlite_pipeline_script.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert (result["accepted"], result["duplicates"], result["first_ids"]) == (1, 19, 1)
    # 11 events routed (19 duplicates recorded): n=100 and n=5..9 match one route, n<5 two.
    assert result["statuses"] == {"delivered": 11, "duplicate": 19}
    assert result["deliveries_per_event"] == [[1, 6], [2, 5]]
    assert result["executions"] == result["executions_with_delivery"] == 16
