"""Django's SQLite backend, with writers queued instead of sleeping (the embedded default).

SQLite allows one writer at a time. A writer that finds the lock taken is handled by SQLite's
busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms… between attempts
whatever happens to the lock meanwhile: a web request whose INSERT met a worker's 0.2 ms
UPDATE waited at least a millisecond, and at 16 clients, where the web's INSERTs meet the
workers' claims, finishes and lease renewals all the time, most of the waiting was those
sleeps (README "Performance", the embedded default).

Here every write transaction — each outermost `atomic` block (BEGIN IMMEDIATE) and each
statement that writes outside one — first takes the database's writer lock:
1. a mutex of this process, so its threads queue and the next one is woken the moment the
   holder releases it;
2. then an exclusive `flock` on `<database>-writer.lock`, shared with the other processes
   (web, workers, manage.py). Blocking on it could never time out, so the head of this
   process's queue tries it without blocking and backs off 50 µs → 0.5 ms between tries.
The lock is released when the transaction's COMMIT or ROLLBACK returns (or the connection
closes), so SQLite's own write lock is free whenever a participant asks for it; its busy
timeout stays as the fallback for connections that do not take part (the sqlite3 shell, a
reader upgrading by itself). Waiting longer than the busy timeout raises OperationalError
("database is locked"), as SQLite does.

Readers never take the lock: in WAL mode they do not block the writer nor it them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

# Statements that never write (or that manage the transaction the lock already covers).
READ_ONLY = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT",
             "RELEASE", "VALUES")  # fmt: skip
BACKOFF_START_S = 0.00005
BACKOFF_MAX_S = 0.0005


class WriterLock:
    """The writer lock of one database file in this process (see the module's docstring)."""

    def __init__(self, path: str) -> None:
        self.path = f"{path}-writer.lock"
        self.pid = os.getpid()
        self.mutex = threading.Lock()
        self.fd: int | None = None

    def acquire(self, timeout: float) -> None:
        if self.pid != os.getpid():  # forked: the parent's mutex and descriptor are not ours
            self.__init__(self.path.removesuffix("-writer.lock"))
        deadline = time.monotonic() + timeout
        if not self.mutex.acquire(timeout=timeout):
            raise OperationalError("database is locked (writer queue)")
        try:
            self._flock(deadline)
        except BaseException:
            self.mutex.release()
            raise

    def _flock(self, deadline: float) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        pause = BACKOFF_START_S
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError("database is locked (writer lock)") from None
                time.sleep(pause)
                pause = min(pause * 2, BACKOFF_MAX_S)

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.mutex.release()


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(path: str) -> WriterLock:
    with _locks_guard:
        lock = _locks.get(path)
        if lock is None:
            lock = _locks[path] = WriterLock(path)
        return lock


def writes(sql: str) -> bool:
    return not sql.lstrip()[:9].upper().startswith(READ_ONLY)


class _Queued:
    """Cursor methods that take the writer lock around a write outside a transaction."""

    def _execute(self, sql, params, *args):
        if self.db.holds_writer_lock or not writes(sql):
            return super()._execute(sql, params, *args)
        with self.db.writing():
            return super()._execute(sql, params, *args)

    def _executemany(self, sql, param_list, *args):
        if self.db.holds_writer_lock or not writes(sql):
            return super()._executemany(sql, param_list, *args)
        with self.db.writing():
            return super()._executemany(sql, param_list, *args)


class QueuedCursorWrapper(_Queued, CursorWrapper):
    pass


class QueuedCursorDebugWrapper(_Queued, CursorDebugWrapper):
    pass


class _Writing:
    def __init__(self, db: DatabaseWrapper) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.take_writer_lock()

    def __exit__(self, *exc) -> None:
        self.db.drop_writer_lock()


class DatabaseWrapper(base.DatabaseWrapper):
    holds_writer_lock = False

    def _lock(self) -> WriterLock:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db():
            # Only this process sees an in-memory database (the tests'): its lock file goes to
            # the temporary folder, not beside a file that does not exist.
            digest = hashlib.sha256(name.encode()).hexdigest()[:16]
            name = os.path.join(tempfile.gettempdir(), f"fastn-memorydb-{os.getpid()}-{digest}")
        return writer_lock(os.path.abspath(name))

    def _busy_timeout(self) -> float:
        return float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))

    def take_writer_lock(self) -> None:
        self._lock().acquire(self._busy_timeout())
        self.holds_writer_lock = True

    def drop_writer_lock(self) -> None:
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            self._lock().release()

    def writing(self) -> _Writing:
        return _Writing(self)

    def make_cursor(self, cursor):
        return QueuedCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return QueuedCursorDebugWrapper(cursor, self)

    def _start_transaction_under_autocommit(self):
        self.take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.drop_writer_lock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self.drop_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self.drop_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self.drop_writer_lock()
