"""A standard run accepted while the database is locked is committed before its 202 (issue 11).

make run's default is a private PostgreSQL: there another transaction holds a lock that
conflicts with the execution's INSERT, and the request waits for it, then answers 202 with the
row already committed. On SQLite (DATABASE_URL=sqlite:///…, fastn_console/sqlite/base.py)
another connection holds SQLite's write lock: the INSERT waits for it (the busy timeout), and
writers of the console queue on the writer lock instead of sleeping. Past the busy timeout the
API answers 503 SERVICE_UNAVAILABLE and nothing was recorded, so nothing runs."""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest
from django.db import OperationalError, connection

from apps.executions.models import Execution
from fastn_console.sqlite.base import DatabaseWrapper as SqliteWrapper
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

HOLD_S = 1.5


def raw_connection() -> psycopg.Connection:
    """A connection of its own to the test database, outside Django's."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_a_run_accepted_while_a_transaction_locks_the_table_is_committed_before_its_202(cast, api):
    publish(make_workflow(cast.space, slug="later", tier="standard", timeout=60))
    holder = raw_connection()
    holder.execute("BEGIN")
    # SHARE ROW EXCLUSIVE conflicts with the ROW EXCLUSIVE lock every INSERT takes.
    holder.execute(f"LOCK TABLE {Execution._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    answered: dict = {}

    def call() -> None:
        started = time.monotonic()
        response = api("later", {"input": {"n": 1}})
        answered.update(response=response, at=time.monotonic(), took=time.monotonic() - started)

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(HOLD_S)
    assert caller.is_alive(), "the request answered while the table was locked"
    holder.execute("COMMIT")
    caller.join(30)
    response = answered["response"]
    assert response.status_code == 202, response.content
    assert answered["took"] >= HOLD_S
    # Committed when the 202 arrived: another connection sees the row.
    with raw_connection() as reader:
        row = reader.execute(
            f"SELECT status FROM {Execution._meta.db_table} WHERE id = %s",
            [response.json()["executionId"]],
        ).fetchone()
    assert row is not None and row[0] in ("pending", "running", "completed")
    holder.close()


@pytest.mark.django_db
def test_a_run_that_cannot_be_recorded_answers_503_and_leaves_nothing(cast, api, monkeypatch):
    publish(make_workflow(cast.space, slug="later", tier="standard", timeout=60))

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("apps.executions.services.dispatch.rawsql.insert", locked)
    response = api("later", {"input": {"n": 1}})
    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response["Retry-After"] == "5"
    assert "will not run" in response.json()["message"]
    assert not Execution.objects.exists()


# --- SQLite (DATABASE_URL=sqlite:///…) ------------------------------------------------------


@pytest.fixture
def unblocked(django_db_blocker):
    """These connections are to SQLite files of the test's own, not to the test database."""
    with django_db_blocker.unblock():
        yield


def sqlite_wrapper(path, *, timeout: float = 20) -> SqliteWrapper:
    settings_dict = {
        **connection.settings_dict,
        "ENGINE": "fastn_console.sqlite",
        "NAME": str(path),
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout,
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"},
    }  # fmt: skip
    return SqliteWrapper(settings_dict, alias=f"sqlite-lock-{id(settings_dict)}")


def test_sqlite_insert_waits_for_another_connections_write_lock_then_commits(tmp_path, unblocked):
    path = tmp_path / "fastn.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
    setup.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as a worker's transaction holds it
    threading.Timer(HOLD_S, lambda: setup.execute("COMMIT")).start()
    db = sqlite_wrapper(path)
    started = time.monotonic()
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO runs (note) VALUES (%s)", ["accepted"])
    took = time.monotonic() - started
    db.close()
    assert took >= HOLD_S - 0.05
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT note FROM runs").fetchall() == [("accepted",)]
    reader.close()
    setup.close()


def test_sqlite_writers_queue_on_the_writer_lock_and_go_as_soon_as_it_is_free(tmp_path, unblocked):
    """A writer waiting behind another's transaction starts within milliseconds of its commit
    (SQLite's busy handler would sleep up to 100 ms between attempts)."""
    path = tmp_path / "fastn.sqlite3"
    first = sqlite_wrapper(path)
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
    done: dict = {}

    def second_writer() -> None:
        second = sqlite_wrapper(path)
        with second.cursor() as cursor:
            cursor.execute("INSERT INTO runs (note) VALUES (%s)", ["second"])
        done["at"] = time.monotonic()
        second.close()

    first.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO runs (note) VALUES (%s)", ["first"])
    waiter = threading.Thread(target=second_writer)
    waiter.start()
    time.sleep(0.5)
    assert "at" not in done, "the second writer did not wait for the first one's transaction"
    first.commit()
    released = time.monotonic()
    first.set_autocommit(True)
    waiter.join(10)
    assert done["at"] - released < 0.05
    first.close()
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT note FROM runs ORDER BY id").fetchall() == [
        ("first",),
        ("second",),
    ]
    reader.close()


def test_sqlite_writer_gives_up_after_the_busy_timeout_with_database_is_locked(tmp_path, unblocked):
    path = tmp_path / "fastn.sqlite3"
    holder = sqlite_wrapper(path)
    with holder.cursor() as cursor:
        cursor.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
    holder.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    outcome: dict = {}

    def impatient() -> None:
        db = sqlite_wrapper(path, timeout=0.3)
        try:
            with db.cursor() as cursor:
                cursor.execute("INSERT INTO runs (note) VALUES (%s)", ["late"])
        except OperationalError as exc:
            outcome["error"] = str(exc)
        db.close()

    thread = threading.Thread(target=impatient)
    thread.start()
    thread.join(10)
    holder.rollback()
    holder.set_autocommit(True)
    holder.close()
    assert "database is locked" in outcome["error"]
