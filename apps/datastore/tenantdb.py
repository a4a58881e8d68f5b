"""`fastn.db`: tenant-scoped SQL for workflows.

    db_query(space.id, customer.id or None, "SELECT * FROM items WHERE id = $1", [7])
    # {"rows": [{"id": 7, "name": "…"}], "rowCount": 1}

A tenant is one (Space, customer) pair; customer None is the Space's own scope.

Isolation on PostgreSQL: each tenant has a schema and a role, both named `t_<32 hex>` (a hash of
the pair). The role owns its schema and nothing else; it gets CONNECT on the console's database
and no privilege on the console's tables (PUBLIC has none on tables the console creates; the
tests check every one). Statements run in a session that *logs in as* the tenant role, so
PostgreSQL itself is the boundary: `RESET ROLE`, `set_config('role', …)` and procedural code all
stay the tenant. (A console session that merely did `SET ROLE` would not be a boundary: its
session user can switch back, and `query_to_xml('select set_config(''role'', …)')` does so from
inside a single SELECT.) The role's password is derived from SECRET_KEY, so nothing is stored and
nobody else can log in as it. Every statement runs in its own transaction with a statement
timeout, a lock timeout and the search path set locally; it is sent with the extended query
protocol, which refuses a second statement on its own.

Isolation on SQLite (the embedded default): each tenant has its own file under
VAR_DIR/tenantdb/. The connection allows no attached databases (ATTACH and VACUUM INTO fail), no
extension loading, defensive mode, and an authorizer that refuses PRAGMA, transactions, triggers,
views, virtual and temporary tables, and functions that touch files.

In front of both, `sqlguard.check_statement` refuses anything but one SELECT, INSERT, UPDATE,
DELETE, CREATE/ALTER/DROP TABLE or CREATE/DROP INDEX naming the tenant's own tables, with a
message that says why. Engine errors come back as TenantDbError with the engine's own message,
the tenant's internal name redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from apps.datastore.errors import TenantDbError
from apps.datastore.sqlguard import CheckedStatement, Dialect, check_statement

__all__ = [
    "TenantDbError",
    "db_query",
    "tenantdb_close_connections",
    "tenantdb_drop",
    "tenantdb_drop_space",
]

logger = logging.getLogger(__name__)

MAX_TIMEOUT_MS = 15 * 60 * 1000
MAX_ROWS_LIMIT = 100_000
MAX_RESULT_BYTES = 8 * 1024 * 1024
MAX_SAFE_INTEGER = 2**53 - 1
INTERNAL_NAME = re.compile(r"t_[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Tenant:
    space_id: uuid.UUID
    customer_id: uuid.UUID | None

    @classmethod
    def of(cls, space_id: uuid.UUID | str, customer_id: uuid.UUID | str | None) -> Tenant:
        return cls(
            space_id=uuid.UUID(str(space_id)),
            customer_id=None if customer_id is None else uuid.UUID(str(customer_id)),
        )

    @property
    def name(self) -> str:
        """The PostgreSQL schema and role: stable, ≤ 63 characters, unguessable from outside."""
        pair = f"{self.space_id}:{self.customer_id or ''}"
        return "t_" + hashlib.sha256(pair.encode()).hexdigest()[:32]

    @property
    def filename(self) -> str:
        return f"{self.space_id}_{self.customer_id or 'space'}.sqlite3"


def db_query(
    space_id: uuid.UUID | str,
    customer_id: uuid.UUID | str | None,
    sql: str,
    params: list[Any] | tuple[Any, ...] | None = None,
    *,
    timeout_ms: int = 5000,
    max_rows: int = 1000,
) -> dict[str, Any]:
    """Run one statement in the tenant's own database; answer `{"rows": [...], "rowCount": n}`.

    `sql` uses `$1, $2, …` placeholders filled from `params` (strings, numbers, booleans, null;
    arrays and objects are passed as JSON text). `rows` holds one object per returned row with
    JSON-safe values; `rowCount` is the number of rows returned or affected. A result with more
    than `max_rows` rows is refused rather than cut short. Raises TenantDbError with a message
    meant for the workflow's author.
    """
    tenant = Tenant.of(space_id, customer_id)
    _check_limits(timeout_ms, max_rows)
    backend = _backend()
    statement = check_statement(sql, backend)
    values = _check_params(params, statement.param_count, backend)
    if backend == "postgresql":
        return _pg_query(tenant, statement, values, timeout_ms=timeout_ms, max_rows=max_rows)
    return _sqlite_query(tenant, statement, values, timeout_ms=timeout_ms, max_rows=max_rows)


def tenantdb_drop(space_id: uuid.UUID | str, customer_id: uuid.UUID | str | None) -> None:
    """Delete a tenant's database for good (its schema and role, or its file)."""
    tenant = Tenant.of(space_id, customer_id)
    if _backend() == "postgresql":
        _pg_drop(tenant)
    else:
        _sqlite_drop(tenant)


def tenantdb_drop_space(space_id: uuid.UUID | str, customer_ids: Iterable[uuid.UUID | str]) -> None:
    """Delete every database of a Space: its own and each listed customer's. On SQLite also any
    file left under the Space's name (a customer whose drop failed when it was deleted)."""
    space_id = uuid.UUID(str(space_id))
    for customer_id in [None, *customer_ids]:
        tenantdb_drop(space_id, customer_id)
    if _backend() == "sqlite":
        for path in _sqlite_dir().glob(f"{space_id}_*"):
            path.unlink(missing_ok=True)


def tenantdb_close_connections() -> None:
    """Close this process's idle tenant sessions (before dropping a database, at shutdown)."""
    _pool.close()


# --- Shared -----------------------------------------------------------------------------------


def _backend() -> Dialect:
    configured = settings.FASTN_TENANTDB_BACKEND
    if configured:
        return configured
    return "postgresql" if connections["default"].vendor == "postgresql" else "sqlite"


def _check_limits(timeout_ms: object, max_rows: object) -> None:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise TenantDbError("timeout_ms must be a whole number of milliseconds.")
    if not 1 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise TenantDbError(f"timeout_ms must be between 1 and {MAX_TIMEOUT_MS}.")
    if isinstance(max_rows, bool) or not isinstance(max_rows, int):
        raise TenantDbError("max_rows must be a whole number.")
    if not 1 <= max_rows <= MAX_ROWS_LIMIT:
        raise TenantDbError(f"max_rows must be between 1 and {MAX_ROWS_LIMIT}.")


def _check_params(params: object, count: int, backend: Dialect) -> list[Any]:
    if params is None:
        params = []
    if not isinstance(params, (list, tuple)):
        raise TenantDbError("Query parameters must be an array.")
    if len(params) != count:
        used = f"uses ${count} as its highest placeholder" if count else "has no placeholders"
        raise TenantDbError(f"The query {used} but {len(params)} parameter(s) were given.")
    return [_param(value, backend) for value in params]


def _param(value: object, backend: Dialect) -> Any:
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TenantDbError(f"A query parameter isn't JSON-serialisable: {exc}.") from None
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise TenantDbError(
            f"Query parameters must be strings, numbers, booleans, null, arrays or objects, "
            f"not {type(value).__name__}."
        )
    if isinstance(value, str) and "\x00" in value:
        raise TenantDbError("Query parameters must not contain the NUL character.")
    if backend == "sqlite" or value is None:
        return value
    # As node-postgres does: send text of unknown type and let PostgreSQL infer the type from
    # the placeholder's context, so `WHERE id = $1` works with 7 and with "7".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
    return str(value)


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        # Larger integers would lose digits as JavaScript numbers.
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, (datetime, date, time_of_day)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return str(value)


def _decimal(value: Decimal) -> int | float | str:
    """A number when JavaScript can hold it exactly, else its text (as node-postgres does)."""
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    if value == value.to_integral_value() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    as_float = float(value)
    if math.isfinite(as_float) and Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


def _rows_collector(max_rows: int):
    """Convert rows one by one, refusing too many rows or too many bytes as they arrive."""
    rows: list[dict[str, Any]] = []
    size = 0

    def add(row: dict[str, Any]) -> None:
        nonlocal size
        if len(rows) >= max_rows:
            raise TenantDbError(
                f"The query returned more than {max_rows} rows; add a LIMIT or a narrower WHERE."
            )
        converted = {name: _json_safe(value) for name, value in row.items()}
        size += len(json.dumps(converted))
        if size > MAX_RESULT_BYTES:
            raise TenantDbError(
                f"The query's result is larger than {MAX_RESULT_BYTES // (1024 * 1024)} MB; "
                "select fewer rows or columns."
            )
        rows.append(converted)

    return rows, add


def _timeout_message(timeout_ms: int) -> str:
    return f"Query exceeded the {timeout_ms / 1000:g}s statement timeout."


def _redact(message: str) -> str:
    message = INTERNAL_NAME.sub("your database", message)
    return message.replace(str(_sqlite_dir()), "…")


# --- PostgreSQL -------------------------------------------------------------------------------

_LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslpassword",
    "channel_binding",
    "gssencmode",
    "target_session_attrs",
)

# Opens the statement's transaction and sets what it runs under; `true` keeps every setting
# local to that transaction. One round trip: the values are ours, sent as literals.
_PG_SETUP = pgsql.SQL(
    "BEGIN; SELECT set_config('search_path', {}, true), set_config('statement_timeout', {}, "
    "true), set_config('lock_timeout', {}, true), "
    "set_config('idle_in_transaction_session_timeout', {}, true), "
    "set_config('standard_conforming_strings', 'on', true)"
)


@dataclass(frozen=True, slots=True)
class _Server:
    # libpq keywords shared by the console's and the tenants' sessions.
    params: tuple[tuple[str, Any], ...]
    dbname: str
    user: str
    password: str

    @classmethod
    def current(cls) -> _Server:
        # Read at call time: under pytest-django NAME is the test database's.
        settings_dict = connections["default"].settings_dict
        options = settings_dict.get("OPTIONS") or {}
        params = {
            "host": settings_dict.get("HOST") or None,
            "port": settings_dict.get("PORT") or None,
            "dbname": settings_dict["NAME"],
            **{key: options[key] for key in _LIBPQ_OPTIONS if key in options},
        }
        return cls(
            params=tuple(sorted(params.items())),
            dbname=settings_dict["NAME"],
            user=settings_dict.get("USER") or "",
            password=settings_dict.get("PASSWORD") or "",
        )

    def connect_console(self) -> psycopg.Connection:
        return psycopg.connect(
            **dict(self.params),
            user=self.user or None,
            password=self.password or None,
            autocommit=True,
            connect_timeout=10,
            application_name="fastn-tenantdb-admin",
        )

    def connect_tenant(self, tenant: Tenant) -> psycopg.Connection:
        return psycopg.connect(
            **dict(self.params),
            user=tenant.name,
            password=_tenant_password(tenant),
            autocommit=True,
            connect_timeout=10,
            application_name="fastn-tenantdb",
        )


def _tenant_password(tenant: Tenant) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"fastn-tenantdb:{tenant.name}".encode(), hashlib.sha256).hexdigest()


class _SessionPool:
    """Idle tenant sessions, a few per (server, tenant), the least recently used closed first."""

    def __init__(self, *, per_key: int = 2, total: int = 16) -> None:
        self._idle: OrderedDict[tuple, list[psycopg.Connection]] = OrderedDict()
        self._lock = threading.Lock()
        self._per_key = per_key
        self._total = total

    def take(self, key: tuple) -> psycopg.Connection | None:
        with self._lock:
            sessions = self._idle.get(key)
            if not sessions:
                return None
            conn = sessions.pop()
            if not sessions:
                del self._idle[key]
            return conn

    def give(self, key: tuple, conn: psycopg.Connection) -> None:
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
            return
        surplus: list[psycopg.Connection] = []
        with self._lock:
            sessions = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(sessions) >= self._per_key:
                surplus.append(conn)
            else:
                sessions.append(conn)
            while sum(len(s) for s in self._idle.values()) > self._total:
                oldest_key, oldest = next(iter(self._idle.items()))
                surplus.append(oldest.pop(0))
                if not oldest:
                    del self._idle[oldest_key]
        for extra in surplus:
            extra.close()

    def close(self, match: str | None = None) -> None:
        with self._lock:
            keys = [key for key in self._idle if match is None or match in key]
            closing = [conn for key in keys for conn in self._idle.pop(key)]
        for conn in closing:
            conn.close()


_pool = _SessionPool()
# (server params, tenant name) pairs this process has provisioned, and servers it has hardened.
_provisioned: set[tuple] = set()
_hardened: set[tuple] = set()


def _pg_query(
    tenant: Tenant,
    statement: CheckedStatement,
    params: list[Any],
    *,
    timeout_ms: int,
    max_rows: int,
) -> dict[str, Any]:
    """1. Check out a session of the tenant role with a transaction begun and settings applied.
    2. Run the statement: streamed row by row when it returns rows, so a huge result is
       refused before it fills memory; pipelined otherwise (both force the extended protocol).
    3. Commit, or roll back on any error, and put the session back if it is clean.
    """
    server = _Server.current()
    key = (server.params, tenant.name)
    conn = _pg_begin(tenant, server, key, timeout_ms)
    committed = False
    try:
        cursor = psycopg.RawCursor(conn, row_factory=dict_row)
        if statement.returns_rows:
            rows, add = _rows_collector(max_rows)
            # Closing the stream early (too many rows) cancels the statement on the server.
            with closing(cursor.stream(statement.sql, params)) as stream:
                for row in stream:
                    add(row)
            count = len(rows)
        else:
            with conn.pipeline():
                cursor.execute(statement.sql, params, prepare=False)
            rows, count = [], max(cursor.rowcount, 0)
        conn.execute("COMMIT")
        committed = True
        return {"rows": rows, "rowCount": count}
    except psycopg.errors.QueryCanceled:
        raise TenantDbError(_timeout_message(timeout_ms)) from None
    except psycopg.errors.LockNotAvailable:
        raise TenantDbError(
            f"Query waited more than {timeout_ms / 1000:g}s for a lock held by another query."
        ) from None
    except psycopg.Error as exc:
        raise _pg_error(exc) from None
    finally:
        if not committed and not conn.closed:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                conn.close()
        _pool.give(key, conn)


def _pg_begin(tenant: Tenant, server: _Server, key: tuple, timeout_ms: int) -> psycopg.Connection:
    """A tenant session inside a fresh transaction with this statement's settings.

    A pooled session may have died while idle (server restart, network); it fails here, before
    the user's statement was sent, so retrying on a new session is safe.
    """
    setup = _PG_SETUP.format(
        *(
            pgsql.Literal(value)
            for value in (
                tenant.name,
                f"{timeout_ms}ms",
                f"{timeout_ms}ms",
                f"{timeout_ms + 10_000}ms",
            )
        )
    )
    pooled = _pool.take(key)
    if pooled is not None:
        try:
            pooled.execute(setup)
            return pooled
        except psycopg.Error:
            pooled.close()
    conn = _pg_connect(tenant, server)
    try:
        conn.execute(setup)
    except psycopg.Error:
        conn.close()
        logger.exception("fastn.db: could not start a session for a tenant")
        raise TenantDbError("fastn.db is unavailable right now; try again shortly.") from None
    return conn


def _pg_connect(tenant: Tenant, server: _Server) -> psycopg.Connection:
    key = (server.params, tenant.name)
    if key not in _provisioned:
        _pg_provision(tenant, server)
        _provisioned.add(key)
    try:
        return server.connect_tenant(tenant)
    except psycopg.OperationalError:
        # The role may have been dropped by another process, or SECRET_KEY rotated: provision
        # again (idempotent) and retry once.
        _pg_provision(tenant, server)
    try:
        return server.connect_tenant(tenant)
    except psycopg.OperationalError:
        logger.exception("fastn.db: could not log in as a tenant role")
        raise TenantDbError("fastn.db is unavailable right now; try again shortly.") from None


def _pg_provision(tenant: Tenant, server: _Server) -> None:
    """Create (or repair) the tenant's role and schema. Idempotent; safe to run concurrently.

    1. Once per process and database, harden it: PUBLIC may not create in `public` (the
       default since PostgreSQL 15) nor create temporary tables. Neither touches the console,
       which owns the database or is a superuser.
    2. Under an advisory lock: create the role (login, nothing else) or reset its password.
    3. Grant CONNECT, create the schema owned by the role, take nothing else.
    4. Verify the role can't create anything outside its schema; refuse to serve otherwise.
    """
    try:
        can_create = _pg_provision_steps(tenant, server)
    except psycopg.Error:
        logger.exception("fastn.db: could not provision a tenant database")
        raise TenantDbError("fastn.db is unavailable right now; try again shortly.") from None
    _hardened.add(server.params)
    if can_create:
        logger.error(
            "fastn.db refuses to serve: PUBLIC may create objects in schema public or in the "
            "database %s. Run REVOKE CREATE ON SCHEMA public FROM PUBLIC and REVOKE CREATE ON "
            "DATABASE … FROM PUBLIC as its owner.",
            server.dbname,
        )
        raise TenantDbError("fastn.db is unavailable: the database isn't configured safely.")


def _pg_provision_steps(tenant: Tenant, server: _Server) -> bool:
    role = pgsql.Identifier(tenant.name)
    database = pgsql.Identifier(server.dbname)
    password = pgsql.Literal(_tenant_password(tenant))
    with server.connect_console() as admin, admin.transaction():
        # One lock for all provisioning: concurrent GRANT/REVOKE on the same catalog rows
        # would fail with "tuple concurrently updated". It is rare: once per tenant and process.
        admin.execute("SELECT pg_advisory_xact_lock(hashtext('fastn-tenantdb'))")
        if server.params not in _hardened:
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            admin.execute(pgsql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
        exists = admin.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", [tenant.name]
        ).fetchone()
        verb = "ALTER" if exists else "CREATE"
        admin.execute(
            pgsql.SQL(
                verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                "NOREPLICATION NOBYPASSRLS PASSWORD {}"
            ).format(role, password)
        )
        superuser = admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not superuser.fetchone()[0]:
            # A non-superuser console must be a member to create a schema owned by the role.
            admin.execute(pgsql.SQL("GRANT {} TO CURRENT_USER").format(role))
        admin.execute(pgsql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
        admin.execute(
            pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(role, role)
        )
        admin.execute(pgsql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(role))
        can_create = admin.execute(
            "SELECT has_schema_privilege(%s, 'public', 'CREATE') "
            "OR has_database_privilege(%s, current_database(), 'CREATE')",
            [tenant.name, tenant.name],
        ).fetchone()[0]
    return bool(can_create)


def _pg_error(exc: psycopg.Error) -> TenantDbError:
    if exc.sqlstate is None:
        # Not the statement's fault: the session broke. The caller's finally discards it.
        logger.warning("fastn.db: tenant session failed: %s", exc)
        return TenantDbError("fastn.db lost its connection to the database; try again.")
    diag = exc.diag
    message = diag.message_primary or str(exc)
    if diag.message_detail:
        message = f"{message} ({diag.message_detail})"
    return TenantDbError(_redact(message))


def _pg_drop(tenant: Tenant) -> None:
    server = _Server.current()
    _pool.close(tenant.name)
    _provisioned.discard((server.params, tenant.name))
    role = pgsql.Identifier(tenant.name)
    with server.connect_console() as admin, admin.transaction():
        admin.execute("SELECT pg_advisory_xact_lock(hashtext('fastn-tenantdb'))")
        # Other processes may still hold sessions of the tenant (idle in their pools, or a run
        # in flight): end them, so the drop neither waits on their locks nor leaves a session
        # of a role that no longer exists. A member of the role (the console is) may do so.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = %s AND pid <> pg_backend_pid()",
            [tenant.name],
        )
        admin.execute("SET LOCAL lock_timeout = '10s'")
        admin.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(role))
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [tenant.name]).fetchone():
            # Also revokes CONNECT, so DROP ROLE finds nothing left to depend on it.
            admin.execute(pgsql.SQL("DROP OWNED BY {}").format(role))
            admin.execute(pgsql.SQL("DROP ROLE {}").format(role))


# --- SQLite -----------------------------------------------------------------------------------

_SQLITE_ALLOWED = {
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
_SQLITE_ACTION_NAMES = {
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
_SQLITE_DENIED_FUNCTIONS = {
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "zipfile",
    "fsdir",
    "sqlar_compress",
    "sqlar_uncompress",
}
_SQLITE_CONFIG = {
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
        if action not in _SQLITE_ALLOWED:
            self.denied = _SQLITE_ACTION_NAMES.get(action, f"action {action}")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
            self.denied = f"the function {arg2.lower()}()"
            return sqlite3.SQLITE_DENY
        # Only the tenant's own file and the connection's (empty) temp schema exist; refuse
        # anything else should an attached database ever appear.
        if db_name not in (None, "main", "temp"):
            self.denied = "another database"
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


def _sqlite_dir() -> Path:
    return Path(settings.VAR_DIR) / "tenantdb"


def _sqlite_path(tenant: Tenant) -> Path:
    return _sqlite_dir() / tenant.filename


def _sqlite_open(tenant: Tenant, timeout_ms: int) -> tuple[sqlite3.Connection, _Authorizer]:
    """The tenant's file, hardened before any user SQL can reach it."""
    path = _sqlite_path(tenant)
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
        for name, enabled in _SQLITE_CONFIG.items():
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


def _sqlite_query(
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
    conn, authorizer = _sqlite_open(tenant, timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        _sqlite_internal(conn, authorizer, "BEGIN")
        try:
            result = _sqlite_run(conn, statement, params, max_rows)
            _sqlite_internal(conn, authorizer, "COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                _sqlite_internal(conn, authorizer, "ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise _sqlite_error(exc, authorizer, timeout_ms) from None
    finally:
        conn.close()


def _sqlite_internal(conn: sqlite3.Connection, authorizer: _Authorizer, command: str) -> None:
    authorizer.internal = True
    try:
        conn.execute(command)
    finally:
        authorizer.internal = False


def _sqlite_run(
    conn: sqlite3.Connection, statement: CheckedStatement, params: list[Any], max_rows: int
) -> dict[str, Any]:
    # SQLite reads `$1` as a parameter named "1": bind by name, so the text needs no rewriting.
    bindings = {str(number): value for number, value in enumerate(params, start=1)}
    cursor = conn.execute(statement.sql, bindings)
    if cursor.description is None:
        return {"rows": [], "rowCount": max(cursor.rowcount, 0)}
    names = [column[0] for column in cursor.description]
    rows, add = _rows_collector(max_rows)
    while batch := cursor.fetchmany(100):
        for values in batch:
            add(dict(zip(names, values, strict=True)))
    return {"rows": rows, "rowCount": len(rows)}


def _sqlite_error(exc: sqlite3.Error, authorizer: _Authorizer, timeout_ms: int) -> TenantDbError:
    message = str(exc)
    # "not authorized[ to use function: …]" when a statement is compiled, "authorization
    # denied" when VACUUM INTO compiles its internal ATTACH while running.
    if authorizer.denied and (
        message.startswith("not authorized") or message == "authorization denied"
    ):
        return TenantDbError(f"{authorizer.denied} isn't allowed in fastn.db.")
    if message == "interrupted":
        return TenantDbError(_timeout_message(timeout_ms))
    if "database is locked" in message:
        return TenantDbError(
            f"Query waited more than {timeout_ms / 1000:g}s for a lock held by another query."
        )
    return TenantDbError(_redact(message))


def _sqlite_drop(tenant: Tenant) -> None:
    path = _sqlite_path(tenant)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
