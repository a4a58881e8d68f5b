"""fastn.db on SQLite (the embedded default): each tenant has its own file under
VAR_DIR/tenantdb/.

The connection allows no attached databases (ATTACH and VACUUM INTO fail), no extension
loading, defensive mode, and an authorizer that refuses PRAGMA, transactions, triggers, views,
virtual and temporary tables, and the functions the statement policy denies.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.datastore.errors import TenantDbError
from apps.datastore.sqlguard import DENIED_FUNCTIONS, CheckedStatement
from apps.datastore.tenantdb.common import (
    Tenant,
    lock_timeout_error,
    redact,
    rows_collector,
    timeout_error,
)

_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_INSERT,
    sqlite3.SQLITE_UPDATE,
    sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_CREATE_TABLE,
    sqlite3.SQLITE_CREATE_INDEX,
    sqlite3.SQLITE_ALTER_TABLE,
    sqlite3.SQLITE_DROP_TABLE,
    sqlite3.SQLITE_DROP_INDEX,
    sqlite3.SQLITE_REINDEX,
    sqlite3.SQLITE_ANALYZE,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_ACTION_NAMES = {
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_PRAGMA: "PRAGMA",
    sqlite3.SQLITE_TRANSACTION: "BEGIN/COMMIT/ROLLBACK",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
    sqlite3.SQLITE_CREATE_TRIGGER: "CREATE TRIGGER",
    sqlite3.SQLITE_CREATE_VIEW: "CREATE VIEW",
    sqlite3.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE",
    sqlite3.SQLITE_CREATE_TEMP_TABLE: "CREATE TEMP TABLE",
    sqlite3.SQLITE_CREATE_TEMP_INDEX: "CREATE TEMP INDEX",
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER: "CREATE TEMP TRIGGER",
    sqlite3.SQLITE_CREATE_TEMP_VIEW: "CREATE TEMP VIEW",
}
_CONFIG = {
    "SQLITE_DBCONFIG_DEFENSIVE": True,
    "SQLITE_DBCONFIG_TRUSTED_SCHEMA": False,
    "SQLITE_DBCONFIG_DQS_DML": False,
    "SQLITE_DBCONFIG_DQS_DDL": False,
    "SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION": False,
    "SQLITE_DBCONFIG_ENABLE_TRIGGER": False,
    "SQLITE_DBCONFIG_ENABLE_VIEW": False,
    "SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER": False,
}


class _Authorizer:
    """SQLite's per-statement permission check, consulted while each statement is compiled.

    `internal` is raised only around the BEGIN/COMMIT/ROLLBACK this module issues itself.
    """

    def __init__(self) -> None:
        self.internal = False
        self.denied: str | None = None

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db_name: str | None, _: str | None
    ) -> int:
        if action == sqlite3.SQLITE_TRANSACTION and self.internal:
            return sqlite3.SQLITE_OK
        if action not in _ALLOWED:
            self.denied = _ACTION_NAMES.get(action, f"action {action}")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
            self.denied = f"the function {arg2.lower()}()"
            return sqlite3.SQLITE_DENY
        # Only the tenant's own file and the connection's (empty) temp schema exist; refuse
        # anything else should an attached database ever appear.
        if db_name not in (None, "main", "temp"):
            self.denied = "another database"
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


def files_dir() -> Path:
    return Path(settings.VAR_DIR) / "tenantdb"


def _path(tenant: Tenant) -> Path:
    return files_dir() / tenant.filename


def connect(tenant: Tenant, timeout_ms: int) -> tuple[sqlite3.Connection, _Authorizer]:
    """The tenant's file, hardened before any user SQL can reach it."""
    path = _path(tenant)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No statement cache: a cached statement is not authorized again, so the user's "BEGIN"
    # would reuse the one this module prepared while its own transactions were allowed.
    conn = sqlite3.connect(
        path,
        timeout=timeout_ms / 1000,
        autocommit=True,
        check_same_thread=False,
        cached_statements=0,
    )
    try:
        # Concurrent runs of one tenant in several workers: readers never wait for the writer.
        conn.execute("PRAGMA journal_mode=WAL")
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(False)
        for name, enabled in _CONFIG.items():
            if hasattr(sqlite3, name):
                conn.setconfig(getattr(sqlite3, name), enabled)
        # No attached database can exist, which also stops VACUUM INTO.
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 64 * 1024 * 1024)
        authorizer = _Authorizer()
        conn.set_authorizer(authorizer)
    except BaseException:
        conn.close()
        raise
    return conn, authorizer


def query(
    tenant: Tenant,
    statement: CheckedStatement,
    params: list[Any],
    *,
    timeout_ms: int,
    max_rows: int,
) -> dict[str, Any]:
    """1. Open the tenant's file with the guards in place and a deadline on the VM.
    2. BEGIN, run the statement, read at most max_rows + 1 rows, COMMIT; ROLLBACK on error.
    """
    conn, authorizer = connect(tenant, timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        _internal(conn, authorizer, "BEGIN")
        try:
            result = _run(conn, statement, params, max_rows)
            _internal(conn, authorizer, "COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                _internal(conn, authorizer, "ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise _error(exc, authorizer, timeout_ms) from None
    finally:
        conn.close()


def _internal(conn: sqlite3.Connection, authorizer: _Authorizer, command: str) -> None:
    authorizer.internal = True
    try:
        conn.execute(command)
    finally:
        authorizer.internal = False


def _run(
    conn: sqlite3.Connection, statement: CheckedStatement, params: list[Any], max_rows: int
) -> dict[str, Any]:
    # SQLite reads `$1` as a parameter named "1": bind by name, so the text needs no rewriting.
    bindings = {str(number): value for number, value in enumerate(params, start=1)}
    cursor = conn.execute(statement.sql, bindings)
    if cursor.description is None:
        return {"rows": [], "rowCount": max(cursor.rowcount, 0)}
    names = [column[0] for column in cursor.description]
    rows, add = rows_collector(max_rows)
    while batch := cursor.fetchmany(100):
        for values in batch:
            add(dict(zip(names, values, strict=True)))
    return {"rows": rows, "rowCount": len(rows)}


def _error(exc: sqlite3.Error, authorizer: _Authorizer, timeout_ms: int) -> TenantDbError:
    message = str(exc)
    # "not authorized[ to use function: …]" when a statement is compiled, "authorization
    # denied" when VACUUM INTO compiles its internal ATTACH while running.
    if authorizer.denied and (
        message.startswith("not authorized") or message == "authorization denied"
    ):
        return TenantDbError(f"{authorizer.denied} isn't allowed in fastn.db.")
    if message == "interrupted":
        return timeout_error(timeout_ms)
    if "database is locked" in message:
        return lock_timeout_error(timeout_ms)
    return TenantDbError(redact(message).replace(str(files_dir()), "…"))


def drop(tenant: Tenant) -> None:
    path = _path(tenant)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
