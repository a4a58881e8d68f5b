"""Activity → Executions in a real browser: rows update by themselves, tabs and filters work,
and the detail page shows what ran."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.console.templatetags.formatting import duration
from apps.environments.models import DRAFT
from apps.executions.models import Execution, ExecutionAttempt
from apps.executions.services import execution_create, execution_dispatch, execution_run_sync
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create
from tests.e2e.helpers import browser_login
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SLOW = "export default async (ctx) => { await new Promise(r => setTimeout(r, 2500)); return 1 }"


def test_running_rows_update_without_reload_and_tabs_filter(live_server, page, cast, celery_worker):
    fast = make_workflow(cast.space, slug="fast")
    execution_run_sync(fast, code=fast.draft_code, input={"a": 1}, headers={})
    failing = make_workflow(cast.space, slug="failing", code="export default () => { throw 1 }")
    execution_run_sync(failing, code=failing.draft_code, input={}, headers={})
    slow = make_workflow(cast.space, slug="slow", tier="standard", timeout=30, code=SLOW)
    running = execution_create(
        slow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(running)

    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/")
    table = page.locator("[data-testid=executions-table]")
    expect(table.locator("tbody tr")).to_have_count(3)
    slow_row = table.locator("tr", has_text="Slow")
    expect(slow_row).to_contain_text("Standard")
    expect(slow_row).to_contain_text("Completed", timeout=15_000)  # no reload: htmx polling
    expect(slow_row).to_contain_text("API")

    page.click("[data-testid=tab-failed]")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Failing")
    expect(page.locator("[data-testid=tab-completed] .count")).to_have_text("2")

    page.click("[data-testid=tab-all]")
    page.select_option("select[name=workflow]", label="Fast")
    expect(table.locator("tbody tr")).to_have_count(1)
    table.locator("tr", has_text="Fast").locator("a").first.click()
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Completed")
    expect(page.locator("[data-testid=exec-input]")).to_contain_text('"a": 1')
    expect(page.locator("[data-testid=exec-output]")).to_contain_text('"ok": true')


def test_detail_updates_live_and_cancel_stops_the_run(live_server, page, cast, celery_worker):
    endless = make_workflow(
        cast.space, slug="endless", tier="standard", timeout=60,
        code="export default async () => { console.log('started'); await null; while (true) {} }",
    )  # fmt: skip
    execution = execution_create(
        endless, version=None, code=None, input={"x": 1}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(execution)
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Running", timeout=10_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Cancel')")
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Cancelled", timeout=10_000)
    execution.refresh_from_db()
    assert execution.status == "cancelled" and execution.attempts == 1


def test_open_in_editor_loads_the_code_and_input_that_ran(live_server, page, cast, celery_worker):
    workflow = make_workflow(cast.space, slug="replayed")
    ran = "export default async (ctx) => ({ replayed: ctx.input.n })"
    execution = execution_run_sync(workflow, code=ran, input={"n": 42}, headers={})
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    page.click("[data-testid=open-in-editor]")
    expect(page.locator("[data-testid=replay-banner]")).to_be_visible()
    expect(page.locator("[data-testid=ctx-input]")).to_have_value('{\n  "n": 42\n}')
    expect(page.locator(".view-lines")).to_contain_text("replayed: ctx.input.n", timeout=15_000)
    page.click("[data-testid=run]")
    expect(page.locator("#wf-test-result")).to_contain_text("42", timeout=15_000)


class GatedServer:
    """A loopback HTTP server that holds each request until the test opens its path's gate,
    so a run is known to be in the middle of that call while the test looks at it."""

    def __init__(self, *paths: str) -> None:
        gates = self.gates = {path: threading.Event() for path in paths}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gate = gates.get(self.path)
                if gate is not None:
                    gate.wait(30)
                body = b'{"released": true}'
                self.send_response(200 if gate is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self, path: str) -> None:
        self.gates[path].set()

    def close(self) -> None:
        for gate in self.gates.values():
            gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated():
    server = GatedServer("/one", "/two")
    yield server
    server.close()


LIVE_CODE = """export default async (ctx) => {
  console.log("first line");
  await fastn.state.set("phase", "calling");
  const one = await fastn.connector.http.request({ method: "GET", url: ctx.input.url + "/one" });
  console.log("between the calls " + one.status);
  const two = await fastn.connector.http.request({ method: "GET", url: ctx.input.url + "/two" });
  console.log("last line " + two.status);
  return { released: two.body.released };
}"""


def test_a_running_execution_shows_its_logs_and_steps_as_they_happen(
    live_server, page, cast, celery_worker, gated
):
    workflow = make_workflow(cast.space, slug="live", tier="standard", timeout=30, code=LIVE_CODE)
    execution = execution_create(
        workflow, version=None, code=None, input={"url": gated.url}, headers={},
        triggered_by="api", actor=None,
    )  # fmt: skip
    execution_dispatch(execution)
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    page.evaluate("window.sameDocument = true")
    status = page.locator("[data-testid=exec-status]")
    logs = page.locator("[data-testid=exec-logs]")
    steps = page.locator("[data-testid=exec-steps]")

    # The run is held inside its first HTTP call: what it did so far is on the page.
    expect(logs).to_contain_text("first line", timeout=15_000)
    expect(status).to_have_text("Running")
    expect(steps).to_contain_text("state.set")
    expect(logs).not_to_contain_text("between the calls")
    expect(page.locator("[data-testid=exec-cancel]")).to_be_visible()

    # What comes next is appended: what is shown is not re-rendered (no flicker, an open
    # step stays open).
    steps.locator("details").first.evaluate("el => el.open = true")
    logs.locator(".log").first.evaluate("el => el.dataset.seen = 'yes'")
    gated.release("/one")
    expect(logs).to_contain_text("between the calls 200", timeout=15_000)
    expect(steps).to_contain_text("connector.http.request")
    expect(status).to_have_text("Running")  # held in the second call
    expect(logs.locator(".log[data-seen=yes]")).to_have_count(1)
    expect(steps.locator("details[open]")).to_have_count(1)

    gated.release("/two")
    expect(status).to_have_text("Completed", timeout=15_000)
    expect(logs).to_contain_text("last line 200")
    expect(page.locator("[data-testid=exec-cancel]")).to_have_count(0)
    expect(page.locator("[data-testid=exec-output]")).to_contain_text('"released": true')
    assert page.evaluate("window.sameDocument === true")  # all of it without a reload
    execution.refresh_from_db()
    shown_lines = [line.split(" ", 1)[1] for line in logs.locator(".log").all_inner_texts()]
    assert shown_lines == [entry["message"] for entry in execution.logs]


def test_detail_reads_human_times_and_the_total_across_attempts(
    live_server, page, cast, celery_worker
):
    workflow = make_workflow(
        cast.space, slug="flaky", tier="standard", timeout=10,
        code="""export default async (ctx) => {
          if (ctx.execution.attempt < 3) throw fastn.retryable(new Error("flaky"));
          return { ok: true };
        }""",
        retry_enabled=True, retry_max_attempts=3, retry_initial_interval_ms=100,
    )  # fmt: skip
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(execution)
    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/{execution.id}/")
    expect(page.locator("[data-testid=exec-status]")).to_have_text("Completed", timeout=20_000)

    human = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d ")
    expect(page.locator("[data-testid=exec-queued]")).to_have_text(human)
    facts = page.locator("#exec-facts").inner_text() + page.locator("#live table").inner_text()
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", facts)  # no 16:38:29.854662
    attempts = list(ExecutionAttempt.objects.filter(execution=execution))
    assert len(attempts) == 3
    cell = page.locator("[data-testid=exec-duration]")
    expect(cell).to_contain_text(f"{duration(attempts[-1].duration_ms)} last attempt")
    total = duration(sum(a.duration_ms for a in attempts))
    expect(page.locator("[data-testid=exec-total]")).to_have_text(total)
    expect(cell).to_contain_text("across 3 attempts")
    expect(page.locator("[data-testid=exec-cancel]")).to_have_count(0)


def add_executions(
    space, workflow, count, *, customer=None, environment="live", status="completed"
):
    now = timezone.now()
    Execution.objects.bulk_create(
        Execution(
            space=space, workflow=workflow, workflow_name=workflow.name, tier="instant",
            timeout_seconds=10, triggered_by="api", status=status, customer=customer,
            environment=environment, duration_ms=1500, attempts=1,
            queued_at=now - timedelta(seconds=i + 1), finished_at=now,
        )
        for i in range(count)
    )  # fmt: skip


def test_cancelled_tab_and_customer_and_environment_filters_keep_paging(live_server, page, cast):
    owner = Actor.for_user(cast.owner)
    alpha = customer_create(cast.space, name="Alpha Inc", external_id="alpha-1", actor=owner)
    beta = customer_create(cast.space, name="Beta Ltd", external_id="beta-1", actor=owner)
    alpha_job = make_workflow(cast.space, slug="alpha-job", name="Alpha Job")
    beta_job = make_workflow(cast.space, slug="beta-job", name="Beta Job")
    add_executions(cast.space, alpha_job, 60, customer=alpha)
    add_executions(cast.space, beta_job, 3, customer=beta, environment="test")
    add_executions(cast.space, beta_job, 1, customer=beta, environment=DRAFT, status="cancelled")
    add_executions(cast.space, beta_job, 1, customer=beta, status="failed")
    other_customer = customer_create(
        cast.other_space, name="Globex client", external_id="g-1", actor=owner
    )

    browser_login(page, live_server, "viewer@example.com")
    url = f"{live_server.url}/s/{cast.space.slug}/activity/executions/"
    page.goto(url)
    table = page.locator("[data-testid=executions-table]")
    rows = table.locator("tbody tr")
    expect(page.locator("[data-testid=tab-cancelled] .count")).to_have_text("1")
    expect(page.locator("[data-testid=tab-failed] .count")).to_have_text("1")
    page.click("[data-testid=tab-cancelled]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cancelled")
    page.click("[data-testid=tab-all]")
    expect(rows).to_have_count(50)

    page.select_option("[data-testid=filter-customer]", label="Alpha Inc (alpha-1)")
    expect(page.locator("[data-testid=tab-all] .count")).to_have_text("60")
    expect(rows.filter(has_text="Alpha Job")).to_have_count(50)
    page.click("[data-testid=older]")
    expect(rows).to_have_count(10)
    expect(rows.filter(has_text="Alpha Job")).to_have_count(10)
    assert f"customer={alpha.id}" in page.url
    expect(page.locator("[data-testid=filter-customer]")).to_have_value(str(alpha.id))

    page.select_option("[data-testid=filter-customer]", label="Beta Ltd (beta-1)")
    page.select_option("[data-testid=filter-environment]", label="Test")
    expect(rows).to_have_count(3)
    page.select_option("[data-testid=filter-environment]", value=DRAFT)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cancelled")

    # Values this Space does not offer are ignored, never an error page.
    for query in (
        f"customer={other_customer.id}", "customer=not-a-uuid", "environment=nowhere",
        "before=garbage", "tab=bogus&range=forever",
    ):  # fmt: skip
        response = page.goto(f"{url}?{query}")
        assert response.status == 200, query
        expect(page.locator("[data-testid=tab-all] .count")).to_have_text("65")


def test_durations_and_badges_read_the_same_on_every_page(live_server, page, cast):
    workflow = make_workflow(cast.space, slug="same")
    add_executions(cast.space, workflow, 1, status="completed")
    Execution.objects.filter(workflow=workflow).update(duration_ms=2000)
    add_executions(cast.space, workflow, 1, status="pending")
    browser_login(page, live_server, "viewer@example.com")

    def reads_the_one_way(table):
        completed = table.locator("tr", has_text="Completed")
        expect(completed).to_contain_text("2s")
        expect(completed).not_to_contain_text("2.0s")
        badge = completed.locator(".badge", has_text="Completed")
        expect(badge).to_have_class(re.compile("badge-success"))
        pending = table.locator("tr", has_text="Pending").locator(".badge", has_text="Pending")
        expect(pending).to_have_class(re.compile("badge-neutral"))

    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/executions/")
    reads_the_one_way(page.locator("[data-testid=executions-table]"))
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.click("#tab-executions")
    reads_the_one_way(page.locator("[data-testid=workflow-executions]"))
