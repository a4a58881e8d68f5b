"""Integrations → Triggers in a real browser, as a person uses it: the three tabs, adding a
webhook with routes, headers and filters (and surviving a validation error), the row menu
(Copy URL, Copy as cURL, Disable, Delete), a scheduler with its presets, live preview and
Trigger Now, an app event with its subscription, a trigger's page with signing, Send test event
and the request inspector, the Space's time zone, and what each role may do."""

from __future__ import annotations

import json
import re
import shlex
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from apps.secrets.crypto import new_master_key_entry
from apps.secrets.services import secret_resolve
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from apps.triggers.models import Event, Source, Trigger
from tests.e2e.helpers import browser_login
from tests.triggers.ui_helpers import (
    make_connection,
    make_scheduler,
    make_webhook,
    make_workflow,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def master_key(settings):
    settings.FASTN_MASTER_KEY = new_master_key_entry("triggers-e2e")


def open_triggers(page, live_server, cast, email="owner@example.com"):
    browser_login(page, live_server, email)
    page.goto(f"{live_server.url}/s/{cast.space.slug}/")
    page.locator("nav a.nav-link", has_text="Triggers").click()
    expect(page.get_by_role("heading", name="Triggers", exact=True)).to_be_visible()


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def live_key(space) -> str:
    return apikey_create(space, name="Sender", mode="live", actor=Actor.system("test"))[1]


def run_curl(command: str, api_key: str) -> tuple[int, dict]:
    """Do what the copied cURL command does (its URL, headers and body), with a real key."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:3] == ["curl", "-X", "POST"]
    url, headers, body = words[3], {}, b""
    for flag, value in zip(words[4::2], words[5::2], strict=True):
        if flag == "-H":
            name, _, text = value.partition(": ")
            headers[name] = text.replace("YOUR_API_KEY", api_key)
        elif flag == "-d":
            body = value.encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def row_menu(page, name):
    row = page.locator("[data-testid=trigger-row]", has_text=name)
    row.locator("details.row-menu > summary").click()
    return row.locator(".menu-panel")


# --- The page and the webhook form ---------------------------------------------------------


def test_add_a_webhook_with_routes_and_filters_and_survive_a_validation_error(
    live_server, page, cast
):
    make_workflow(cast.space, "Fulfil order", "fulfil-order")
    make_workflow(cast.space, "Notify", "notify")
    open_triggers(page, live_server, cast)
    expect(
        page.get_by_text("Manage webhook and scheduler triggers for your workflows.")
    ).to_be_visible()
    for tab in ("Webhooks (0)", "Schedulers (0)", "App Events (0)"):
        expect(page.locator(".tabs")).to_contain_text(tab)

    page.get_by_role("link", name="Add Trigger").click()
    expect(page.get_by_role("heading", name="Select trigger type")).to_be_visible()
    for card in ("Webhook", "Scheduler", "App Event"):
        expect(page.get_by_role("heading", name=card, exact=True)).to_be_visible()
    page.get_by_test_id("type-webhook").click()

    page.fill("input[name=name]", "Shop orders")
    page.fill("textarea[name=description]", "Orders from the shop")
    routes = page.get_by_test_id("route")
    first = routes.nth(0)
    first.locator("select[name$=-workflow]").select_option(label="Fulfil order")
    first.locator("select[name$=-environment]").select_option("test")
    first.get_by_role("button", name="Add header").click()
    first.locator("input[name$=-header-name]").fill("x-source")
    first.locator("input[name$=-header-value]").fill("shop")
    first.get_by_role("button", name="Add filter").click()
    first.locator("input[name$=-filter-path]").nth(0).fill("type")
    first.locator("input[name$=-filter-value]").nth(0).fill("order.created")
    first.get_by_role("button", name="Add filter").click()
    first.locator("input[name$=-filter-path]").nth(1).fill("amount")
    first.locator("select[name$=-filter-operator]").nth(1).select_option("gt")
    first.locator("input[name$=-filter-value]").nth(1).fill("lots")

    # A second route, then a third that is removed again.
    page.get_by_role("button", name="Add route").click()
    page.get_by_role("button", name="Add route").click()
    expect(routes).to_have_count(3)
    routes.nth(2).get_by_role("button", name="Remove route").click()
    expect(routes).to_have_count(2)
    routes.nth(1).locator("select[name$=-workflow]").select_option(label="Notify")

    page.locator("details[data-testid=advanced] > summary").click()
    page.fill("input[name=webhook_id]", "shop-orders")
    page.check("input[name=auth][value=api-key]")
    page.check("input[name=execution_mode][value=sequential]")
    page.fill("input[name=dedup_path]", "data.id")
    page.fill("input[name=max_attempts]", "5")
    page.select_option("select[name=backoff]", "linear")
    page.get_by_test_id("save-trigger").click()

    # The error is on the row at fault; every row and route is still there, as typed.
    error = page.locator(".filter-row .row-error")
    expect(error).to_contain_text("compares numbers")
    expect(routes).to_have_count(2)
    first = routes.nth(0)
    expect(first.locator("input[name$=-header-value]")).to_have_value("shop")
    expect(first.locator("input[name$=-filter-value]").nth(0)).to_have_value("order.created")
    expect(first.locator("input[name$=-filter-value]").nth(1)).to_have_value("lots")
    expect(routes.nth(1).locator("select[name$=-workflow] option:checked")).to_have_text("Notify")
    assert not Trigger.objects.exists()

    first.locator("input[name$=-filter-value]").nth(1).fill("100")
    page.get_by_test_id("save-trigger").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Shop orders created")
    trigger = Trigger.objects.get()
    assert (trigger.webhook_id, trigger.execution_mode, trigger.max_attempts) == (
        "shop-orders", "sequential", 5,
    )  # fmt: skip
    saved = list(trigger.routes.order_by("position"))
    assert [r.workflow.name for r in saved] == ["Fulfil order", "Notify"]
    assert saved[0].filters == [
        {"path": "type", "operator": "eq", "value": "order.created"},
        {"path": "amount", "operator": "gt", "value": 100},
    ]
    assert saved[0].headers == {"x-source": "shop"}

    # Back on the list: the row with its columns.
    page.locator(".eyebrow a", has_text="Triggers").click()
    expect(page.locator(".tabs")).to_contain_text("Webhooks (1)")
    row = page.locator("[data-testid=trigger-row]", has_text="Shop orders")
    for text in ("All tenants", "Webhook", "Sequential", "Active", "API key"):
        expect(row).to_contain_text(text)
    expect(row.get_by_test_id("routes")).to_have_text("2")


def test_copy_url_and_copy_as_curl_give_a_working_command(live_server, page, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space), name="Shop orders")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    open_triggers(page, live_server, cast)
    url = f"{live_server.url}/api/v1/clients/{cast.space.id}/webhooks/{trigger.webhook_id}"

    row_menu(page, "Shop orders").get_by_role("button", name="Copy URL").click()
    expect(page.locator("[data-copied=true]")).to_have_count(1)
    assert clipboard(page) == url

    row_menu(page, "Shop orders").get_by_role("button", name="Copy as cURL").click()
    expect(page.locator("[data-copied=true]")).to_have_count(2)
    command = clipboard(page)
    assert command.startswith(f"curl -X POST {url}")
    assert "-H 'Content-Type: application/json'" in command
    assert "-H 'x-fastn-key: YOUR_API_KEY'" in command
    assert re.search(r"-d '\{.*\}'$", command)

    # The command works: its URL, headers and body, with a real key for the placeholder, are
    # accepted by the receiver; the trigger's page shows the request without a reload.
    page.goto(f"{live_server.url}/s/{cast.space.slug}/triggers/{trigger.id}/")
    expect(page.get_by_test_id("requests-table")).to_contain_text("No requests yet")
    status, answer = run_curl(command, live_key(cast.space))
    assert status == 202 and answer["status"] == "accepted"
    event = Event.objects.get(pk=answer["eventId"])
    assert event.source == Source.WEBHOOK and event.trigger == trigger
    row = page.get_by_test_id("request-row").first
    expect(row).to_contain_text("202", timeout=15000)
    expect(row).to_contain_text("Accepted")
    expect(row).to_contain_text(str(event.id))


def test_disable_filter_by_status_enable_and_delete(live_server, page, cast):
    echo = make_workflow(cast.space)
    make_webhook(cast.space, echo, name="Shop orders")
    make_webhook(cast.space, echo, name="Refunds")
    open_triggers(page, live_server, cast)

    row_menu(page, "Refunds").get_by_role("button", name="Disable").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Refunds disabled")
    row = page.locator("[data-testid=trigger-row]", has_text="Refunds")
    expect(row.get_by_test_id("status")).to_have_text("Disabled")

    page.get_by_test_id("status-filter").select_option(label="Disabled")
    expect(page.locator("[data-testid=trigger-row]")).to_have_count(1)
    expect(page.locator(".tabs")).to_contain_text("Webhooks (1)")
    page.get_by_test_id("status-filter").select_option(label="Active")
    expect(page.locator("[data-testid=trigger-row]")).to_have_text(re.compile("Shop orders"))
    page.get_by_test_id("status-filter").select_option(label="All statuses")
    page.fill("#trigger-q", "refu")
    expect(page.locator("[data-testid=trigger-row]")).to_have_count(1)
    page.fill("#trigger-q", "")
    expect(page.locator("[data-testid=trigger-row]")).to_have_count(2)

    row_menu(page, "Refunds").get_by_role("button", name="Enable").click()
    expect(
        page.locator("[data-testid=trigger-row]", has_text="Refunds").get_by_test_id("status")
    ).to_have_text("Active")

    page.once("dialog", lambda dialog: dialog.accept())
    row_menu(page, "Refunds").get_by_role("button", name="Delete").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Refunds deleted")
    expect(page.locator("[data-testid=trigger-row]")).to_have_count(1)
    assert list(Trigger.objects.values_list("name", flat=True)) == ["Shop orders"]


# --- Schedulers -----------------------------------------------------------------------------


def test_a_scheduler_with_presets_live_preview_payload_check_and_trigger_now(
    live_server, page, cast
):
    make_workflow(cast.space, "Report", "report")
    open_triggers(page, live_server, cast)
    page.get_by_role("link", name="Add Trigger").click()
    page.get_by_test_id("type-scheduler").click()
    preview = page.get_by_test_id("schedule-preview")

    # Interval is the default: the preview follows what is typed.
    expect(preview.get_by_test_id("schedule-words")).to_have_text(re.compile("5 minutes"))
    page.fill("input[name=every]", "2")
    page.select_option("select[name=unit]", "hours")
    expect(preview.get_by_test_id("schedule-words")).to_have_text(re.compile("2 hours"))
    expect(preview.locator("[data-testid=next-runs] li")).to_have_count(5)

    # Weekly: day toggles and a time; the time field shows, the interval fields hide.
    page.locator(".segment", has_text="Weekly").click()
    expect(page.locator("input[name=every]")).to_be_hidden()
    expect(page.get_by_role("checkbox", name="Monday")).to_be_checked()  # the default
    for day in ("Wednesday", "Friday"):
        page.get_by_role("checkbox", name=day).check()
    expect(preview.get_by_test_id("schedule-words")).to_contain_text("Friday")
    page.fill("input[name=time]", "09:30")
    page.select_option("select[name=timezone]", "America/New_York")
    expect(preview).to_contain_text("America/New_York")
    expect(preview.locator("[data-testid=next-runs] li").first).to_contain_text("09:30")

    # Custom: a bad cron expression is explained in the preview and on submit.
    page.locator(".segment", has_text="Custom").click()
    page.fill("input[name=cron]", "*/15 * *")
    expect(preview.get_by_test_id("schedule-error")).to_be_visible()

    page.fill("input[name=name]", "Morning report")
    route = page.get_by_test_id("route").first
    route.locator("select[name$=-workflow]").select_option(label="Report")
    route.locator("textarea[name$=-payload]").fill('{\n  "report": "daily",,\n}')
    page.get_by_test_id("save-trigger").click()
    expect(page.get_by_test_id("payload-error")).to_contain_text(
        "Payload: invalid JSON at line 2, column 21"
    )
    expect(page.locator("input[name=cron]")).to_have_value("*/15 * *")
    page.fill("input[name=cron]", "*/15 9-17 * * 1-5")
    page.get_by_test_id("route").first.locator("textarea[name$=-payload]").fill(
        '{"report": "daily"}'
    )
    page.get_by_test_id("save-trigger").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Morning report created")
    trigger = Trigger.objects.get()
    assert trigger.schedule["cron"] == "*/15 9-17 * * 1-5"
    assert trigger.schedule["timezone"] == "America/New_York"

    page.locator(".eyebrow a", has_text="Triggers").click()
    expect(page.locator(".tabs")).to_contain_text("Schedulers (1)")
    row = page.locator("[data-testid=trigger-row]", has_text="Morning report")
    expect(row).to_contain_text("America/New_York")
    expect(row.get_by_test_id("last-run")).to_have_text("Never")
    row.get_by_role("button", name="Trigger Now").click()
    expect(page.locator(".flash")).to_contain_text("Triggered Morning report: event")
    event = Event.objects.get()
    assert event.source == Source.MANUAL and event.trigger == trigger


def test_the_space_time_zone_is_the_default_of_new_schedules(live_server, page, cast):
    browser_login(page, live_server, "owner@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/")
    page.locator("nav a.nav-link", has_text="General").click()
    page.select_option("select[name=time_zone]", "Asia/Tokyo")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash")).to_contain_text("Settings saved")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/triggers/new/scheduler/")
    expect(page.locator("select[name=timezone]")).to_have_value("Asia/Tokyo")


# --- App events -----------------------------------------------------------------------------


def test_an_app_event_trigger_from_the_http_connector(live_server, page, cast):
    make_workflow(cast.space, "Ingest", "ingest")
    open_triggers(page, live_server, cast)
    page.get_by_role("link", name="Add Trigger").click()
    page.get_by_test_id("type-app-event").click()
    expect(page.get_by_test_id("no-connection-needed")).to_contain_text("needs no connection")
    expect(page.get_by_test_id("no-connection")).to_have_count(0)
    page.fill("input[name=name]", "Inbound leads")
    expect(page.locator("input[name=event_name][value=inbound-webhook]")).to_be_checked()
    page.get_by_test_id("route").first.locator("select[name$=-workflow]").select_option(
        label="Ingest"
    )
    page.get_by_test_id("save-trigger").click()
    expect(page.locator(".flash")).to_contain_text("Trigger Inbound leads created")
    trigger = Trigger.objects.get()
    inbound = f"{live_server.url}/api/v1/clients/{cast.space.id}/webhooks/{trigger.webhook_id}"
    expect(page.locator("#trigger-url")).to_have_value(inbound)
    expect(page.get_by_test_id("subscription")).to_have_text("Subscribed")

    page.locator(".eyebrow a", has_text="Triggers").click()  # back to the App Events tab
    expect(page.get_by_test_id("tab-app-event")).to_have_attribute("aria-current", "page")
    row = page.locator("[data-testid=trigger-row]", has_text="Inbound leads")
    expect(row).to_contain_text(inbound)
    expect(row.get_by_test_id("subscription")).to_have_text("Subscribed")
    row_menu(page, "Inbound leads").get_by_role("button", name="Retry Subscription").click()
    expect(page.locator(".flash")).to_contain_text("is Subscribed")


def test_a_shopify_app_event_with_a_connection_turns_subscribed_when_an_event_arrives(
    live_server, page, cast
):
    make_workflow(cast.space, "Ingest", "ingest")
    make_connection(cast.space, "Acme shop")
    open_triggers(page, live_server, cast)
    page.get_by_role("link", name="Add Trigger").click()
    page.get_by_test_id("type-app-event").click()
    # Slack has events but no connection in this Space: say so, and link to connect it.
    page.get_by_test_id("connector-select").select_option(label="Slack")
    expect(page.get_by_test_id("no-connection")).to_contain_text(
        "No active connection found for this connector. Connect first to use it as a trigger "
        "source."
    )
    expect(page.get_by_test_id("connect-link")).to_have_attribute(
        "href", f"/s/{cast.space.slug}/connections/new/?connector=slack"
    )
    page.get_by_test_id("connector-select").select_option(label="Shopify")
    expect(page.get_by_test_id("no-connection")).to_have_count(0)
    page.get_by_test_id("connection-select").select_option(label="Acme shop (Space-wide)")
    event = page.locator("[data-testid=event-row][data-event='orders/create']")
    expect(event).to_contain_text("Order created")
    expect(event).to_contain_text("WEBHOOK")
    expect(event).to_contain_text("Not Subscribed")
    event.get_by_text("Payload Schema").click()
    expect(event.locator("pre")).to_contain_text("admin_graphql_api_id")
    event.locator("input[type=radio]").check()
    page.fill("input[name=name]", "New orders")
    page.get_by_test_id("route").first.locator("select[name$=-workflow]").select_option(
        label="Ingest"
    )
    page.get_by_test_id("save-trigger").click()
    expect(page.locator(".flash")).to_contain_text("Trigger New orders created")
    expect(page.get_by_test_id("subscription")).to_have_text("Not Subscribed")
    expect(page.get_by_test_id("subscription-instruction")).to_contain_text(
        "Register this URL as a webhook for Order created (orders/create) in Shopify."
    )
    expect(page.get_by_test_id("trigger-connection")).to_contain_text("Acme shop")
    page.get_by_role("button", name="Retry Subscription").click()
    expect(page.locator(".flash")).to_contain_text("The connection is active.")
    expect(page.get_by_test_id("subscription")).to_have_text("Not Subscribed")

    # Shopify posts its first order to the inbound URL shown on the page.
    inbound = page.locator("#trigger-url").input_value()
    request = urllib.request.Request(
        inbound, data=json.dumps({"id": 820982911946154508}).encode(),
        headers={"content-type": "application/json", "x-shopify-topic": "orders/create",
                 "x-fastn-key": live_key(cast.space)},
        method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    page.reload()
    expect(page.get_by_test_id("subscription")).to_have_text("Subscribed")
    expect(page.get_by_test_id("subscription-instruction")).to_have_count(0)
    assert Event.objects.get().source == Source.APP_EVENT


# --- A trigger's page -----------------------------------------------------------------------


def test_signing_secret_is_shown_once_rotated_with_a_grace_period_and_removed(
    live_server, page, cast
):
    trigger = make_webhook(cast.space, make_workflow(cast.space), name="Shop orders")
    open_triggers(page, live_server, cast)
    page.get_by_role("link", name="Shop orders").click()
    signing = page.get_by_test_id("signing")
    expect(signing).to_contain_text("Off")

    signing.get_by_role("button", name="Enable signing").click()
    reveal = page.get_by_test_id("new-secret")
    expect(reveal).to_contain_text("It will not be shown again")
    first = page.locator("#new-secret").input_value()
    trigger.refresh_from_db()
    assert secret_resolve(cast.space, name=trigger.signing_secret_name)[1] == first

    # The address is the trigger's page: reloading shows it again, without the secret.
    expect(page).to_have_url(f"{live_server.url}/s/{cast.space.slug}/triggers/{trigger.id}/")
    page.reload()
    expect(page.get_by_test_id("signing")).to_contain_text("On")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert first not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("signing").get_by_role("button", name="Rotate").click()
    expect(page.get_by_test_id("new-secret")).to_contain_text("24 hours")
    second = page.locator("#new-secret").input_value()
    assert second != first and first not in page.content()
    page.reload()
    expect(page.get_by_test_id("previous-valid")).to_contain_text(
        "previous secret is also accepted"
    )

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("signing").get_by_role("button", name="Remove").click()
    expect(page.locator(".flash")).to_contain_text("Signing removed")
    expect(page.get_by_test_id("signing")).to_contain_text("Off")
    assert not Trigger.objects.get().signing_secret_name


def test_send_test_event_shows_the_event_then_the_run_it_started(
    live_server, page, cast, celery_worker, events_pipeline
):
    trigger = make_webhook(cast.space, make_workflow(cast.space), name="Shop orders")
    browser_login(page, live_server, "operator@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/triggers/{trigger.id}/")
    expect(page.get_by_test_id("curl")).to_contain_text("x-fastn-key: YOUR_API_KEY")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)  # operators don't build

    box = page.get_by_test_id("send-test-event")
    box.locator("textarea[name=body]").fill('{"type": "order.created",}')
    box.get_by_role("button", name="Send test event").click()
    expect(box.locator(".field-error")).to_contain_text("Body: invalid JSON at line 1")
    box.locator("textarea[name=body]").fill('{"type": "order.created"}')
    box.get_by_role("button", name="Send test event").click()
    expect(box.get_by_test_id("event-id")).to_be_visible()
    stored = Event.objects.get()
    assert box.get_by_test_id("event-id").inner_text() == str(stored.id)
    assert stored.source == Source.TEST and stored.payload == {"type": "order.created"}

    # Once routed, the run it started appears, and ends, without a reload.
    result = box.get_by_test_id("test-result")
    expect(result).to_have_attribute("data-status", "delivered", timeout=30000)
    link = result.get_by_test_id("execution-link")
    expect(link).to_contain_text("Completed", timeout=30000)
    link.click()
    expect(page).to_have_url(re.compile(r"/activity/executions/[0-9a-f-]+/$"))
    expect(page.locator("body")).to_contain_text("order.created")


def test_the_request_inspector_shows_refused_requests_as_they_arrive(live_server, page, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space), name="Shop orders")
    browser_login(page, live_server, "viewer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/triggers/{trigger.id}/")
    expect(page.get_by_test_id("send-test-event")).to_contain_text("can't send test events")
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/clients/{cast.space.id}/webhooks/{trigger.webhook_id}",
        data=b"{}", headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    row = page.get_by_test_id("request-row").first
    expect(row).to_contain_text("401", timeout=15000)
    expect(row).to_contain_text("API key")


# --- Roles ----------------------------------------------------------------------------------


def test_a_viewer_reads_the_triggers_but_has_no_controls(live_server, page, cast):
    echo = make_workflow(cast.space)
    make_webhook(cast.space, echo, name="Shop orders")
    make_scheduler(cast.space, echo, name="Nightly")
    open_triggers(page, live_server, cast, "viewer@example.com")
    expect(page.get_by_role("link", name="Add Trigger")).to_have_count(0)
    menu = row_menu(page, "Shop orders")
    expect(menu.get_by_role("button", name="Copy URL")).to_be_visible()
    expect(menu.get_by_role("button", name="Delete")).to_have_count(0)
    page.get_by_test_id("tab-scheduler").click()
    expect(page.locator("[data-testid=trigger-row]", has_text="Nightly")).to_be_visible()
    expect(page.get_by_role("button", name="Trigger Now")).to_have_count(0)
    page.goto(f"{live_server.url}/s/{cast.space.slug}/triggers/new/webhook/")
    expect(page.locator("[data-testid=forbidden]")).to_be_visible()
