"""Traces (Activity → Traces): one `ConnectorCall` row per connector call from a run.

Two statements per call: an INSERT when the call starts (status pending, so calls in flight
show), an UPDATE when it ends (success or error, HTTP status, duration, bytes, attempts, the
request and the response). What is stored is redacted first — credential headers masked,
the connection's credentials and the run's secrets replaced by [REDACTED] — and each body is
capped at BODY_CAP bytes (a `{"truncated", "bytes", "preview"}` marker beyond)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from apps.connectors.models import CallStatus, ConnectorCall
from apps.runtime.redact import REDACTED, Redactor

logger = logging.getLogger("fastn.connectors")

BODY_CAP = 16 * 1024
URL_CAP = 2000
MESSAGE_CAP = 4000
# Always masked, whatever their value: they carry credentials by definition.
MASKED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)


@dataclass
class TraceTarget:
    """Who makes the call: written on the row when it starts."""

    space_id: Any
    customer_id: Any = None
    execution_id: Any = None


def trace_start(
    target: TraceTarget,
    *,
    connector_slug: str,
    action: str,
    connector_version: str = "",
    connection=None,
    method: str = "",
    url: str = "",
) -> uuid.UUID | None:
    """Insert the pending row; None when the database refused (the call goes on untraced)."""
    call = ConnectorCall(
        space_id=target.space_id,
        customer_id=target.customer_id,
        execution_id=target.execution_id,
        connection_id=connection.pk if connection is not None else None,
        connection_name=(connection.name if connection is not None else "")[:120],
        connector_slug=connector_slug[:64],
        connector_version=connector_version[:32],
        action=action[:128],
        method=method[:8],
        url=url[:URL_CAP],
        status=CallStatus.PENDING,
        started_at=timezone.now(),
    )
    try:
        call.save(force_insert=True)
    except DatabaseError:
        logger.exception("could not record the start of a connector call")
        return None
    return call.id


def trace_finish(
    call_id: uuid.UUID | None,
    *,
    ok: bool,
    duration_ms: float,
    http_status: int | None = None,
    error_code: str = "",
    error_message: str = "",
    attempts: int = 1,
    request_bytes: int = 0,
    response_bytes: int = 0,
    request: dict | None = None,
    response: dict | None = None,
    method: str = "",
    url: str = "",
) -> None:
    if call_id is None:
        return
    fields: dict[str, Any] = {
        "status": CallStatus.SUCCESS if ok else CallStatus.ERROR,
        "http_status": http_status if http_status and 0 < http_status < 1000 else None,
        "error_code": error_code[:64],
        "error_message": error_message[:MESSAGE_CAP],
        "attempts": max(1, min(attempts, 32767)),
        "duration_ms": max(0, round(duration_ms)),
        "request_bytes": request_bytes,
        "response_bytes": response_bytes,
        "request": request or {},
        "response": response or {},
        "finished_at": timezone.now(),
    }
    if method:
        fields["method"] = method[:8]
    if url:
        fields["url"] = url[:URL_CAP]
    try:
        ConnectorCall.objects.filter(pk=call_id).update(**fields)
    except DatabaseError:
        logger.exception("could not record the end of connector call %s", call_id)


# --- what a row keeps -----------------------------------------------------------------------


def masked_headers(
    headers: list[tuple[str, str]] | dict[str, str],
    redactor: Redactor,
    private: set[str] | frozenset[str] = frozenset(),
) -> dict[str, str]:
    items = headers.items() if isinstance(headers, dict) else headers
    out: dict[str, str] = {}
    for name, value in items:
        lowered = name.lower()
        shown = REDACTED if lowered in MASKED_HEADERS or lowered in private else value
        shown = redactor.text(shown)
        out[lowered] = f"{out[lowered]}, {shown}" if lowered in out else shown
    return out


def capped_body(value: Any, redactor: Redactor) -> Any:
    """The body as stored: redacted, and cut to a marker with a preview beyond BODY_CAP."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else _json(value)
    size = len(text.encode("utf-8"))
    if size <= BODY_CAP:
        return redactor.value(value)
    preview = text.encode("utf-8")[:BODY_CAP].decode("utf-8", "ignore")
    return {"truncated": True, "bytes": size, "preview": redactor.cut_text(preview)}


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(value)
