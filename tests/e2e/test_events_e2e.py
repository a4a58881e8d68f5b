"""Activity → Events and Activity → Dead letters in a real browser, on the real pipeline: the
webhook receiver of the live server, the `events` threads (publisher, consumers, ticker) on the
real Redis, a real Celery worker and V8. A person follows a webhook to the run it started,
reads why an event was filtered, replays an event, fixes a deployment that sent deliveries to
Dead letters and replays them — one (with a double click) and all matching."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from apps.environments.selectors import environment_by_slug
from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.triggers.models import DeadLetter, Event
from apps.workflows.services import workflow_deploy
from tests.e2e.helpers import browser_login
from tests.triggers import pipeline_fixtures
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RUN = 30_000  # ms: routing, the worker and V8 on a busy machine


# Sends the button's form twice at once (fetch, with the page's cookie and CSRF token).
SUBMIT_TWICE = """async (selector) => {
  const form = document.querySelector(selector).form;
  const post = () => fetch(form.action, {method: "POST", body: new FormData(form)});
  const answers = await Promise.all([post(), post()]);
  return answers.map((answer) => answer.status);
}"""


def send(live_server, trigger, body: dict) -> str:
    """POST the body to the trigger's URL as a sender would; answers the event id."""
    request = urllib.request.Request(
        live_server.url + pipeline_fixtures.webhook_url(trigger),
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "x-shop": "s1"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())["eventId"]


def open_section(page, live_server, cast, name: str, email: str) -> None:
    browser_login(page, live_server, email)
    page.goto(f"{live_server.url}/s/{cast.space.slug}/")
    page.locator("nav a.nav-link", has_text=name).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


def test_a_webhook_event_links_to_its_run_and_replays(
    live_server, page, cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space, "fulfil", name="Fulfil")
    trigger = make_trigger(cast.space, [workflow], name="Shop orders")
    open_section(page, live_server, cast, "Events", "operator@example.com")
    event_id = send(live_server, trigger, {"order": 7})

    # The list follows the event until its run has ended (no reload), then the run opens.
    page.get_by_test_id("refresh").click()
    row = page.locator(f"[data-event='{event_id}']")
    expect(row.get_by_test_id("event-status")).to_have_text("Delivered", timeout=RUN)
    expect(row).to_contain_text("Shop orders")
    expect(row).to_contain_text("Webhook")
    link = row.get_by_test_id("execution-link")
    expect(link).to_contain_text("Completed", timeout=RUN)
    link.click()
    expect(page).to_have_url(re.compile(r"/activity/executions/[0-9a-f-]+/$"))
    expect(page.get_by_test_id("exec-status")).to_have_text("Completed")
    expect(page.get_by_test_id("exec-input")).to_contain_text('"order": 7')

    # The event's page: its headers, payload and routing; Replay sends it through again.
    page.go_back()
    page.locator(f"[data-event='{event_id}']").get_by_test_id("event-link").click()
    expect(page.get_by_test_id("event-id")).to_have_text(event_id)
    expect(page.get_by_test_id("event-headers")).to_contain_text('"x-shop": "s1"')
    expect(page.get_by_test_id("event-body")).to_contain_text('"order"')
    expect(page.get_by_test_id("route-outcome")).to_contain_text("Matched")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("event-replay").click()
    expect(page.locator(".flash")).to_contain_text("Replayed as a new event")
    expect(page.get_by_test_id("replay-of")).to_have_text(event_id)
    replay_run = page.get_by_test_id("execution-link")
    expect(replay_run).to_contain_text("Completed", timeout=RUN)  # polled, no reload
    replay = Event.objects.get(replay_of_id=event_id)
    assert page.get_by_test_id("event-id").inner_text() == str(replay.id)
    assert Execution.objects.filter(workflow=workflow).count() == 2
    replay_run.click()
    expect(page.get_by_test_id("exec-status")).to_have_text("Completed")
    expect(page.locator("body")).to_contain_text("Manual")


def test_a_filtered_event_says_which_filter_refused_it(live_server, page, cast, events_pipeline):
    workflow = make_workflow(cast.space, "orders", name="Orders only")
    only_orders = [{"path": "type", "operator": "eq", "value": "order"}]
    trigger = make_trigger(cast.space, [{"workflow": workflow, "filters": only_orders}],
                           name="Shop events")  # fmt: skip
    open_section(page, live_server, cast, "Events", "viewer@example.com")
    event_id = send(live_server, trigger, {"type": "refund", "total": 12})

    page.get_by_test_id("refresh").click()
    row = page.locator(f"[data-event='{event_id}']")
    expect(row.get_by_test_id("event-status")).to_have_text("Filtered", timeout=RUN)
    page.get_by_test_id("tab-filtered").click()
    expect(page.get_by_test_id("event-row")).to_have_count(1)
    expect(page.get_by_test_id("tab-filtered").locator(".count")).to_have_text("1")
    page.get_by_test_id("event-link").click()

    outcome = page.get_by_test_id("route-outcome")
    expect(outcome).to_contain_text("Orders only")
    expect(outcome.get_by_test_id("outcome-filtered")).to_have_text("Filtered")
    expect(outcome.get_by_test_id("filter-check")).to_contain_text('type eq "order"')
    expect(outcome.get_by_test_id("filter-check")).to_contain_text('failed: the event has "refund"')
    expect(page.get_by_test_id("event-replay")).to_have_count(0)  # a viewer reads only


def test_a_dead_letter_is_replayed_after_the_deployment_is_fixed(
    live_server, page, cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space, "fulfil", name="Fulfil", deploy="test")  # not live
    trigger = make_trigger(cast.space, [{"workflow": workflow, "environment": "live"}],
                           name="Shop orders", max_attempts=1)  # fmt: skip
    event_id = send(live_server, trigger, {"order": 9})
    wait_until(lambda: DeadLetter.objects.filter(delivery__event_id=event_id).exists())
    open_section(page, live_server, cast, "Dead letters", "developer@example.com")

    row = page.get_by_test_id("dead-letter-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("dead-letter-status")).to_have_text("Pending")
    expect(row.get_by_test_id("dead-letter-error")).to_contain_text(
        "The workflow 'Fulfil' is not deployed to 'live'."
    )
    expect(row).to_contain_text("Shop orders")
    expect(row).to_contain_text("execute")

    # The fix: deploy v1 to live from the workflow's editor (the row links to it).
    row.get_by_role("link", name="Fulfil").click()
    page.select_option("[data-testid=deploy-version]", "1")
    page.select_option("[data-testid=deploy-environment]", label="live")
    page.click("button:has-text('Deploy to environment')")
    page.click("[data-testid=confirm-deploy]")
    expect(page.locator(".wf-toast").last).to_contain_text("v1 now serves live")

    # Replay, clicked twice in a row: one run. Chromium sends a double-clicked form once, so
    # the second click is made the way a slow link makes it: the same form, sent again while
    # the first is still in flight.
    page.go_back()  # to Dead letters, as it was before the fix
    page.reload()
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.evaluate(SUBMIT_TWICE, "[data-testid=replay]")
    page.get_by_test_id("replay").dblclick()
    expect(page.locator(".flash").first).to_contain_text(re.compile("Replayed|already replayed"))
    assert len(posts) >= 3 and len(set(posts)) == 1
    page.get_by_test_id("tab-replayed").click()
    row = page.get_by_test_id("dead-letter-row")
    expect(row.get_by_test_id("dead-letter-status")).to_have_text("Replayed")
    row.get_by_test_id("execution-link").click()
    expect(page.get_by_test_id("exec-status")).to_have_text("Completed", timeout=RUN)
    expect(page.get_by_test_id("exec-input")).to_contain_text('"order": 9')
    assert Execution.objects.filter(workflow=workflow).count() == 1
    assert Event.objects.get(pk=event_id).status == "delivered"
    page.goto(f"{live_server.url}/s/{cast.space.slug}/activity/events/{event_id}/")
    expect(page.get_by_test_id("event-status")).to_have_text("Delivered")


def test_replay_all_matching_replays_both_dead_letters(
    live_server, page, cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space, "fulfil", name="Fulfil", deploy="test")
    trigger = make_trigger(cast.space, [{"workflow": workflow, "environment": "live"}],
                           name="Shop orders", max_attempts=1)  # fmt: skip
    other = make_trigger(cast.space, [{"workflow": workflow, "environment": "live"}],
                         name="Other shop", max_attempts=1)  # fmt: skip
    for body in ({"order": 1}, {"order": 2}):
        send(live_server, trigger, body)
    send(live_server, other, {"order": 3})
    wait_until(lambda: DeadLetter.objects.count() == 3)
    deploy_live(workflow)
    open_section(page, live_server, cast, "Dead letters", "operator@example.com")
    expect(page.get_by_test_id("tab-pending").locator(".count")).to_have_text("3")

    page.get_by_test_id("filter-trigger").select_option(label="Shop orders")
    expect(page.get_by_test_id("dead-letter-row")).to_have_count(2)
    button = page.get_by_test_id("replay-all")
    expect(button).to_have_text(re.compile(r"Replay all matching \(2\)"))
    asked = []

    def confirm(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    button.click()
    expect(page.locator(".flash")).to_contain_text("Replayed 2 dead letters")
    assert asked == ["Replay 2 pending dead letters matching these filters? Each one's run "
                     "starts again."]  # fmt: skip
    expect(page.get_by_test_id("dead-letter-row")).to_have_count(0)  # none pending for it
    page.get_by_test_id("tab-replayed").click()
    links = page.get_by_test_id("execution-link")
    expect(links).to_have_count(2)
    wait_until(lambda: Execution.objects.filter(workflow=workflow, status="completed").count() == 2)
    assert Execution.objects.filter(workflow=workflow).count() == 2
    # The other trigger's dead letter was not part of the filter.
    assert DeadLetter.objects.get(delivery__trigger=other).status == "pending"


def deploy_live(workflow) -> None:
    """The fix, when another test has shown it done in the editor: v1 deployed to live."""
    version = workflow.versions.get(number=1)
    live = environment_by_slug(workflow.space, "live")
    workflow_deploy(workflow, version=version, environment=live, actor=Actor.system("test"))
