"""What a workflow sees in `ctx.headers`: the incoming headers, lower-cased, minus the
caller's credentials (DESIGN §4). One list for every way a run starts — the public API and
`manage.py runworkflow` — so a workflow sees locally exactly what it sees in production."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Credentials of the caller: they authenticate the request to the console, never the
# workflow's business. `x-fastn-key` is a webhook trigger's API key.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-fastn-api-key",
        "x-fastn-access-key",
        "x-fastn-key",
    }
)


def workflow_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """`headers` as `ctx.headers`: names lower-cased, credentials left out."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name.lower(): value for name, value in items if name.lower() not in CREDENTIAL_HEADERS}


def credential_headers_in(headers: Iterable[str]) -> list[str]:
    """The names among `headers` that `workflow_headers` leaves out (lower-cased, sorted)."""
    return sorted({name.lower() for name in headers} & CREDENTIAL_HEADERS)
