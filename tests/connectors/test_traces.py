"""Activity → Traces: tabs and their counts, the connector and time filters (in the Space's time
zone), keyset pages, tenancy (another Space's trace is a 404), and the drawer, which never shows
a credential even when a writer stored one."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.connectors.models import Connector, ConnectorCall, ConnectorVersion
from apps.connectors.trace_selectors import (
    REDACTED,
    TraceFilters,
    redacted_body,
    redacted_headers,
    redacted_url,
    trace_page,
)
from apps.executions.services import execution_create
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create
from tests.conftest import login
from tests.executions.factories import make_workflow

HTMX = {"HX-Request": "true"}
pytestmark = pytest.mark.django_db


def own_connector(space, slug="inventory-hub", name="Inventory Hub"):
    connector = Connector.objects.create(space=space, slug=slug, name=name)
    version = ConnectorVersion.objects.create(
        connector=connector,
        number=1,
        definition={"slug": slug, "name": name, "baseUrl": "https://api.example.com",
                    "actions": [{"name": "listProducts", "method": "GET", "path": "/p"}]},
    )  # fmt: skip
    connector.latest_version = version
    connector.save(update_fields=["latest_version"])
    return connector


def add(space, count=1, *, ago=timedelta(seconds=1), **fields):
    """`count` calls, the newest `ago` old, one second apart."""
    now = timezone.now()
    values = {"connector_slug": "inventory-hub", "action": "listProducts", "method": "GET",
              "status": "success", "http_status": 200, "duration_ms": 42, **fields}  # fmt: skip
    return ConnectorCall.objects.bulk_create(
        ConnectorCall(space=space, started_at=now - ago - timedelta(seconds=i), **values)
        for i in range(count)
    )


def list_url(space, query=""):
    return reverse("traces", args=[space.slug]) + (f"?{query}" if query else "")


def detail_url(call, space=None):
    return reverse("trace_detail", args=[(space or call.space).slug, call.id])


def shown(response) -> set[str]:
    return {str(row.id) for row in response.context["rows"]}


def tab_counts(response) -> dict[str, str]:
    return {tab: n for tab, _, _, n in response.context["tabs"]}


# --- Tabs, filters, pages ---------------------------------------------------------------------


def test_tabs_count_each_status_and_show_only_theirs(client, cast):
    own_connector(cast.space)
    ok = add(cast.space, 3)
    failed = add(cast.space, 2, status="error", http_status=500)
    waiting = add(cast.space, 1, status="pending", http_status=None)
    login(client, cast.viewer)
    response = client.get(list_url(cast.space))
    assert response.status_code == 200
    assert tab_counts(response) == {"all": "6", "success": "3", "error": "2", "pending": "1"}
    assert len(shown(response)) == 6
    for tab, rows in (("success", ok), ("error", failed), ("pending", waiting)):
        response = client.get(list_url(cast.space, f"tab={tab}"), headers=HTMX)
        assert shown(response) == {str(r.id) for r in rows}
        assert tab_counts(response)["all"] == "6"  # counts ignore the tab
    html = client.get(list_url(cast.space, "tab=error")).content.decode()
    assert 'data-testid="trace-http-status">500<' in html
    assert "Inventory Hub" in html


def test_the_connector_filter_offers_only_connectors_with_traces_here(client, cast):
    own_connector(cast.space)
    own_connector(cast.space, slug="quiet-one", name="Quiet One")  # no traces: not offered
    own_connector(cast.other_space, slug="globex-crm", name="Globex CRM")
    mine = add(cast.space, 2)
    mine_elsewhere = add(cast.space, 1, connector_slug="old-deleted", action="ping")
    builtin = add(cast.space, 1, connector_slug="shopify", action="listOrders")
    add(cast.other_space, 4, connector_slug="globex-crm")
    add(cast.other_space, 1, connector_slug="stripe")  # a built-in with traces elsewhere only
    login(client, cast.viewer)
    response = client.get(list_url(cast.space))
    # Built-ins (named from the catalog) and the Space's own, by name.
    assert response.context["connectors"] == [
        ("inventory-hub", "Inventory Hub"),
        ("shopify", "Shopify"),
    ]
    assert shown(response) == {str(r.id) for r in mine + mine_elsewhere + builtin}
    filtered = client.get(list_url(cast.space, "connector=inventory-hub"))
    assert shown(filtered) == {str(r.id) for r in mine}
    assert tab_counts(filtered)["all"] == "2"
    # A deleted connector's traces remain, and can still be filtered on.
    deleted = client.get(list_url(cast.space, "connector=old-deleted"))
    assert shown(deleted) == {str(mine_elsewhere[0].id)}
    # Another Space's connector is no filter here: the list shows without it.
    other = client.get(list_url(cast.space, "connector=globex-crm"))
    assert other.context["filters"].connector is None
    assert len(shown(other)) == 4


def test_time_ranges_from_fifteen_minutes_to_seven_days(client, cast):
    recent = add(cast.space, 1, ago=timedelta(minutes=5))
    half_hour = add(cast.space, 1, ago=timedelta(minutes=30))
    yesterday = add(cast.space, 1, ago=timedelta(hours=30))
    last_month = add(cast.space, 1, ago=timedelta(days=30))
    login(client, cast.viewer)

    def ids(query):
        return shown(client.get(list_url(cast.space, query)))

    assert ids("range=15m") == {str(recent[0].id)}
    assert ids("range=1h") == {str(recent[0].id), str(half_hour[0].id)}
    assert ids("") == ids("range=24h") == ids("range=1h")  # the default is 24 hours
    assert ids("range=7d") == ids("range=1h") | {str(yesterday[0].id)}
    assert str(last_month[0].id) in ids("range=custom")  # no dates: no bounds


def test_a_custom_range_is_read_in_the_spaces_time_zone(client, cast):
    cast.space.time_zone = "Asia/Kolkata"  # UTC+05:30
    cast.space.save(update_fields=["time_zone"])
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 15:30 in Kolkata
    inside = ConnectorCall.objects.create(
        space=cast.space, connector_slug="inventory-hub", action="a", started_at=at
    )
    login(client, cast.viewer)
    # 15:00–16:00 in Kolkata holds it; 10:00–11:00 (its UTC hour, read in Kolkata) does not.
    query = "range=custom&from=2026-03-01T15:00&to=2026-03-01T16:00"
    response = client.get(list_url(cast.space, query))
    assert shown(response) == {str(inside.id)}
    utc_hour = query.replace("T15", "T10").replace("T16", "T11")
    assert shown(client.get(list_url(cast.space, utc_hour))) == set()
    # The list shows times in the Space's zone, and says which zone that is.
    html = response.content.decode()
    assert "Times in Asia/Kolkata." in html
    assert "1 Mar 2026, 15:30:00" in html
    # Only the start: everything after it.
    assert shown(client.get(list_url(cast.space, "range=custom&from=2026-03-01T15:29"))) == {
        str(inside.id)
    }
    # The dates survive tab switches.
    tabs = dict((tab, q) for tab, _, q, _ in response.context["tabs"])
    assert "from=2026-03-01T15%3A00" in tabs["error"] and "to=2026-03-01T16%3A00" in tabs["error"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("range=custom&from=2026-03-02T00:00&to=2026-03-01T00:00", "after the start"),
        ("range=custom&from=yesterday", "Enter a valid date/time"),
        ("range=custom&from=0001-01-01T00:00", "between 2000 and 2999"),
        ("range=custom&to=9999-12-31T23:59", "between 2000 and 2999"),
    ],
)
def test_a_mistaken_custom_range_is_said_and_matches_nothing(client, cast, query, message):
    add(cast.space, 2)
    login(client, cast.viewer)
    response = client.get(list_url(cast.space, query))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert shown(response) == set()
    assert tab_counts(response)["all"] == "0"


@pytest.mark.parametrize(
    "query",
    ["tab=bogus", "range=1y", "connector=%00", "connector=" + "x" * 500, "before=nope",
     "before=2026-01-01T00:00:00|not-a-uuid",
     "before=9999-12-31T23:59:59+14:00|" + str(uuid.UUID(int=0)),
     "from=2026-03-01T15:00", "tab=error&range=custom&from=" + "9" * 100],
)  # fmt: skip
def test_values_the_space_does_not_offer_never_break_the_page(client, cast, query):
    add(cast.space, 2)
    login(client, cast.viewer)
    assert client.get(list_url(cast.space, query)).status_code == 200
    assert client.get(list_url(cast.space, query), headers=HTMX).status_code == 200


def test_keyset_pages_walk_every_row_once_and_keep_the_filters(client, cast):
    rows = add(cast.space, 120, status="error")
    add(cast.space, 5)  # success: not on the error tab
    login(client, cast.viewer)
    seen: list[str] = []
    query = "tab=error&range=7d"
    for expected in (50, 50, 20):
        response = client.get(list_url(cast.space, query))
        page = [str(row.id) for row in response.context["rows"]]
        assert len(page) == expected
        seen += page
        query = response.context["older_query"]
        if expected == 20:
            assert query == ""
        else:
            assert "tab=error" in query and "range=7d" in query and "before=" in query
    assert seen == [str(r.id) for r in rows]  # newest first, none twice, none missed
    assert response.context["newest_query"] == "tab=error&range=7d"


def test_the_list_costs_the_same_queries_with_many_traces(client, cast):
    own_connector(cast.space)
    customer = customer_create(cast.space, name="Initech", external_id="initech",
                               actor=Actor.system("test"))  # fmt: skip
    add(cast.space, 3, customer=customer)
    login(client, cast.viewer)
    url = list_url(cast.space, "connector=inventory-hub")
    client.get(url)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    add(cast.space, 200, customer=customer, status="error")
    add(cast.space, 30, connector_slug="shopify")
    assert count() == few


# --- Tenancy ----------------------------------------------------------------------------------


def test_another_spaces_trace_is_a_404_and_never_listed(client, cast):
    theirs = add(cast.other_space, 1, connector_slug="globex-crm")[0]
    mine = add(cast.space, 1)[0]
    login(client, cast.owner)
    assert client.get(detail_url(theirs, cast.space)).status_code == 404
    assert client.get(detail_url(theirs, cast.space), headers=HTMX).status_code == 404
    missing = reverse("trace_detail", args=[cast.space.slug, uuid.uuid4()])
    assert client.get(missing).status_code == 404
    assert str(theirs.id) not in shown(client.get(list_url(cast.space)))
    assert client.get(detail_url(mine)).status_code == 200
    # The other Space's owner cannot reach mine through their own Space, nor through mine.
    login(client, cast.outsider)
    assert client.get(detail_url(mine, cast.other_space)).status_code == 404
    assert client.get(detail_url(mine)).status_code == 404
    assert client.get(list_url(cast.space)).status_code == 404


def test_trace_page_reads_only_the_given_space(cast):
    add(cast.space, 2)
    add(cast.other_space, 3)
    page, cursor = trace_page(cast.space, TraceFilters(range="7d"))
    assert len(page) == 2 and cursor is None
    assert {row.space_id for row in page} == {cast.space.id}


# --- The drawer -------------------------------------------------------------------------------

SECRETS = ("sk_live_abcdef", "cookie-monster", "tok-123456", "hunter2", "refresh-xyz",
           "apikey-in-query", "basic-creds", "pw-in-url", "form-secret")  # fmt: skip


def leaky_call(space, execution=None):
    """A call as a buggy writer might store it: credentials left in."""
    return ConnectorCall.objects.create(
        space=space,
        execution=execution,
        connection_name="Main account",
        connector_slug="inventory-hub",
        action="listProducts",
        method="POST",
        url="https://user:pw-in-url@api.example.com/v1/products?api_key=apikey-in-query&page=2",
        status="error",
        http_status=429,
        error_code="DATASOURCE_CONNECTION_ERROR",
        error_message="Too many requests",
        duration_ms=1234,
        request_bytes=2048,
        response_bytes=3 * 1024 * 1024,
        request={
            "headers": {
                "Authorization": "Bearer sk_live_abcdef",
                "Cookie": "session=cookie-monster",
                "X-API-Key": "tok-123456",
                "X-Custom": "Basic basic-creds",
                "Content-Type": "application/json",
            },
            "body": {"name": "Widget", "password": "hunter2",
                     "nested": {"refresh_token": "refresh-xyz"}},
        },
        response={
            "headers": [["Set-Cookie", "sid=cookie-monster"], ["Retry-After", "3"],
                        ["X-Request-Id", "req-42"]],
            # The writer's cap marker (apps/connectors/tracing.py): a preview of a big body.
            "body": {"truncated": True, "bytes": 40_000,
                     "preview": "grant_type=refresh&client_secret=form-secret"},
        },
    )  # fmt: skip


def test_the_drawer_shows_request_and_response_with_credentials_redacted(client, cast):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=workflow.draft_code, input={}, headers={},
        triggered_by="manual", actor=Actor.system("test"),
    )  # fmt: skip
    call = leaky_call(cast.space, execution)
    login(client, cast.viewer)
    for headers in (HTMX, {}):
        response = client.get(detail_url(call), headers=headers)
        assert response.status_code == 200
        html = response.content.decode()
        for secret in SECRETS:
            assert secret not in html, secret
        assert html.count(REDACTED) >= 8
        assert 'data-testid="response-status">429<' in html
        assert "req-42" in html and "Retry-After" in html and "application/json" in html
        assert "Widget" in html and "page=2" in html
        assert "DATASOURCE_CONNECTION_ERROR" in html and "Too many requests" in html
        assert "2.0\xa0KB sent, 3.0\xa0MB received" in html
        assert 'data-testid="response-body-truncated"' in html
        assert "Only the beginning is kept of 39.1\xa0KB" in html
        execution_url = reverse("execution_detail", args=[cast.space.slug, execution.id])
        assert f'href="{execution_url}"' in html
    # The drawer is a fragment; the page is the whole console page.
    assert "<html" not in client.get(detail_url(call), headers=HTMX).content.decode()
    assert "<html" in html


def test_the_list_shows_bytes_in_human_units_and_links_the_execution(client, cast):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=workflow.draft_code, input={}, headers={},
        triggered_by="manual", actor=Actor.system("test"),
    )  # fmt: skip
    leaky_call(cast.space, execution)
    login(client, cast.viewer)
    html = client.get(list_url(cast.space)).content.decode()
    assert re.search(r"2\.0\xa0KB / 3\.0\xa0MB", html)
    assert reverse("execution_detail", args=[cast.space.slug, execution.id]) in html
    assert "Main account" in html
    for secret in SECRETS:
        assert secret not in html


@pytest.mark.parametrize(
    "name, value, hidden",
    [
        ("Authorization", "Bearer x", True),
        ("proxy-authorization", "Basic x", True),
        ("Cookie", "a=b", True),
        ("SET-COOKIE", "a=b", True),
        ("X-Api-Key", "k", True),
        ("x-goog-api-key", "k", True),
        ("apikey", "k", True),
        ("X-Auth-Token", "k", True),
        ("X-Amz-Security-Token", "k", True),
        ("X-Client-Secret", "k", True),
        ("X-Anything", "Bearer abc", True),
        ("X-Anything", "token abc", True),
        ("Content-Type", "application/json", False),
        ("X-Request-Id", "abc", False),
        ("Retry-After", "3", False),
    ],
)
def test_credential_headers_are_redacted(name, value, hidden):
    assert redacted_headers({name: value}) == [(name, REDACTED if hidden else value)]


def test_redaction_of_urls_and_bodies_keeps_what_is_data():
    assert redacted_url("https://a.test/x?key=1&limit=5&access_token=2") == (
        f"https://a.test/x?key={REDACTED}&limit=5&access_token={REDACTED}"
    )
    assert redacted_url("https://u:p@a.test/") == f"https://{REDACTED}@a.test/"
    body = {"usage": {"total_tokens": 5}, "session_id": "s", "Client-Secret": "c",
            "items": [{"apiKey": "k", "id": 1}]}  # fmt: skip
    assert redacted_body(body) == {
        "usage": {"total_tokens": 5},
        "session_id": "s",
        "Client-Secret": REDACTED,
        "items": [{"apiKey": REDACTED, "id": 1}],
    }
    # Odd shapes a writer might store do not break the drawer.
    assert redacted_headers(None) == [] and redacted_headers("x") == []
    assert redacted_headers([["A", 1], ["B"], "c"]) == [("A", "1")]
    assert redacted_headers({"Accept": ["a", "b"]}) == [("Accept", "a"), ("Accept", "b")]


def test_a_call_without_an_answer_says_why(client, cast):
    call = add(cast.space, 1, status="error", http_status=None,
               request={"body": {"q": 1}}, response={"error": "Connection refused"})[0]  # fmt: skip
    login(client, cast.viewer)
    html = client.get(detail_url(call), headers=HTMX).content.decode()
    assert "No answer: Connection refused" in html
    assert "(no answer from the service)" in html


def test_a_pending_call_says_it_has_not_answered(client, cast):
    call = add(cast.space, 1, status="pending", http_status=None)[0]
    login(client, cast.viewer)
    html = client.get(detail_url(call), headers=HTMX).content.decode()
    assert "has not answered yet" in html and "No headers." in html and "No body." in html


def test_the_sidebar_traces_link_is_the_real_page(client, cast):
    login(client, cast.viewer)
    html = client.get(list_url(cast.space)).content.decode()
    assert "not available yet" not in html
    assert 'data-testid="traces-table"' in html
