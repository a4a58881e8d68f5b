"""The shape the Activity lists share (Executions, Events, Dead letters, Traces): status tabs
with counts, one keyset page of rows, and the links to the older page and back to the newest.

`filters` is the list's filter object: it has `.before` (the keyset cursor of the page shown)
and `.query(**changes)` (the query string of the same filters with some changed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def list_context(
    filters: Any,
    rows: list,
    next_cursor: str | None,
    counts: Mapping[str, int],
    tabs: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """`tabs`: (tab, label) in display order; the template gets (tab, label, query, count)."""
    return {
        "filters": filters,
        "rows": rows,
        "older_query": filters.query(before=next_cursor) if next_cursor else "",
        "newest_query": filters.query(before=None) if filters.before else "",
        "tabs": [
            (tab, label, filters.query(tab=tab, before=None), counts[tab]) for tab, label in tabs
        ],
    }
