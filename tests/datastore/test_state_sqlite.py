"""`fastn.state` on the embedded SQLite default: the whole of test_state.py again, in a pytest
process of its own whose DATABASE_URL is SQLite (the suite itself runs on PostgreSQL).

The threaded race test stays on PostgreSQL here: pytest-django gives SQLite an in-memory
database, whose shared-cache table locks fail at once instead of waiting. The SQLite race is
proven with a real database file by tests/executions/test_state_atomic.py. (`db` only
because this folder's session fixture needs the test database to exist.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_state_suite_passes_on_sqlite(db, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fastn.sqlite3'}",
        "FASTN_VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "tests/datastore/test_state.py", "-q",
            "-p", "no:cacheprovider", "-k", "not concurrent", "-W", "ignore",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "failed" not in summary and summary.endswith(tuple("0123456789s")), summary
    assert int(summary.split()[0]) >= 80, summary  # "88 passed, 1 deselected in 4s"
