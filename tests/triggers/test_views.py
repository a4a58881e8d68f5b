"""Integrations → Triggers through the test client: the tabs and their columns, the forms
(rows kept after an error, errors on the row at fault), permissions by role, tenancy (another
Space's trigger is a 404), and a signing secret in exactly one response."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create, space_update
from apps.triggers import services
from apps.triggers.filters import OPERATORS
from apps.triggers.models import Event, Kind, Source, Trigger, WebhookRequest
from apps.triggers.receive import request_log
from apps.triggers.signatures import sign_fastn
from apps.workflows.models import Workflow
from tests.conftest import login
from tests.triggers.ui_helpers import (  # noqa: F401 (master_key is a fixture)
    SYSTEM,
    make_app_event,
    make_connection,
    make_scheduler,
    make_webhook,
    make_workflow,
    master_key,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("master_key")]


def url(name, space, **kwargs):
    return reverse(name, kwargs={"space_slug": space.slug, **kwargs})


def webhook_post(workflow, **overrides) -> dict:
    data = {
        "name": "Orders",
        "description": "",
        "webhook_id": "orders-in",
        "auth": "api-key",
        "execution_mode": "parallel",
        "dedup_path": "",
        "dead_letter_enabled": "on",
        "max_attempts": "3",
        "backoff": "exponential",
        "route": ["n0"],
        "route-n0-workflow": str(workflow.id),
        "route-n0-environment": "live",
        "route-n0-header-name": ["x-source"],
        "route-n0-header-value": ["shop"],
        "route-n0-filter-path": ["type", "amount"],
        "route-n0-filter-operator": ["eq", "gt"],
        "route-n0-filter-value": ["order.created", "100"],
    }
    data.update(overrides)
    return data


def scheduler_post(workflow, **overrides) -> dict:
    data = {
        "name": "Nightly",
        "preset": "daily",
        "every": "5",
        "unit": "minutes",
        "time": "02:30",
        "day": "1",
        "cron": "",
        "starts_at": "",
        "timezone": "Europe/Paris",
        "catch_up": "skip",
        "overlap": "allow",
        "route": ["n0"],
        "route-n0-workflow": str(workflow.id),
        "route-n0-environment": "test",
        "route-n0-payload": '{"report": "daily"}',
    }
    data.update(overrides)
    return data


# --- The page -------------------------------------------------------------------------------


def test_the_page_has_the_header_the_tabs_with_counts_and_the_webhook_columns(client, cast):
    echo = make_workflow(cast.space)
    make_webhook(cast.space, echo)
    make_webhook(cast.space, echo, name="Refunds")
    make_scheduler(cast.space, echo)
    login(client, cast.viewer)
    html = client.get(url("triggers", cast.space)).content.decode()
    assert "Manage webhook and scheduler triggers for your workflows." in html
    for tab in ("Webhooks (2)", "Schedulers (1)", "App Events (0)"):
        assert tab in html
    for column in ("Name", "Tenant", "Type", "Status", "Auth", "Routes", "Created"):
        assert f"<th>{column}</th>" in html
    assert "Copy as cURL" in html and "Refunds" in html
    assert "Add Trigger" not in html  # a viewer builds nothing


def test_the_schedulers_tab_shows_the_schedule_in_words_and_the_next_run_in_its_zone(client, cast):
    make_scheduler(cast.space, make_workflow(cast.space))
    login(client, cast.operator)
    html = client.get(url("triggers", cast.space) + "?kind=scheduler").content.decode()
    for column in ("Schedule", "Next run", "Last run", "Failures", "Timezone"):
        assert f"<th>{column}</th>" in html
    assert "Every 5 minutes" in html
    assert "Europe/Paris" in html
    assert "Trigger Now" in html  # an operator may


def test_the_app_events_tab_shows_the_inbound_url_and_the_subscription(client, cast):
    trigger = make_app_event(cast.space, make_workflow(cast.space))
    login(client, cast.owner)
    html = client.get(url("triggers", cast.space) + "?kind=app-event").content.decode()
    for column in ("Connector", "Event", "Webhook URL", "Subscription"):
        assert f"<th>{column}</th>" in html
    assert f"/api/v1/clients/{cast.space.id}/webhooks/{trigger.webhook_id}" in html
    assert "Subscribed" in html and "Retry Subscription" in html


def test_search_and_status_filter_narrow_the_rows_and_the_counts(client, cast):
    echo = make_workflow(cast.space)
    make_webhook(cast.space, echo, name="Orders")
    refunds = make_webhook(cast.space, echo, name="Refunds")
    services.trigger_set_enabled(refunds, enabled=False, actor=SYSTEM)
    login(client, cast.viewer)
    html = client.get(url("triggers", cast.space) + "?status=disabled").content.decode()
    assert "Refunds" in html and ">Orders<" not in html and "Webhooks (1)" in html
    html = client.get(url("triggers", cast.space) + "?q=ord").content.decode()
    assert ">Orders<" in html and "Refunds" not in html
    partial = client.get(url("triggers", cast.space) + "?q=ord", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "Orders" in partial.content.decode()


@pytest.mark.parametrize("kind", ["webhook", "scheduler", "app-event"])
def test_a_tab_makes_as_many_queries_for_eight_triggers_as_for_two(client, cast, kind):
    echo = make_workflow(cast.space)
    make = {"webhook": make_webhook, "scheduler": make_scheduler, "app-event": make_app_event}
    login(client, cast.viewer)
    client.get(url("triggers", cast.space))  # the session's first request writes more
    counts = []
    for total in (2, 8):
        while Trigger.objects.filter(kind=kind).count() < total:
            make[kind](cast.space, echo, name=f"T{Trigger.objects.count()}")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("triggers", cast.space) + f"?kind={kind}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_bad_query_string_is_ignored_not_an_error(client, cast):
    login(client, cast.viewer)
    response = client.get(url("triggers", cast.space) + "?kind=nope&status=x&page=zz")
    assert response.status_code == 200


def test_add_trigger_offers_the_three_types(client, cast):
    login(client, cast.developer)
    html = client.get(url("trigger_new", cast.space)).content.decode()
    assert "Select trigger type" in html
    for card in ("Webhook", "Scheduler", "App Event"):
        assert f"<h2>{card}</h2>" in html


# --- Webhook form ---------------------------------------------------------------------------


def test_creating_a_webhook_saves_routes_headers_and_filters(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    response = client.post(url("trigger_new_webhook", cast.space), webhook_post(echo))
    trigger = Trigger.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("trigger_detail", cast.space, trigger_id=trigger.id)
    route = trigger.routes.get()
    assert (route.workflow, route.environment, route.headers) == (
        echo,
        "live",
        {"x-source": "shop"},
    )
    assert route.filters == [
        {"path": "type", "operator": "eq", "value": "order.created"},
        {"path": "amount", "operator": "gt", "value": 100},
    ]
    assert trigger.webhook_id == "orders-in" and trigger.created_by_label == "developer@example.com"


def test_a_bad_filter_row_is_shown_on_its_row_and_every_row_is_kept(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    data = webhook_post(
        echo,
        **{
            "route": ["n0", "n1"],
            "route-n0-filter-path": ["type", "data..id", "amount"],
            "route-n0-filter-operator": ["eq", "eq", "gt"],
            "route-n0-filter-value": ["order.created", "5", "lots"],
            "route-n1-workflow": str(echo.id),
            "route-n1-environment": "test",
            "route-n1-header-name": ["bad header"],
            "route-n1-header-value": ["x"],
        },
    )
    response = client.post(url("trigger_new_webhook", cast.space), data)
    html = response.content.decode()
    assert response.status_code == 200 and not Trigger.objects.exists()
    # Every row is back, as typed.
    for typed in ('value="data..id"', 'value="lots"', 'value="order.created"', 'value="bad header"',
                  'value="x-source"'):  # fmt: skip
        assert typed in html
    assert html.count('data-testid="route"') == 2 + 1  # two routes and the template's
    assert 'data-field="path"' in html and 'data-field="value"' in html
    assert "compares numbers" in html  # gt with a word
    assert "A header name is" in html


def test_a_route_is_required_and_a_workflow_of_another_space_is_not_a_choice(client, cast):
    echo, theirs = make_workflow(cast.space), make_workflow(cast.other_space)
    login(client, cast.developer)
    data = webhook_post(echo)
    del data["route"]
    html = client.post(url("trigger_new_webhook", cast.space), data).content.decode()
    assert "Add at least one route" in html
    data = webhook_post(echo, **{"route-n0-workflow": str(theirs.id)})
    html = client.post(url("trigger_new_webhook", cast.space), data).content.decode()
    assert "Select a valid choice" in html
    assert not Trigger.objects.exists()


def test_a_taken_webhook_id_is_refused_on_the_field(client, cast):
    echo = make_workflow(cast.space)
    make_webhook(cast.space, echo, webhook_id="orders-in")
    login(client, cast.developer)
    html = client.post(url("trigger_new_webhook", cast.space), webhook_post(echo)).content.decode()
    assert "The Webhook ID orders-in is taken in this Space." in html
    assert Trigger.objects.count() == 1


def test_editing_shows_the_saved_rows_and_keeps_the_route(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    client.post(url("trigger_new_webhook", cast.space), webhook_post(echo))
    trigger = Trigger.objects.get()
    route = trigger.routes.get()
    edit = url("trigger_edit", cast.space, trigger_id=trigger.id)
    html = client.get(edit).content.decode()
    assert 'value="order.created"' in html and 'value="100"' in html and 'value="shop"' in html
    key = f"r{route.id}"
    data = webhook_post(echo, name="Orders v2", route=[key])
    data = {k.replace("route-n0-", f"route-{key}-"): v for k, v in data.items()}
    data[f"route-{key}-id"] = str(route.id)
    assert client.post(edit, data).status_code == 302
    trigger.refresh_from_db()
    assert trigger.name == "Orders v2" and trigger.routes.get().id == route.id


def test_create_with_signing_shows_the_secret_once(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    response = client.post(
        url("trigger_new_webhook", cast.space), webhook_post(echo, enable_signing="on")
    )
    html = response.content.decode()
    trigger = Trigger.objects.get()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "It will not be shown again" in html
    secret = html.split('id="new-secret" readonly value="')[1].split('"')[0]
    assert secret.startswith("whsec_")
    again = client.get(url("trigger_detail", cast.space, trigger_id=trigger.id)).content.decode()
    assert secret not in again and trigger.signing_secret_name in again
    assert secret not in str(list(AuditEvent.objects.values()))


def test_rotate_shows_the_new_secret_once_and_says_the_old_one_stays_valid(client, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    old = services.trigger_signing_enable(trigger, actor=SYSTEM)
    login(client, cast.developer)
    response = client.post(url("trigger_signing_rotate", cast.space, trigger_id=trigger.id))
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert "It will not be shown again" in html and old not in html
    assert "stays valid until" in html and "24 hours" in html
    page = client.get(url("trigger_detail", cast.space, trigger_id=trigger.id)).content.decode()
    assert "The previous secret is also accepted until" in page
    assert "whsec_" not in page


def test_after_rotate_in_the_console_both_secrets_sign_until_the_grace_period_ends(client, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space), auth="none")
    login(client, cast.developer)
    enabled = client.post(url("trigger_signing_enable", cast.space, trigger_id=trigger.id))
    old = secret_shown(enabled)
    rotated = client.post(url("trigger_signing_rotate", cast.space, trigger_id=trigger.id))
    new = secret_shown(rotated)
    receiver = f"/api/v1/clients/{cast.space.id}/webhooks/{trigger.webhook_id}"
    sent = itertools.count()

    def send(secret: str) -> int:
        # A different body each time: a repeated signed request is a duplicate (200).
        stamp, body = int(time.time()), json.dumps({"n": next(sent)}).encode()
        headers = {"x-fastn-timestamp": str(stamp),
                   "x-fastn-signature": sign_fastn(secret, stamp, body)}  # fmt: skip
        response = client.post(receiver, body, content_type="application/json", headers=headers)
        return response.status_code

    assert (send(new), send(old), send("whsec_" + "A" * 32)) == (202, 202, 401)
    Trigger.objects.filter(pk=trigger.pk).update(
        signing_previous_until=timezone.now() - timedelta(seconds=1)
    )
    assert (send(new), send(old)) == (202, 401)


def secret_shown(response) -> str:
    return response.content.decode().split('id="new-secret" readonly value="')[1].split('"')[0]


# --- Scheduler form -------------------------------------------------------------------------


def test_creating_a_scheduler_saves_its_schedule_and_payload(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    response = client.post(url("trigger_new_scheduler", cast.space), scheduler_post(echo))
    assert response.status_code == 302
    trigger = Trigger.objects.get()
    assert trigger.schedule["preset"] == "daily" and trigger.schedule["time"] == "02:30"
    assert trigger.schedule["timezone"] == "Europe/Paris"
    assert trigger.next_run_at is not None
    assert trigger.routes.get().payload == {"report": "daily"}


def test_invalid_payload_json_names_its_line_and_column(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    data = scheduler_post(echo, **{"route-n0-payload": '{\n  "a": 1,,\n}'})
    html = client.post(url("trigger_new_scheduler", cast.space), data).content.decode()
    assert "Payload: invalid JSON at line 2, column 10" in html
    assert not Trigger.objects.exists()


def test_the_timezone_defaults_to_the_spaces(client, cast):
    space_update(cast.space, name=cast.space.name, time_zone="Asia/Tokyo", actor=SYSTEM)
    login(client, cast.developer)
    html = client.get(url("trigger_new_scheduler", cast.space)).content.decode()
    assert '<option value="Asia/Tokyo" selected>' in html


def test_the_preview_answers_the_next_five_runs_or_the_error(client, cast):
    login(client, cast.developer)
    preview = url("trigger_schedule_preview", cast.space)
    html = client.get(preview, {"preset": "interval", "every": "15", "unit": "minutes",
                                "timezone": "UTC"}).content.decode()  # fmt: skip
    assert "Runs every 15 minutes" in html and html.count("<li>") == 5
    html = client.get(preview, {"preset": "custom", "cron": "61 * *",
                                "timezone": "UTC"}).content.decode()  # fmt: skip
    assert 'data-testid="schedule-error"' in html


# --- App event form -------------------------------------------------------------------------


def app_event_post(workflow, **overrides) -> dict:
    return {"name": "Inbound", "connector": "http", "connection": "",
            "event_name": "inbound-webhook", "webhook_id": "", "auth": "none", "route": ["n0"],
            "route-n0-workflow": str(workflow.id), "route-n0-environment": "test",
            **overrides}  # fmt: skip


def test_the_http_app_event_needs_no_connection_and_is_subscribed_at_once(client, cast):
    echo = make_workflow(cast.space)
    login(client, cast.developer)
    create = url("trigger_new_app_event", cast.space)
    html = client.get(create).content.decode()
    assert 'data-testid="no-connection-needed"' in html
    assert "No active connection found" not in html
    assert ">Shopify</option>" in html and ">Slack</option>" in html  # the real catalog
    assert ">OpenAI</option>" in html and ">Email</option>" not in html  # only with events
    response = client.post(create, app_event_post(echo))
    assert response.status_code == 302
    trigger = Trigger.objects.get()
    assert (trigger.kind, trigger.subscription, trigger.auth, trigger.connection) == (
        Kind.APP_EVENT, "subscribed", "none", None,
    )  # fmt: skip
    assert trigger.webhook_id.startswith("wh_")


def test_a_connector_without_connections_says_so_and_links_to_connect(client, cast):
    echo = make_workflow(cast.space)
    make_connection(cast.space, "Old shop", status="expired")  # listed, not selectable
    login(client, cast.developer)
    create = url("trigger_new_app_event", cast.space)
    html = client.get(create + "?connector=shopify").content.decode()
    assert (
        "No active connection found for this connector. Connect first to use it as a trigger "
        "source." in html
    )
    assert f'href="/s/{cast.space.slug}/connections/new/?connector=shopify"' in html
    assert "Old shop (Space-wide, Expired)</option>" in html and " disabled>" in html
    response = client.post(
        create, app_event_post(echo, connector="shopify", event_name="orders/create")
    )
    assert response.status_code == 200
    assert "No active connection found for this connector." in response.content.decode()
    assert not Trigger.objects.exists()


def test_the_source_part_lists_the_connectors_events_with_path_badge_and_schema(client, cast):
    login(client, cast.developer)
    html = client.get(
        url("trigger_app_event_source", cast.space) + "?connector=shopify"
    ).content.decode()
    assert 'value="orders/create"' in html and "Order created" in html
    assert '<code class="muted small">orders/create</code>' in html
    assert "WEBHOOK" in html and "Not Subscribed" in html
    assert "<summary>Payload Schema</summary>" in html and "admin_graphql_api_id" in html
    assert 'data-testid="no-connection"' in html
    html = client.get(url("trigger_app_event_source", cast.space) + "?connector=nope")
    assert "This connector has no events." in html.content.decode()
    login(client, cast.viewer)
    assert client.get(url("trigger_app_event_source", cast.space)).status_code == 403


def test_a_shopify_trigger_takes_an_active_connection_and_shows_what_to_register(client, cast):
    echo = make_workflow(cast.space)
    customer = customer_create(cast.space, name="Globex", external_id="globex", actor=SYSTEM)
    shop = make_connection(cast.space, "Globex shop", customer=customer)
    theirs = make_connection(cast.other_space, "Their shop")
    login(client, cast.developer)
    create = url("trigger_new_app_event", cast.space)
    html = client.get(create + "?connector=shopify").content.decode()
    assert "Globex shop (Globex)</option>" in html and "Their shop" not in html
    assert "No active connection found" not in html
    post = app_event_post(echo, connector="shopify", event_name="orders/create")
    response = client.post(create, {**post, "connection": str(theirs.id)})
    assert response.status_code == 200 and not Trigger.objects.exists()
    response = client.post(create, {**post, "connection": str(shop.id), "event_name": "nope"})
    assert response.status_code == 200 and not Trigger.objects.exists()
    response = client.post(create, {**post, "connection": str(shop.id)})
    assert response.status_code == 302
    trigger = Trigger.objects.get()
    assert (trigger.connector, trigger.connection, trigger.event_name, trigger.subscription) == (
        "shopify", shop, "orders/create", "not-subscribed",
    )  # fmt: skip
    html = client.get(response["Location"]).content.decode()
    assert "Register this URL at Shopify as the webhook for Order created" in html
    assert "Globex shop</a> (Globex, Active)" in html
    assert "tok-not-shown" not in html
    edit = client.get(url("trigger_edit", cast.space, trigger_id=trigger.id)).content.decode()
    assert 'name="connector"' in edit and " disabled" in edit.split('name="connector"')[1][:200]
    response = client.post(
        url("trigger_retry_subscription", cast.space, trigger_id=trigger.id), follow=True
    )
    assert "Register this URL as a webhook for Order created (orders/create) in Shopify" in (
        response.content.decode()
    )


# --- A trigger's page -----------------------------------------------------------------------


def test_the_detail_page_shows_url_curl_routes_and_the_last_requests(client, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    request_log(trigger, 401, "Missing API key")
    login(client, cast.viewer)
    html = client.get(url("trigger_detail", cast.space, trigger_id=trigger.id)).content.decode()
    receiver = f"http://testserver/api/v1/clients/{cast.space.id}/webhooks/{trigger.webhook_id}"
    assert receiver in html
    assert "x-fastn-key: YOUR_API_KEY" in html
    assert "Missing API key" in html and "401" in html
    assert "Send test event" in html and "can't send test events" in html
    part = client.get(url("trigger_activity", cast.space, trigger_id=trigger.id)).content.decode()
    assert "Missing API key" in part and "<html" not in part


def test_send_test_event_makes_an_event_and_answers_its_id(client, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    login(client, cast.operator)
    response = client.post(
        url("trigger_send_test", cast.space, trigger_id=trigger.id),
        {"body": '{"type": "order"}'},
        HTTP_HX_REQUEST="true",
    )
    event = Event.objects.get()
    assert event.source == Source.TEST and event.payload == {"type": "order"}
    assert str(event.id) in response.content.decode()
    bad = client.post(
        url("trigger_send_test", cast.space, trigger_id=trigger.id), {"body": "{\n  nope"}
    )
    assert "Body: invalid JSON at line 2, column 3" in bad.content.decode()
    assert Event.objects.count() == 1


def test_trigger_now_makes_a_manual_event(client, cast):
    trigger = make_scheduler(cast.space, make_workflow(cast.space))
    login(client, cast.operator)
    response = client.post(url("trigger_run_now", cast.space, trigger_id=trigger.id))
    assert response.status_code == 302
    assert Event.objects.get().source == Source.MANUAL


# --- Permissions and tenancy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role", "status"),
    [
        ("trigger_send_test", "viewer", 403),
        ("trigger_run_now", "viewer", 403),
        ("trigger_toggle", "operator", 403),
        ("trigger_delete", "operator", 403),
        ("trigger_signing_enable", "operator", 403),
        ("trigger_edit", "operator", 403),
    ],
)
def test_roles_that_may_not_are_refused_and_nothing_changes(client, cast, name, role, status):
    trigger = make_scheduler(cast.space, make_workflow(cast.space))
    login(client, cast.member(role))
    response = client.post(url(name, cast.space, trigger_id=trigger.id), {"body": "{}"})
    assert response.status_code == status
    assert not Event.objects.exists()
    assert Trigger.objects.get().enabled and not Trigger.objects.get().signing_secret_name


def test_another_spaces_trigger_is_a_404_on_every_page(client, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    login(client, cast.outsider)
    for name in ("trigger_detail", "trigger_edit", "trigger_activity"):
        assert client.get(url(name, cast.other_space, trigger_id=trigger.id)).status_code == 404
    for name in ("trigger_toggle", "trigger_delete", "trigger_send_test", "trigger_signing_enable"):
        assert client.post(url(name, cast.other_space, trigger_id=trigger.id)).status_code == 404
    assert Trigger.objects.get().enabled
    assert not WebhookRequest.objects.exists()


def test_disable_then_delete_from_the_list(client, cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    login(client, cast.developer)
    response = client.post(url("trigger_toggle", cast.space, trigger_id=trigger.id))
    assert response.status_code == 302 and not Trigger.objects.get().enabled
    client.post(url("trigger_delete", cast.space, trigger_id=trigger.id))
    assert not Trigger.objects.exists()


# --- Settings → General ---------------------------------------------------------------------


def test_the_owner_sets_the_space_time_zone_and_a_bad_zone_is_refused(client, cast):
    login(client, cast.owner)
    settings_url = url("space_settings", cast.space)
    assert 'name="time_zone"' in client.get(settings_url).content.decode()
    response = client.post(settings_url, {"name": "Acme", "time_zone": "America/New_York"})
    assert response.status_code == 302
    cast.space.refresh_from_db()
    assert cast.space.time_zone == "America/New_York"
    assert AuditEvent.objects.filter(action="space.update").exists()
    html = client.post(settings_url, {"name": "Acme", "time_zone": "Mars/Olympus"}).content.decode()
    assert "Select a valid choice" in html
    login(client, cast.developer)
    assert client.get(settings_url).status_code == 403


# --- Typed rows never break a form ----------------------------------------------------------

NASTY = ["\x00", "a\x00b", "[" * 3000 + "]" * 3000, "9" * 5000, "NaN", '"\\u0000"', '"\\ud800"',
         "$headers.", "a..b", "[0", '["x"', "1e999", "é" * 600, "x" * 5000]  # fmt: skip
typed = st.text(max_size=40) | st.sampled_from(NASTY) | st.sampled_from(["1", "true", "[1,2]"])
operators = st.sampled_from([*OPERATORS, "bogus", ""])


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    filters=st.lists(st.tuples(typed, operators, typed), max_size=4),
    headers=st.lists(st.tuples(typed, typed), max_size=3),
    keys=st.lists(st.sampled_from(["n0", "n1", "bad key", "__key__", "r999999", "x" * 40])),
    payload=typed,
)
@example(filters=[("a\x00", "exists", "")], headers=[], keys=["n0"], payload="{}")
@example(filters=[("a", "eq", "[" * 3000)], headers=[], keys=["n0"], payload="[" * 3000 + "]")
@example(filters=[("type", "eq", "a\x00")], headers=[("x-a", "b\x00")], keys=[], payload="")
def test_no_typed_row_makes_the_forms_answer_5xx(client, cast, filters, headers, keys, payload):
    echo = Workflow.objects.filter(space=cast.space).first() or make_workflow(cast.space)
    login(client, cast.developer)
    data = webhook_post(echo, route=keys or ["n0"], webhook_id="")
    for key in keys or ["n0"]:
        data[f"route-{key}-workflow"] = str(echo.id)
        data[f"route-{key}-environment"] = "test"
        data[f"route-{key}-filter-path"] = [path for path, _, _ in filters]
        data[f"route-{key}-filter-operator"] = [op for _, op, _ in filters]
        data[f"route-{key}-filter-value"] = [value for _, _, value in filters]
        data[f"route-{key}-header-name"] = [name for name, _ in headers]
        data[f"route-{key}-header-value"] = [value for _, value in headers]
        data[f"route-{key}-payload"] = payload
    for create in ("trigger_new_webhook", "trigger_new_scheduler"):
        body = data if create == "trigger_new_webhook" else {**scheduler_post(echo), **data}
        response = client.post(url(create, cast.space), body)
        assert response.status_code in (200, 302)
    preview = {"preset": "custom", "cron": payload, "timezone": payload, "every": payload,
               "starts_at": payload}  # fmt: skip
    assert client.get(url("trigger_schedule_preview", cast.space), preview).status_code == 200
