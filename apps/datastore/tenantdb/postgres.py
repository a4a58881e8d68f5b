"""fastn.db on PostgreSQL: each tenant has a schema and a login role, both named `t_<32 hex>`.

The role owns its schema and nothing else; it gets CONNECT on the console's database and no
privilege on the console's tables (PUBLIC has none on tables the console creates; the tests
check every one). Statements run in a session that *logs in as* the tenant role, so PostgreSQL
itself is the boundary: `RESET ROLE`, `set_config('role', …)` and procedural code all stay the
tenant. (A console session that merely did `SET ROLE` would not be a boundary: its session user
can switch back, and `query_to_xml('select set_config(''role'', …)')` does so from inside a
single SELECT.) The role's password is derived from SECRET_KEY, so nothing is stored and nobody
else can log in as it. Every statement runs in its own transaction with a statement timeout, a
lock timeout and the search path set locally; it is sent with the extended query protocol, which
refuses a second statement on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from apps.datastore.errors import TenantDbError
from apps.datastore.sqlguard import CheckedStatement
from apps.datastore.tenantdb.common import (
    Tenant,
    lock_timeout_error,
    redact,
    rows_collector,
    timeout_error,
)

logger = logging.getLogger(__name__)

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
_SETUP = pgsql.SQL(
    "BEGIN; SELECT set_config('search_path', {}, true), set_config('statement_timeout', {}, "
    "true), set_config('lock_timeout', {}, true), "
    "set_config('idle_in_transaction_session_timeout', {}, true), "
    "set_config('standard_conforming_strings', 'on', true)"
)


@dataclass(frozen=True, slots=True)
class Server:
    # libpq keywords shared by the console's and the tenants' sessions.
    params: tuple[tuple[str, Any], ...]
    dbname: str
    user: str
    password: str

    @classmethod
    def current(cls) -> Server:
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


def close_sessions() -> None:
    """Close this process's idle tenant sessions."""
    _pool.close()


def query(
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
    server = Server.current()
    key = (server.params, tenant.name)
    conn = _begin(tenant, server, key, timeout_ms)
    committed = False
    try:
        cursor = psycopg.RawCursor(conn, row_factory=dict_row)
        if statement.returns_rows:
            rows, add = rows_collector(max_rows)
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
        raise timeout_error(timeout_ms) from None
    except psycopg.errors.LockNotAvailable:
        raise lock_timeout_error(timeout_ms) from None
    except psycopg.Error as exc:
        raise _error(exc) from None
    finally:
        if not committed and not conn.closed:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                conn.close()
        _pool.give(key, conn)


def _begin(tenant: Tenant, server: Server, key: tuple, timeout_ms: int) -> psycopg.Connection:
    """A tenant session inside a fresh transaction with this statement's settings.

    A pooled session may have died while idle (server restart, network); it fails here, before
    the user's statement was sent, so retrying on a new session is safe.
    """
    setup = _SETUP.format(
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
    conn = _connect(tenant, server)
    try:
        conn.execute(setup)
    except psycopg.Error:
        conn.close()
        logger.exception("fastn.db: could not start a session for a tenant")
        raise TenantDbError("fastn.db is unavailable right now; try again shortly.") from None
    return conn


def _connect(tenant: Tenant, server: Server) -> psycopg.Connection:
    key = (server.params, tenant.name)
    if key not in _provisioned:
        _provision(tenant, server)
        _provisioned.add(key)
    try:
        return server.connect_tenant(tenant)
    except psycopg.OperationalError:
        # The role may have been dropped by another process, or SECRET_KEY rotated: provision
        # again (idempotent) and retry once.
        _provision(tenant, server)
    try:
        return server.connect_tenant(tenant)
    except psycopg.OperationalError:
        logger.exception("fastn.db: could not log in as a tenant role")
        raise TenantDbError("fastn.db is unavailable right now; try again shortly.") from None


def _provision(tenant: Tenant, server: Server) -> None:
    """Create (or repair) the tenant's role and schema. Idempotent; safe to run concurrently.

    1. Once per process and database, harden it: PUBLIC may not create in `public` (the
       default since PostgreSQL 15) nor create temporary tables. Neither touches the console,
       which owns the database or is a superuser.
    2. Under an advisory lock: create the role (login, nothing else) or reset its password.
    3. Grant CONNECT, create the schema owned by the role, take nothing else.
    4. Verify the role can't create anything outside its schema; refuse to serve otherwise.
    """
    try:
        can_create = _provision_steps(tenant, server)
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


def _provision_steps(tenant: Tenant, server: Server) -> bool:
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


def _error(exc: psycopg.Error) -> TenantDbError:
    if exc.sqlstate is None:
        # Not the statement's fault: the session broke. The caller's finally discards it.
        logger.warning("fastn.db: tenant session failed: %s", exc)
        return TenantDbError("fastn.db lost its connection to the database; try again.")
    diag = exc.diag
    message = diag.message_primary or str(exc)
    if diag.message_detail:
        message = f"{message} ({diag.message_detail})"
    return TenantDbError(redact(message))


def drop(tenant: Tenant) -> None:
    server = Server.current()
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
