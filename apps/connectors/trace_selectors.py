"""Reads for Activity → Traces: one row per connector call (`ConnectorCall`).

The list is keyset-paginated on (started_at, id) and its tab counts are capped, like Activity →
Executions, so the page costs the same with a thousand calls or ten million. Every read is
scoped to the Space. The drawer shows a call's request and response as the writer stored them
(already redacted and capped) and redacts once more anything that looks like a credential:
a header such as Authorization, Cookie or X-API-Key, a query parameter named like a key or
token, a body field such as `password` or `access_token` (defence in depth: a bug in a writer
must not put a token on a page)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.connectors.catalog import builtin_connectors
from apps.connectors.models import CallStatus, Connector, ConnectorCall
from apps.spaces.models import Space

PAGE_SIZE = 50
COUNT_CAP = 1000
CUSTOM = "custom"
RANGES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(days=1),
          "7d": timedelta(days=7)}  # fmt: skip
RANGE_LABELS = {"15m": "Last 15 minutes", "1h": "Last hour", "24h": "Last 24 hours",
                "7d": "Last 7 days", CUSTOM: "Custom range"}  # fmt: skip
TABS = {
    "all": None,
    "success": CallStatus.SUCCESS,
    "error": CallStatus.ERROR,
    "pending": CallStatus.PENDING,
}
TAB_LABELS = {"all": "All", "success": "Success", "error": "Error", "pending": "Pending"}
LIST_FIELDS = ("id", "customer_id", "execution_id", "connection_id", "connection_name",
               "connector_slug", "action", "method", "status", "http_status", "error_code",
               "duration_ms", "request_bytes", "response_bytes", "started_at",
               "customer__id", "customer__name", "customer__external_id")  # fmt: skip
REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class TraceFilters:
    """Validated filters (apps/connectors/trace_forms.py): every value is one the Space
    offers. `start` / `end` bound a custom range; `start_text` / `end_text` are what the form
    showed (a `datetime-local` value in the Space's time zone) and what links carry."""

    tab: str = "all"
    range: str = "24h"
    connector: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    start_text: str = ""
    end_text: str = ""
    before: str | None = None  # keyset cursor "<iso started_at>|<uuid>"
    invalid: bool = False  # a custom range with a mistake (said on the page): nothing matches

    def query(self, **changes: Any) -> str:
        """The query string of these filters with `changes` (None drops a value): what tabs
        and the pager carry, so every filter survives paging and tab switches."""
        values = replace(self, **changes)
        custom = values.range == CUSTOM
        pairs = {"tab": values.tab, "range": values.range, "connector": values.connector,
                 "from": values.start_text if custom else "",
                 "to": values.end_text if custom else "", "before": values.before}  # fmt: skip
        return urlencode({key: value for key, value in pairs.items() if value})

    def bounds(self, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
        if self.range == CUSTOM:
            return self.start, self.end
        span = RANGES.get(self.range)
        return ((now or timezone.now()) - span if span else None), None


def traces_filtered(space: Space, filters: TraceFilters, *, with_tab: bool = True) -> QuerySet:
    rows = ConnectorCall.objects.filter(space=space)
    if filters.invalid:
        return rows.none()
    if filters.connector:
        rows = rows.filter(connector_slug=filters.connector)
    since, until = filters.bounds()
    if since is not None:
        rows = rows.filter(started_at__gte=since)
    if until is not None:
        rows = rows.filter(started_at__lt=until)
    if with_tab and TABS.get(filters.tab):
        rows = rows.filter(status=TABS[filters.tab])
    return rows


def parse_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (started_at, id) of a cursor made by `trace_page`; None for anything else (an edited
    or truncated URL), which the list treats as "no cursor"."""
    if not cursor or "|" not in cursor:
        return None
    stamp, _, pk = cursor.partition("|")
    try:
        when = parse_datetime(stamp)  # None when malformed; ValueError when out of range
        if when is None or timezone.is_naive(when):
            return None
        return when.astimezone(UTC), str(uuid.UUID(pk))  # OverflowError near year 1 or 9999
    except (ValueError, OverflowError):
        return None


def trace_page(space: Space, filters: TraceFilters) -> tuple[list[ConnectorCall], str | None]:
    """One page, newest first, with each call's customer; request and response stay in the
    database (the drawer reads them)."""
    rows = (
        traces_filtered(space, filters)
        .select_related("customer")
        .only(*LIST_FIELDS)
        .order_by("-started_at", "-id")
    )
    cursor = parse_cursor(filters.before)
    if cursor:
        when, pk = cursor
        rows = rows.filter(Q(started_at__lt=when) | Q(started_at=when, id__lt=pk))
    page = list(rows[: PAGE_SIZE + 1])
    if len(page) <= PAGE_SIZE:
        return page, None
    page = page[:PAGE_SIZE]
    last = page[-1]
    return page, f"{last.started_at.isoformat()}|{last.id}"


def trace_tab_counts(space: Space, filters: TraceFilters) -> dict[str, str]:
    """Counts per tab, capped at COUNT_CAP ("1000+"), so the cost never grows with history."""
    base = traces_filtered(space, filters, with_tab=False)
    counts = {}
    for tab, status in TABS.items():
        rows = base.filter(status=status) if status else base
        n = rows.order_by().values("pk")[: COUNT_CAP + 1].count()
        counts[tab] = f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)
    return counts


def connector_names(space: Space) -> dict[str, str]:
    """Display names by slug: the built-ins and the Space's own connectors."""
    names = {slug: d.name for slug, d in builtin_connectors().items()}
    for slug, name in Connector.objects.filter(space=space).values_list("slug", "name"):
        names.setdefault(slug, name)
    return names


def trace_connectors(space: Space, names: dict[str, str]) -> list[tuple[str, str]]:
    """(slug, name) of the connectors the filter offers: those of `names` (the built-ins and
    the Space's own) that have at least one trace in this Space. One query of one indexed
    EXISTS per connector, instead of a DISTINCT that would read every trace."""
    if not names:
        return []
    slugs = sorted(names)
    seen = Space.objects.filter(pk=space.pk).annotate(
        **{
            f"c{index}": Exists(
                ConnectorCall.objects.filter(space=OuterRef("pk"), connector_slug=slug)
            )
            for index, slug in enumerate(slugs)
        }
    )
    row = seen.values(*(f"c{index}" for index in range(len(slugs)))).first() or {}
    found = [slug for index, slug in enumerate(slugs) if row.get(f"c{index}")]
    return sorted(((slug, names[slug]) for slug in found), key=lambda item: item[1].lower())


def trace_connector_exists(space: Space, slug: str) -> bool:
    """Whether the Space has a trace of `slug` (a connector deleted since still has its traces,
    and the filter may name it)."""
    return ConnectorCall.objects.filter(space=space, connector_slug=slug).exists()


def get_trace_for_member(request, trace_id) -> ConnectorCall:
    """A trace of the current Space, or 404 (another Space's id looks like a missing one)."""
    return get_object_or_404(
        ConnectorCall.objects.select_related("customer"), space=request.space, id=trace_id
    )


# --- The drawer: request and response, credentials redacted once more --------------------------

# Header names that carry credentials: exact names, and any name holding one of these words
# (X-API-Key, X-Auth-Token, X-Goog-Api-Key, X-Amz-Security-Token, Stripe-Signature…).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
CREDENTIAL_WORDS = re.compile(
    r"api[-_]?key|auth|token|secret|passw|credential|session|signature|cookie", re.I
)
# Query parameters named like these carry credentials too (`?api_key=`, `?access_token=`).
CREDENTIAL_QUERY_NAMES = frozenset({"key", "sig", "code", "client_secret", "password"})
# Values that are credentials whatever their header is called.
CREDENTIAL_VALUE = re.compile(r"^\s*(bearer|basic|digest|token)\s+\S", re.I)
# Body fields (compared lower-case, without - and _) that hold credentials. Stricter than the
# header words: a body's `total_tokens` or `session_id` is data, not a credential.
CREDENTIAL_FIELDS = frozenset({
    "password", "passwd", "secret", "clientsecret", "apikey", "apisecret", "accesstoken",
    "refreshtoken", "idtoken", "token", "authorization", "privatekey", "sessiontoken",
    "secretkey", "accesskey", "secretaccesskey", "bearertoken", "authtoken",
})  # fmt: skip
BODY_DEPTH = 20


def credential_header(name: str, value: Any) -> bool:
    lowered = str(name).strip().lower()
    if lowered in CREDENTIAL_HEADERS or CREDENTIAL_WORDS.search(lowered):
        return True
    return isinstance(value, str) and bool(CREDENTIAL_VALUE.match(value))


def redacted_headers(headers: Any) -> list[tuple[str, str]]:
    """(name, value) pairs of stored headers (an object, or a list of pairs), in their
    order, with every credential-looking value replaced by [REDACTED]."""
    if isinstance(headers, dict):
        pairs = list(headers.items())
    elif isinstance(headers, list):
        pairs = [tuple(i) for i in headers if isinstance(i, list | tuple) and len(i) == 2]
    else:
        pairs = []
    out = []
    for name, value in pairs:
        values = value if isinstance(value, list) else [value]
        for one in values:
            text = one if isinstance(one, str) else str(one)
            out.append((str(name), REDACTED if credential_header(name, text) else text))
    return out


def redacted_url(url: str) -> str:
    """The URL with credential-looking query values (and any user:password@) redacted."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not query:
        return urlunsplit(parts._replace(netloc=netloc))
    cleaned = [
        (name, REDACTED if _credential_query(name) else value) for name, value in query
    ]  # fmt: skip
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(cleaned, safe="[]")))


def _credential_query(name: str) -> bool:
    lowered = name.lower()
    return lowered in CREDENTIAL_QUERY_NAMES or bool(CREDENTIAL_WORDS.search(lowered))


def redacted_body(value: Any, depth: int = 0) -> Any:
    """A JSON body with the values of credential fields (`password`, `access_token`…) redacted,
    at any depth."""
    if depth > BODY_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED
            if _credential_field(key) and value[key] not in (None, "", REDACTED)
            else redacted_body(value[key], depth + 1)
            for key in value
        }
    if isinstance(value, list):
        return [redacted_body(item, depth + 1) for item in value]
    return value


FORM_ENCODED = re.compile(r"[^\s=&]+=[^\s&]*(?:&[^\s=&]+=[^\s&]*)*")


def redacted_form(text: str) -> str:
    """A text body that is a form (`a=1&client_secret=…`) with its credential fields redacted;
    any other text as it is."""
    if len(text) > 100_000 or not FORM_ENCODED.fullmatch(text):
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(_credential_field(name) for name, _ in pairs):
        return text
    return urlencode([(n, REDACTED if _credential_field(n) else v) for n, v in pairs])


def _credential_field(key: Any) -> bool:
    return str(key).lower().replace("-", "").replace("_", "") in CREDENTIAL_FIELDS


@dataclass(frozen=True)
class Body:
    kind: str  # "json", "text" or "none"
    value: Any = None
    truncated: bool = False
    size: int | None = None  # the whole body's bytes, when only a preview was kept


@dataclass(frozen=True)
class Exchange:
    """One side of a call as the drawer shows it; `error` is why there was no answer."""

    headers: list[tuple[str, str]]
    body: Body
    error: str = ""


def _body(side: dict) -> Body:
    """The stored body: any JSON value, or the writer's cap marker (apps/connectors/tracing.py:
    `{"truncated": true, "bytes": n, "preview": "…"}`) shown as its preview."""
    value = side.get("body")
    if value is None or value == "":
        return Body("none")
    if isinstance(value, dict) and value.get("truncated") is True and "preview" in value:
        size = value.get("bytes") if isinstance(value.get("bytes"), int) else None
        return Body("text", redacted_form(str(value["preview"])), True, size)
    if isinstance(value, str):
        return Body("text", redacted_form(value))
    return Body("json", redacted_body(value))


def trace_exchange(call: ConnectorCall) -> tuple[Exchange, Exchange]:
    """(request, response) of a call, redacted for display."""
    request = call.request if isinstance(call.request, dict) else {}
    response = call.response if isinstance(call.response, dict) else {}
    return tuple(
        Exchange(
            redacted_headers(side.get("headers")),
            _body(side),
            side["error"] if isinstance(side.get("error"), str) else "",
        )
        for side in (request, response)
    )
