"""The console's trigger services: create / update / enable / delete, routes kept by id,
signing secrets (enable, rotate with a grace period, remove), Trigger Now and Send test event,
every change audited without a secret value."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.secrets.models import Secret
from apps.secrets.services import secret_create, secret_resolve
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from apps.triggers import services
from apps.triggers.models import (
    Event,
    EventStatus,
    Kind,
    Outbox,
    Route,
    Source,
    Subscription,
    Trigger,
)
from apps.triggers.services import SIGNING_GRACE, signing_names
from tests.triggers.ui_helpers import (  # noqa: F401 (master_key is a fixture)
    SYSTEM,
    make_app_event,
    make_connection,
    make_scheduler,
    make_shopify_event,
    make_webhook,
    make_workflow,
    master_key,
    route,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("master_key")]


def audit_rows(space, prefix="trigger."):
    return list(
        AuditEvent.objects.filter(space=space, action__startswith=prefix)
        .order_by("id")
        .values_list("action", flat=True)
    )


def audit_text(space) -> str:
    return json.dumps(list(AuditEvent.objects.filter(space=space).values()), default=str)


# --- Create, update, enable, delete ---------------------------------------------------------


def test_create_saves_the_trigger_its_routes_in_order_and_an_audit_row(cast):
    echo, other = make_workflow(cast.space), make_workflow(cast.space, "Other", "other")
    trigger = services.trigger_create(
        cast.space,
        kind=Kind.WEBHOOK,
        fields={"name": "Orders", "webhook_id": "orders-in", "max_attempts": 5},
        routes=[
            route(
                echo,
                headers={"x-source": "shop"},
                filters=[{"path": "type", "operator": "eq", "value": "order"}],
            ),
            route(other, environment="live"),
        ],
        actor=SYSTEM,
    )
    trigger.refresh_from_db()
    assert (trigger.webhook_id, trigger.max_attempts, trigger.enabled) == ("orders-in", 5, True)
    routes = list(trigger.routes.order_by("position"))
    assert [(r.workflow, r.environment, r.headers) for r in routes] == [
        (echo, "test", {"x-source": "shop"}),
        (other, "live", {}),
    ]
    assert routes[0].filters == [{"path": "type", "operator": "eq", "value": "order"}]
    assert audit_rows(cast.space) == ["trigger.create"]


def test_a_taken_webhook_id_is_a_validation_error_on_the_field(cast):
    echo = make_workflow(cast.space)
    make_webhook(cast.space, echo, webhook_id="orders-in")
    with pytest.raises(ValidationError) as caught:
        make_webhook(cast.space, echo, name="Again", webhook_id="orders-in")
    assert "webhook_id" in caught.value.message_dict
    # Another Space may use the same id: it is unique per Space.
    theirs = make_workflow(cast.other_space)
    assert make_webhook(cast.other_space, theirs, webhook_id="orders-in").webhook_id == "orders-in"


def test_a_workflow_or_customer_of_another_space_is_refused(cast):
    theirs = make_workflow(cast.other_space)
    with pytest.raises(ValidationError):
        make_webhook(cast.space, theirs)
    customer = customer_create(cast.other_space, name="Hooli", external_id="hooli", actor=SYSTEM)
    with pytest.raises(ValidationError):
        make_webhook(cast.space, make_workflow(cast.space), customer=customer)
    assert not Trigger.objects.filter(space=cast.space).exists()


def test_update_keeps_a_route_that_keeps_its_id_and_drops_the_others(cast):
    echo, other = make_workflow(cast.space), make_workflow(cast.space, "Other", "other")
    trigger = make_webhook(cast.space, echo)
    (first,) = trigger.routes.all()
    kept = services.RouteSpec(workflow=other, environment="live", headers={}, filters=[],
                              id=first.id)  # fmt: skip
    services.trigger_update(
        trigger,
        fields={"name": "Renamed", "webhook_id": trigger.webhook_id},
        routes=[route(echo), kept],
        actor=SYSTEM,
    )
    routes = list(trigger.routes.order_by("position"))
    assert [r.workflow for r in routes] == [echo, other]
    assert routes[1].id == first.id and routes[0].id != first.id
    trigger.refresh_from_db()
    assert trigger.name == "Renamed"
    assert audit_rows(cast.space) == ["trigger.create", "trigger.update"]
    update = AuditEvent.objects.get(action="trigger.update")
    assert update.detail["changed"] == ["name"]


def test_a_route_id_of_another_trigger_makes_a_new_route(cast):
    echo = make_workflow(cast.space)
    one, two = make_webhook(cast.space, echo), make_webhook(cast.space, echo, name="Two")
    foreign_id = one.routes.get().id
    spec = services.RouteSpec(workflow=echo, environment="test", headers={}, filters=[],
                              id=foreign_id)  # fmt: skip
    services.trigger_update(two, fields={"name": "Two"}, routes=[spec], actor=SYSTEM)
    assert Route.objects.get(id=foreign_id).trigger == one
    assert two.routes.get().id != foreign_id


def test_disable_and_enable_are_conditional_and_audited(cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    assert services.trigger_set_enabled(trigger, enabled=False, actor=SYSTEM)
    assert not services.trigger_set_enabled(trigger, enabled=False, actor=SYSTEM)
    assert services.trigger_set_enabled(trigger, enabled=True, actor=SYSTEM)
    assert audit_rows(cast.space) == ["trigger.create", "trigger.disable", "trigger.enable"]


def test_a_schedule_gets_its_next_run_and_loses_it_while_disabled(cast):
    with time_machine.travel("2026-03-10 08:00:00Z", tick=False):
        trigger = make_scheduler(cast.space, make_workflow(cast.space))
        assert trigger.next_run_at == timezone.now() + timedelta(minutes=5)
        services.trigger_set_enabled(trigger, enabled=False, actor=SYSTEM)
        assert Trigger.objects.get(pk=trigger.pk).next_run_at is None
    with time_machine.travel("2026-03-10 09:00:00Z", tick=False):
        services.trigger_set_enabled(trigger, enabled=True, actor=SYSTEM)
        # From now on: the runs missed while it was disabled are not due.
        assert Trigger.objects.get(pk=trigger.pk).next_run_at == timezone.now() + timedelta(
            minutes=5
        )


def test_a_schedule_the_schedules_module_refuses_is_a_validation_error(cast):
    with pytest.raises(ValidationError) as caught:
        make_scheduler(cast.space, make_workflow(cast.space),
                       schedule={"preset": "custom", "cron": "* *", "timezone": "UTC"})  # fmt: skip
    assert "schedule" in caught.value.message_dict
    assert not Trigger.objects.exists()


def test_a_scheduler_that_runs_on_create_has_its_first_event_at_once(cast):
    trigger = make_scheduler(cast.space, make_workflow(cast.space), run_on_create=True)
    event = Event.objects.get(trigger=trigger)
    assert event.source == Source.SCHEDULE
    assert event.headers["x-fastn-schedule-id"] == str(trigger.id)
    assert Outbox.objects.filter(event=event).exists()


def test_an_http_app_event_is_subscribed_on_create(cast):
    trigger = make_app_event(cast.space, make_workflow(cast.space))
    assert trigger.subscription == Subscription.SUBSCRIBED
    Trigger.objects.filter(pk=trigger.pk).update(subscription=Subscription.FAILED)
    trigger.refresh_from_db()
    services.trigger_retry_subscription(trigger, actor=SYSTEM)
    assert Trigger.objects.get(pk=trigger.pk).subscription == Subscription.SUBSCRIBED
    assert "trigger.subscribe" in audit_rows(cast.space)


def test_an_unknown_event_of_the_connector_is_refused(cast):
    with pytest.raises(ValidationError):
        services.trigger_create(
            cast.space, kind=Kind.APP_EVENT, actor=SYSTEM, routes=[],
            fields={"name": "X", "connector": "http", "event_name": "nope"},
        )  # fmt: skip


def test_a_catalog_app_event_is_not_subscribed_until_its_connection_sends(cast):
    shop = make_connection(cast.space)
    trigger = make_shopify_event(cast.space, make_workflow(cast.space), shop)
    assert (trigger.connection, trigger.subscription) == (shop, Subscription.NOT_SUBSCRIBED)
    assert trigger.subscription_error == ""
    services.trigger_retry_subscription(trigger, actor=SYSTEM)  # an active connection
    assert Trigger.objects.get(pk=trigger.pk).subscription == Subscription.NOT_SUBSCRIBED


def test_retry_subscription_fails_with_the_reason_when_the_connection_expired_or_went(cast):
    shop = make_connection(cast.space)
    trigger = make_shopify_event(cast.space, make_workflow(cast.space), shop)
    shop.status, shop.last_error = "expired", "The refresh token was revoked."
    shop.save()
    services.trigger_retry_subscription(trigger, actor=SYSTEM)
    trigger.refresh_from_db()
    assert trigger.subscription == Subscription.FAILED
    assert trigger.subscription_error == (
        "The connection Acme shop is Expired (The refresh token was revoked.): reconnect it in "
        "Integrations → Connections, then retry."
    )
    shop.delete()
    trigger.refresh_from_db()
    assert trigger.connection is None  # SET_NULL: the trigger stays
    services.trigger_retry_subscription(trigger, actor=SYSTEM)
    assert "The trigger has no connection" in Trigger.objects.get(pk=trigger.pk).subscription_error
    shop = make_connection(cast.space, "New shop")
    services.trigger_update(
        trigger, fields={"connection": shop}, routes=[route(make_workflow(cast.space, "B", "b"))],
        actor=SYSTEM,
    )  # fmt: skip
    assert Trigger.objects.get(pk=trigger.pk).subscription == Subscription.NOT_SUBSCRIBED


def test_a_spaces_own_connector_with_events_is_a_trigger_source_at_its_latest_version(cast):
    from apps.connectors.services.connections import create_connection
    from apps.triggers.catalog import app_event_connectors
    from tests.connectors.factories import add_version, definition, make_connector

    crm = make_connector(cast.space, definition("crm"))  # no events yet: not a source
    make_connector(cast.other_space, definition("theirs", events=[{"name": "x.created"}]))
    assert [c.key for c in app_event_connectors(cast.space)][:1] == ["http"]
    assert "crm" not in {c.key for c in app_event_connectors(cast.space)}
    add_version(crm, definition("crm", events=[{"name": "deal.won", "path": "deal/won"}]))
    keys = {c.key for c in app_event_connectors(cast.space)}
    assert "crm" in keys and "theirs" not in keys and "shopify" in keys
    main = create_connection(
        cast.space, connector_slug="crm", name="Main", auth_method="BEARER",
        credential={"token": "t"}, actor=SYSTEM,
    )  # fmt: skip
    trigger = services.trigger_create(
        cast.space, kind=Kind.APP_EVENT, actor=SYSTEM, routes=[route(make_workflow(cast.space))],
        fields={"name": "Won", "connector": "crm", "connection": main, "event_name": "deal.won"},
    )  # fmt: skip
    assert trigger.subscription == Subscription.NOT_SUBSCRIBED


def test_an_app_event_connection_must_be_the_spaces_of_that_connector(cast):
    workflow = make_workflow(cast.space)
    with pytest.raises(ValidationError, match="No active connection found"):
        services.trigger_create(
            cast.space, kind=Kind.APP_EVENT, actor=SYSTEM, routes=[route(workflow)],
            fields={"name": "X", "connector": "shopify", "event_name": "orders/create"},
        )  # fmt: skip
    theirs = make_connection(cast.other_space, "Theirs")
    with pytest.raises(ValidationError, match="Choose a connection of Shopify"):
        make_shopify_event(cast.space, workflow, theirs)
    slack = make_connection(cast.space, "Team", slug="slack")
    with pytest.raises(ValidationError, match="Choose a connection of Shopify"):
        make_shopify_event(cast.space, workflow, slack)
    one = customer_create(cast.space, name="One", external_id="one", actor=SYSTEM)
    two = customer_create(cast.space, name="Two", external_id="two", actor=SYSTEM)
    with pytest.raises(ValidationError, match="another customer"):
        make_shopify_event(
            cast.space, workflow, make_connection(cast.space, customer=one), customer=two
        )
    with pytest.raises(ValidationError, match="Choose an event"):
        make_shopify_event(
            cast.space, workflow, make_connection(cast.space), event_name="inbound-webhook"
        )
    assert not Trigger.objects.exists()


# --- Signing --------------------------------------------------------------------------------


def test_enable_signing_stores_the_secret_as_a_space_secret_and_returns_it_once(cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    value = services.trigger_signing_enable(trigger, actor=SYSTEM)
    name, _ = signing_names(trigger)
    assert value.startswith("whsec_")
    assert Trigger.objects.get(pk=trigger.pk).signing_secret_name == name
    assert secret_resolve(cast.space, name=name) == ("text", value)
    with pytest.raises(ValidationError):
        services.trigger_signing_enable(trigger, actor=SYSTEM)
    assert value not in audit_text(cast.space)


def test_rotate_keeps_the_old_secret_valid_for_the_grace_period(cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    old = services.trigger_signing_enable(trigger, actor=SYSTEM)
    with time_machine.travel("2026-03-10 08:00:00Z", tick=False):
        new = services.trigger_signing_rotate(trigger, actor=SYSTEM)
        until = timezone.now() + SIGNING_GRACE
    trigger.refresh_from_db()
    name, previous = signing_names(trigger)
    assert new != old
    assert (trigger.signing_previous_secret_name, trigger.signing_previous_until) == (
        previous,
        until,
    )
    assert secret_resolve(cast.space, name=name)[1] == new
    assert secret_resolve(cast.space, name=previous)[1] == old
    # A second rotation moves the second secret to "previous".
    newest = services.trigger_signing_rotate(trigger, actor=SYSTEM)
    assert secret_resolve(cast.space, name=previous)[1] == new
    assert secret_resolve(cast.space, name=name)[1] == newest
    text = audit_text(cast.space)
    assert old not in text and new not in text and newest not in text
    assert audit_rows(cast.space).count("trigger.signing_rotate") == 2


def test_remove_signing_deletes_the_generated_secrets_but_not_a_named_one(cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    services.trigger_signing_enable(trigger, actor=SYSTEM)
    services.trigger_signing_rotate(trigger, actor=SYSTEM)
    services.trigger_signing_remove(trigger, actor=SYSTEM)
    trigger.refresh_from_db()
    assert (trigger.signing_secret_name, trigger.signing_previous_secret_name) == ("", "")
    assert not Secret.objects.filter(space=cast.space).exists()
    with pytest.raises(ValidationError):
        services.trigger_signing_remove(trigger, actor=SYSTEM)

    # A trigger pointing at a secret the Space uses elsewhere (a trigger file may) leaves it.
    secret_create(cast.space, name="SHARED_HOOK_SECRET", type="text", value="whsec_x",
                  actor=SYSTEM)  # fmt: skip
    Trigger.objects.filter(pk=trigger.pk).update(signing_secret_name="SHARED_HOOK_SECRET")
    trigger.refresh_from_db()
    services.trigger_signing_remove(trigger, actor=SYSTEM)
    assert Secret.objects.filter(name="SHARED_HOOK_SECRET").exists()


def test_delete_removes_the_trigger_and_its_generated_secret_and_keeps_its_events(cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    services.trigger_signing_enable(trigger, actor=SYSTEM)
    accepted = services.trigger_send_test(trigger, body=b'{"a": 1}', actor=SYSTEM)
    services.trigger_delete(trigger, actor=SYSTEM)
    assert not Trigger.objects.exists()
    assert not Secret.objects.exists()
    event = Event.objects.get(pk=accepted.event.pk)
    assert (event.trigger_id, event.trigger_name) == (None, "Orders")
    assert audit_rows(cast.space)[-1] == "trigger.delete"


# --- Events started from the console -------------------------------------------------------


def test_send_test_event_accepts_the_body_as_a_test_event(cast):
    trigger = make_webhook(cast.space, make_workflow(cast.space))
    accepted = services.trigger_send_test(trigger, body=b'{"type": "order"}', actor=SYSTEM)
    event = Event.objects.get(pk=accepted.event.pk)
    assert (event.source, event.status, event.payload) == (
        Source.TEST,
        EventStatus.RECEIVED,
        {"type": "order"},
    )
    assert Outbox.objects.filter(event=event).exists()
    assert AuditEvent.objects.get(action="trigger.test_event").detail["event"] == str(event.id)
    # Two clicks are two events: a person's click is never a duplicate.
    again = services.trigger_send_test(trigger, body=b'{"type": "order"}', actor=SYSTEM)
    assert not again.duplicate and again.event.pk != event.pk


def test_trigger_now_makes_a_manual_event_with_the_schedule_headers(cast):
    trigger = make_scheduler(cast.space, make_workflow(cast.space))
    accepted = services.trigger_run_now(trigger, actor=SYSTEM)
    event = Event.objects.get(pk=accepted.event.pk)
    assert event.source == Source.MANUAL
    assert event.headers["x-fastn-schedule-name"] == "Nightly"
    assert "x-fastn-scheduled-time" in event.headers
    services.trigger_set_enabled(trigger, enabled=False, actor=SYSTEM)
    with pytest.raises(ValidationError, match="disabled"):
        services.trigger_run_now(trigger, actor=SYSTEM)
    webhook = make_webhook(cast.space, make_workflow(cast.space, "Two", "two"))
    with pytest.raises(ValidationError):
        services.trigger_run_now(webhook, actor=SYSTEM)
