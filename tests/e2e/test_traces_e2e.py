"""Activity → Traces in a real browser: a person opens the page from the sidebar, switches the
status tabs, filters by connector, opens a call in the drawer and reads the service's answer —
with the credentials a careless writer left in the stored headers shown as [REDACTED]."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.connectors.models import Connector, ConnectorCall, ConnectorVersion
from apps.executions.services import execution_create, execution_run_sync
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create
from tests.connectors.calls_support import connect, make_acme
from tests.connectors.fakes import FakeService
from tests.e2e.helpers import browser_login
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def own_connector(space, slug, name):
    connector = Connector.objects.create(space=space, slug=slug, name=name)
    connector.latest_version = ConnectorVersion.objects.create(
        connector=connector,
        number=1,
        definition={"slug": slug, "name": name, "baseUrl": "https://api.example.com",
                    "actions": [{"name": "listProducts", "method": "GET", "path": "/p"}]},
    )  # fmt: skip
    connector.save(update_fields=["latest_version"])


def call(space, minutes_ago, **fields):
    values = {"connector_slug": "cin7-core", "action": "listProducts", "method": "GET",
              "status": "success", "http_status": 200, "duration_ms": 87,
              "connection_name": "Main account", "request_bytes": 512, "response_bytes": 4096,
              "started_at": timezone.now() - timedelta(minutes=minutes_ago), **fields}  # fmt: skip
    return ConnectorCall.objects.create(space=space, **values)


def test_traces_tabs_connector_filter_and_the_redacting_drawer(live_server, page, cast):
    system = Actor.system("test")
    own_connector(cast.space, "shopify-store", "Shopify Store")  # cin7-core is a built-in
    customer = customer_create(cast.space, name="Initech", external_id="initech", actor=system)
    workflow = make_workflow(cast.space, slug="sync-stock", name="Sync stock")
    execution = execution_create(
        workflow, version=None, code=workflow.draft_code, input={}, headers={},
        triggered_by="manual", actor=system,
    )  # fmt: skip
    call(cast.space, 30)
    throttled = call(
        cast.space, 10, status="error", http_status=429, customer=customer, execution=execution,
        method="POST", action="createSale", error_code="DATASOURCE_CONNECTION_ERROR",
        error_message="Too many requests",
        url="https://inventory.example.com/api/sale?api_key=key-in-the-url",
        request={"headers": {"Authorization": "Bearer sk_live_leaked",
                             "Accept": "application/json"},
                 "body": {"SKU": "W-1", "Quantity": 3}},
        response={"headers": {"Retry-After": "7", "Set-Cookie": "sid=leaked-cookie",
                              "Content-Type": "application/json"},
                  "body": {"error": "rate_limited"}},
    )  # fmt: skip
    call(cast.space, 5, connector_slug="shopify-store", action="listOrders")
    call(cast.space, 1, connector_slug="shopify-store", action="getShop", status="pending",
         http_status=None)  # fmt: skip
    call(cast.other_space, 2, connector_slug="globex")  # another Space's: never shown

    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/")
    page.locator("nav a.nav-link", has_text="Traces").click()
    expect(page.get_by_role("heading", name="Traces", exact=True)).to_be_visible()
    rows = page.get_by_test_id("trace-row")
    expect(rows).to_have_count(4)
    for tab, count in (("all", 4), ("success", 2), ("error", 1), ("pending", 1)):
        expect(page.get_by_test_id(f"tab-{tab}").locator(".count")).to_have_text(str(count))

    # The Error tab: the one throttled call, its HTTP status beside the chip.
    page.get_by_test_id("tab-error").click()
    expect(page).to_have_url(re.compile(r"tab=error"))
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("trace-status")).to_have_text("Error")
    expect(rows.first.get_by_test_id("trace-http-status")).to_have_text("429")
    expect(rows.first).to_contain_text("Initech")
    expect(rows.first.get_by_test_id("trace-bytes")).to_have_text("512\xa0bytes / 4.0\xa0KB")
    page.get_by_test_id("tab-pending").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("getShop")
    page.get_by_test_id("tab-all").click()
    expect(rows).to_have_count(4)

    # Filter by connector: only the Space's connectors that have traces are offered.
    connector = page.get_by_test_id("filter-connector")
    expect(connector.locator("option")).to_have_text(
        ["All connectors", "Cin7 Core", "Shopify Store"]
    )
    connector.select_option(label="Cin7 Core")
    expect(page).to_have_url(re.compile(r"connector=cin7-core"))
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("tab-all").locator(".count")).to_have_text("2")
    expect(page.get_by_test_id("traces-table")).not_to_contain_text("Shopify Store")

    # The drawer: the request as sent and the service's answer, credentials redacted.
    page.locator(f"[data-trace='{throttled.id}']").get_by_test_id("trace-link").click()
    drawer = page.get_by_test_id("trace-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_test_id("response-status")).to_have_text("429")
    response_headers = drawer.get_by_test_id("response-headers")
    expect(response_headers.locator("tr", has_text="Set-Cookie")).to_contain_text("[REDACTED]")
    expect(response_headers.locator("tr", has_text="Retry-After")).to_contain_text("7")
    request_headers = drawer.get_by_test_id("request-headers")
    expect(request_headers.locator("tr", has_text="Authorization")).to_contain_text("[REDACTED]")
    expect(request_headers.locator("tr", has_text="Accept")).to_contain_text("application/json")
    expect(drawer.get_by_test_id("request-url")).to_contain_text("api_key=[REDACTED]")
    expect(drawer.get_by_test_id("response-body")).to_contain_text("rate_limited")
    expect(drawer.get_by_test_id("detail-error")).to_contain_text("DATASOURCE_CONNECTION_ERROR")
    html = page.content()
    for leaked in ("sk_live_leaked", "leaked-cookie", "key-in-the-url"):
        assert leaked not in html

    # Close it; the list is where it was. The execution link opens the run.
    drawer.locator("[data-close-drawer]").click()
    expect(drawer).to_be_hidden()
    expect(rows).to_have_count(2)
    page.locator(f"[data-trace='{throttled.id}']").get_by_test_id("execution-link").click()
    expect(page).to_have_url(re.compile(rf"/activity/executions/{execution.id}/$"))


# --- End to end: a workflow's calls, written by the runtime, read in the browser --------------

TOKEN = "bearer-token-for-traces-0001"
PULL = (
    "export default async (ctx) => {\n"
    "  const ok = await fastn.connector.acme.getThing({id: 'x1', limit: 5});\n"
    "  let failed = null;\n"
    "  try { await fastn.connector.acme.fail({code: 503}); } catch (e) { failed = e.code; }\n"
    "  return {ok: ok.status, failed};\n"
    "}\n"
)


@pytest.fixture
def service():
    running = FakeService()
    yield running
    running.close()


def test_a_workflows_connector_calls_are_traced_and_read_in_the_drawer(
    live_server, page, cast, celery_worker, service
):
    make_acme(cast.space, service)
    service.require = ("bearer", TOKEN)
    connect(cast.space, "BEARER", {"token": TOKEN}, name="Acme main")
    workflow = make_workflow(cast.space, slug="pull", name="Pull", code=PULL)
    execution = execution_run_sync(workflow, code=PULL, input={}, headers={})
    assert execution.status == "completed", execution.error
    assert execution.output == {"ok": 200, "failed": "DATASOURCE_CONNECTION_ERROR"}

    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/traces/")
    rows = page.get_by_test_id("trace-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("filter-connector").locator("option")).to_have_text(
        ["All connectors", "Acme"]
    )
    page.get_by_test_id("tab-error").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("fail")
    expect(rows.first.get_by_test_id("trace-http-status")).to_have_text("503")
    page.get_by_test_id("tab-success").click()
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("getThing")
    expect(row).to_contain_text("Acme main")
    expect(row.get_by_test_id("execution-link")).to_have_attribute(
        "href", f"/s/{cast.space.slug}/activity/executions/{execution.id}/"
    )
    row.get_by_test_id("trace-link").click()
    drawer = page.get_by_test_id("trace-drawer")
    expect(drawer.get_by_test_id("response-status")).to_have_text("200")
    expect(drawer.get_by_test_id("request-url")).to_contain_text("/things/x1?limit=5")
    auth = drawer.get_by_test_id("request-headers").locator("tr", has_text="authorization")
    expect(auth).to_contain_text("[REDACTED]")
    # The fake service echoes what it received: the token it was sent is redacted there too.
    expect(drawer.get_by_test_id("response-body")).to_contain_text("/things/x1")
    assert TOKEN not in page.content()
