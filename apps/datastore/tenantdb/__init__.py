"""`fastn.db`: tenant-scoped SQL for workflows.

    db_query(space.id, customer.id or None, "SELECT * FROM items WHERE id = $1", [7])
    # {"rows": [{"id": 7, "name": "…"}], "rowCount": 1}

A tenant is one (Space, customer) pair; customer None is the Space's own scope. Each has its own
database: a schema and a login role on PostgreSQL (`postgres.py`), a file on SQLite, the
embedded default (`sqlite.py`). What both share (the tenant's identity, the checks on a call,
JSON-safe values) is in `common.py`.

In front of both, `sqlguard.check_statement` refuses anything but one SELECT, INSERT, UPDATE,
DELETE, CREATE/ALTER/DROP TABLE or CREATE/DROP INDEX naming the tenant's own tables, with a
message that says why. Engine errors come back as TenantDbError with the engine's own message,
the tenant's internal name redacted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from apps.datastore.errors import TenantDbError
from apps.datastore.sqlguard import check_statement
from apps.datastore.tenantdb import postgres, sqlite
from apps.datastore.tenantdb.common import Tenant, backend, check_limits, check_params

__all__ = [
    "Tenant",
    "TenantDbError",
    "db_query",
    "tenantdb_close_connections",
    "tenantdb_drop",
    "tenantdb_drop_space",
]


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
    check_limits(timeout_ms, max_rows)
    dialect = backend()
    statement = check_statement(sql, dialect)
    values = check_params(params, statement.param_count, dialect)
    engine = postgres if dialect == "postgresql" else sqlite
    return engine.query(tenant, statement, values, timeout_ms=timeout_ms, max_rows=max_rows)


def tenantdb_drop(space_id: uuid.UUID | str, customer_id: uuid.UUID | str | None) -> None:
    """Delete a tenant's database for good (its schema and role, or its file)."""
    tenant = Tenant.of(space_id, customer_id)
    if backend() == "postgresql":
        postgres.drop(tenant)
    else:
        sqlite.drop(tenant)


def tenantdb_drop_space(space_id: uuid.UUID | str, customer_ids: Iterable[uuid.UUID | str]) -> None:
    """Delete every database of a Space: its own and each listed customer's. On SQLite also any
    file left under the Space's name (a customer whose drop failed when it was deleted)."""
    space_id = uuid.UUID(str(space_id))
    for customer_id in [None, *customer_ids]:
        tenantdb_drop(space_id, customer_id)
    if backend() == "sqlite":
        for path in sqlite.files_dir().glob(f"{space_id}_*"):
            path.unlink(missing_ok=True)


def tenantdb_close_connections() -> None:
    """Close this process's idle tenant sessions (before dropping a database, at shutdown)."""
    postgres.close_sessions()
