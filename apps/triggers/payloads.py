"""How Activity shows what an event carried: its headers (credentials never), and its body —
the parsed payload as a JSON tree, or the raw body as text, cut past BODY_SHOWN bytes with a
note saying so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.executions.headers import workflow_headers

BODY_SHOWN = 64 * 1024


@dataclass(frozen=True)
class BodyView:
    """`kind`: json (the parsed payload, small enough for the tree), text (the raw body, maybe
    cut), binary (not text: only its size is shown) or empty."""

    kind: str
    size: int
    content_type: str
    payload: Any = None
    text: str = ""
    truncated: bool = False


def headers_view(headers: dict[str, str]) -> dict[str, str]:
    """The stored headers, sorted, credentials left out. The receiver already leaves them
    out (apps/triggers/receive.py); this holds for rows written any other way too."""
    return dict(sorted(workflow_headers(headers or {}).items()))


def body_view(event) -> BodyView:
    body = bytes(event.body or b"")
    size, content_type = len(body), event.content_type
    if not body and event.payload is None:
        return BodyView("empty", 0, content_type)
    if event.payload is not None and size <= BODY_SHOWN:
        return BodyView("json", size, content_type, payload=event.payload)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return BodyView("binary", size, content_type)
    if "\x00" in text:
        return BodyView("binary", size, content_type)
    shown = body[:BODY_SHOWN].decode("utf-8", errors="ignore")
    return BodyView("text", size, content_type, text=shown, truncated=size > BODY_SHOWN)
