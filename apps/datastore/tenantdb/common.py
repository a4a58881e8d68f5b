"""What both fastn.db backends share: the tenant's identity, which backend serves, the checks on
a call's limits and parameters, and turning engine values into JSON-safe ones."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections

from apps.datastore.errors import TenantDbError
from apps.datastore.sqlguard import Dialect

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


def backend() -> Dialect:
    configured = settings.FASTN_TENANTDB_BACKEND
    if configured:
        return configured
    return "postgresql" if connections["default"].vendor == "postgresql" else "sqlite"


def check_limits(timeout_ms: object, max_rows: object) -> None:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise TenantDbError("timeout_ms must be a whole number of milliseconds.")
    if not 1 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise TenantDbError(f"timeout_ms must be between 1 and {MAX_TIMEOUT_MS}.")
    if isinstance(max_rows, bool) or not isinstance(max_rows, int):
        raise TenantDbError("max_rows must be a whole number.")
    if not 1 <= max_rows <= MAX_ROWS_LIMIT:
        raise TenantDbError(f"max_rows must be between 1 and {MAX_ROWS_LIMIT}.")


def check_params(params: object, count: int, dialect: Dialect) -> list[Any]:
    if params is None:
        params = []
    if not isinstance(params, (list, tuple)):
        raise TenantDbError("Query parameters must be an array.")
    if len(params) != count:
        used = f"uses ${count} as its highest placeholder" if count else "has no placeholders"
        raise TenantDbError(f"The query {used} but {len(params)} parameter(s) were given.")
    return [_param(value, dialect) for value in params]


def _param(value: object, dialect: Dialect) -> Any:
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
    if dialect == "sqlite" or value is None:
        return value
    # As node-postgres does: send text of unknown type and let PostgreSQL infer the type from
    # the placeholder's context, so `WHERE id = $1` works with 7 and with "7".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
    return str(value)


def json_safe(value: Any) -> Any:
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
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
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


def rows_collector(max_rows: int):
    """Convert rows one by one, refusing too many rows or too many bytes as they arrive."""
    rows: list[dict[str, Any]] = []
    size = 0

    def add(row: dict[str, Any]) -> None:
        nonlocal size
        if len(rows) >= max_rows:
            raise TenantDbError(
                f"The query returned more than {max_rows} rows; add a LIMIT or a narrower WHERE."
            )
        converted = {name: json_safe(value) for name, value in row.items()}
        size += len(json.dumps(converted))
        if size > MAX_RESULT_BYTES:
            raise TenantDbError(
                f"The query's result is larger than {MAX_RESULT_BYTES // (1024 * 1024)} MB; "
                "select fewer rows or columns."
            )
        rows.append(converted)

    return rows, add


def timeout_error(timeout_ms: int) -> TenantDbError:
    return TenantDbError(f"Query exceeded the {timeout_ms / 1000:g}s statement timeout.")


def lock_timeout_error(timeout_ms: int) -> TenantDbError:
    return TenantDbError(
        f"Query waited more than {timeout_ms / 1000:g}s for a lock held by another query."
    )


def redact(message: str) -> str:
    """An engine's message without the tenant's internal name (schema, role)."""
    return INTERNAL_NAME.sub("your database", message)
