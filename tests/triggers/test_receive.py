"""The webhook receiver: what is accepted, stored, deduplicated, refused and logged."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import ApiKey
from apps.spaces.services import apikey_revoke, customer_create
from apps.triggers.models import (
    DedupKey,
    Event,
    EventStatus,
    Outbox,
    Source,
    Subscription,
    WebhookAuth,
    WebhookRequest,
)
from apps.triggers.receive import KEEP_REQUESTS, TRIM_EVERY, event_accept
from apps.triggers.selectors import trigger_requests
from apps.triggers.signatures import new_signing_secret, sign_fastn, sign_standard
from tests.triggers.pipeline_fixtures import (
    live_key,
    make_trigger,
    make_workflow,
    post_event,
    webhook_url,
)
from tests.triggers.ui_helpers import (  # noqa: F401 (master_key is a fixture)
    make_connection,
    make_shopify_event,
    master_key,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(cast):
    return make_workflow(cast.space)


@pytest.fixture
def trigger(cast, workflow):
    return make_trigger(cast.space, [workflow])


def only_event():
    (event,) = Event.objects.all()
    return event


# --- accepting ----------------------------------------------------------------------------


def test_a_json_event_is_stored_with_its_outbox_row_before_the_202(client, trigger):
    response = post_event(client, trigger, {"order": {"id": 7}},
                          **{"x-github-event": "push", "authorization": "Bearer secret",
                             "cookie": "a=b", "x-fastn-key": "k"})  # fmt: skip
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    event = Event.objects.get(pk=body["eventId"])
    assert event.status == EventStatus.RECEIVED
    assert event.source == Source.WEBHOOK
    assert event.payload == {"order": {"id": 7}}
    assert bytes(event.body) == b'{"order": {"id": 7}}'
    assert event.headers["x-github-event"] == "push"
    # Credentials never reach the event (nor, later, the run's ctx.headers).
    for name in ("authorization", "cookie", "x-fastn-key"):
        assert name not in event.headers
    assert Outbox.objects.filter(event=event, published_at__isnull=True).exists()
    assert event.trigger_name == trigger.name and event.space_id == trigger.space_id


def test_a_body_that_is_not_json_is_stored_raw(client, trigger):
    raw = b"\x00\xff binary \xfe"
    response = post_event(client, trigger, raw=raw, content_type="application/octet-stream")
    assert response.status_code == 202
    event = only_event()
    assert bytes(event.body) == raw
    assert event.payload is None
    assert event.content_type == "application/octet-stream"


def test_invalid_json_is_kept_raw_not_refused(client, trigger):
    response = post_event(client, trigger, raw=b'{"a": NaN, ', content_type="application/json")
    assert response.status_code == 202
    assert only_event().payload is None


def test_a_form_body_is_parsed_into_fields(client, trigger):
    response = post_event(client, trigger, raw=b"a=1&b=x&b=y&empty=",
                          content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 202
    assert only_event().payload == {"a": "1", "b": ["x", "y"], "empty": ""}


@pytest.mark.usefixtures("master_key")
@pytest.mark.parametrize("event_id", ["", "evt-1"])  # the one-statement path, the full path
def test_the_first_event_at_the_inbound_url_makes_an_app_event_subscribed(
    client, cast, workflow, event_id
):
    trigger = make_shopify_event(cast.space, workflow, make_connection(cast.space), auth="none")
    assert trigger.subscription == Subscription.NOT_SUBSCRIBED
    headers = {"x-fastn-event-id": event_id} if event_id else {}
    assert post_event(client, trigger, {"id": 1}, **headers).status_code == 202
    trigger.refresh_from_db()
    assert (trigger.subscription, trigger.subscription_error) == (Subscription.SUBSCRIBED, "")
    assert only_event().source == Source.APP_EVENT


@pytest.mark.usefixtures("master_key")
def test_a_refused_or_test_event_leaves_an_app_event_not_subscribed(client, cast, workflow):
    from apps.triggers.services import trigger_send_test

    trigger = make_shopify_event(cast.space, workflow, make_connection(cast.space))
    assert post_event(client, trigger, {"id": 1}).status_code == 401  # no API key
    trigger_send_test(trigger, body=b"{}", actor=Actor.system("test"))
    trigger.refresh_from_db()
    assert trigger.subscription == Subscription.NOT_SUBSCRIBED


def test_an_app_event_trigger_records_app_event_events(client, cast, workflow):
    trigger = make_trigger(cast.space, [workflow], kind="app-event")
    assert post_event(client, trigger, {"x": 1}).status_code == 202
    assert only_event().source == Source.APP_EVENT


def test_the_trigger_customer_is_the_event_customer(client, cast, workflow):
    customer = customer_create(cast.space, name="Acme Ltd", external_id="acme",
                               actor=Actor.system())  # fmt: skip
    trigger = make_trigger(cast.space, [workflow], customer=customer)
    post_event(client, trigger, {})
    assert only_event().customer == customer


def test_a_scheduler_is_not_reachable_by_url(client, cast, workflow):
    trigger = make_trigger(cast.space, [workflow], kind="scheduler")
    response = post_event(client, trigger, {})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


# --- duplicates -----------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["webhook-id", "x-fastn-event-id", "idempotency-key"])
def test_a_repeated_sender_event_id_answers_the_first_event(client, trigger, header):
    first = post_event(client, trigger, {"n": 1}, **{header: "evt_1"})
    again = post_event(client, trigger, {"n": 2}, **{header: "evt_1"})
    other = post_event(client, trigger, {"n": 1}, **{header: "evt_2"})
    assert first.status_code == 202 and other.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"duplicate": True, "eventId": first.json()["eventId"],
                            "status": "duplicate"}  # fmt: skip
    duplicate = Event.objects.get(status=EventStatus.DUPLICATE)
    assert str(duplicate.duplicate_of_id) == first.json()["eventId"]
    assert duplicate.payload == {"n": 2}
    assert not Outbox.objects.filter(event=duplicate).exists()  # never routed
    assert Outbox.objects.count() == 2


def test_the_dedup_path_identifies_events_before_the_sender_id(client, cast, workflow):
    trigger = make_trigger(cast.space, [workflow], dedup_path="order.id")
    first = post_event(client, trigger, {"order": {"id": 42}}, **{"webhook-id": "a"})
    same_order = post_event(client, trigger, {"order": {"id": 42}}, **{"webhook-id": "b"})
    other_order = post_event(client, trigger, {"order": {"id": 43}}, **{"webhook-id": "a"})
    assert first.status_code == 202
    assert same_order.status_code == 200
    assert same_order.json()["eventId"] == first.json()["eventId"]
    # The path wins over the header when the body has it; 43 is another order.
    assert other_order.status_code == 202


def test_a_dedup_path_missing_from_the_body_falls_back_to_the_sender_id(client, cast, workflow):
    trigger = make_trigger(cast.space, [workflow], dedup_path="order.id")
    post_event(client, trigger, {"other": 1}, **{"x-fastn-event-id": "e1"})
    again = post_event(client, trigger, {"other": 2}, **{"x-fastn-event-id": "e1"})
    assert again.status_code == 200
    assert post_event(client, trigger, {"other": 3}).status_code == 202  # nothing identifies it


def test_a_headers_dedup_path_works_on_a_body_that_is_not_json(client, cast, workflow):
    trigger = make_trigger(cast.space, [workflow], dedup_path="$headers.x-delivery")
    post_event(client, trigger, raw=b"plain", content_type="text/csv", **{"x-delivery": "d1"})
    again = post_event(client, trigger, raw=b"plain 2", content_type="text/csv",
                       **{"x-delivery": "d1"})  # fmt: skip
    assert again.status_code == 200


def test_the_same_event_id_on_another_trigger_is_another_event(client, cast, workflow, trigger):
    second = make_trigger(cast.space, [workflow], name="Second")
    assert post_event(client, trigger, {}, **{"webhook-id": "x"}).status_code == 202
    assert post_event(client, second, {}, **{"webhook-id": "x"}).status_code == 202


def test_a_key_is_free_again_after_24_hours(client, trigger):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = post_event(client, trigger, {}, **{"webhook-id": "w1"})
        clock.shift(timedelta(hours=23, minutes=59))
        assert post_event(client, trigger, {}, **{"webhook-id": "w1"}).status_code == 200
        clock.shift(timedelta(minutes=2))
        later = post_event(client, trigger, {}, **{"webhook-id": "w1"})
        assert later.status_code == 202
        assert later.json()["eventId"] != first.json()["eventId"]
        # The key now belongs to the new event for the next 24 hours.
        again = post_event(client, trigger, {}, **{"webhook-id": "w1"})
        assert again.json()["eventId"] == later.json()["eventId"]


def test_a_replayed_signed_request_is_a_duplicate(client, cast, workflow):
    trigger = signed_trigger(cast, workflow)
    body = b'{"a": 1}'
    stamp = int(time.time())
    headers = {"x-fastn-timestamp": str(stamp),
               "x-fastn-signature": sign_fastn(SECRET, stamp, body)}  # fmt: skip
    assert post_event(client, trigger, raw=body, **headers).status_code == 202
    assert post_event(client, trigger, raw=body, **headers).status_code == 200


def test_event_accept_keys_schedules_by_the_callers_event_key(cast, trigger):
    first = event_accept(trigger, source=Source.SCHEDULE, headers={}, body=b"{}",
                         event_key="2026-01-01T09:00:00Z")  # fmt: skip
    again = event_accept(trigger, source=Source.SCHEDULE, headers={}, body=b"{}",
                         event_key="2026-01-01T09:00:00Z")  # fmt: skip
    assert not first.duplicate and again.duplicate
    assert again.event.pk == first.event.pk


def test_a_person_sending_the_same_test_event_twice_gets_two_events(cast, trigger):
    headers = {"x-fastn-event-id": "same"}
    for _ in range(2):
        accepted = event_accept(trigger, source=Source.TEST, headers=headers, body=b"{}")
        assert not accepted.duplicate
    assert Event.objects.filter(status=EventStatus.RECEIVED).count() == 2
    assert not DedupKey.objects.exists()


# --- refusals -------------------------------------------------------------------------------


def test_unknown_webhooks_answer_404_json(client, cast, trigger):
    for path in (
        f"/api/v1/clients/{cast.space.id}/webhooks/wh_nope",
        f"/api/v1/clients/not-a-uuid/webhooks/{trigger.webhook_id}",
        f"/api/v1/clients/{cast.other_space.id}/webhooks/{trigger.webhook_id}",
    ):
        response = client.post(path, data=b"{}", content_type="application/json")
        assert response.status_code == 404, path
        assert response.json() == {"code": "NOT_FOUND", "statusCode": 404,
                                   "message": response.json()["message"]}  # fmt: skip
    assert not Event.objects.exists()


def test_a_disabled_trigger_answers_404_and_the_inspector_says_why(client, trigger):
    trigger.enabled = False
    trigger.save()
    response = post_event(client, trigger, {})
    assert response.status_code == 404
    unknown = client.post(webhook_url(trigger) + "x", data=b"{}", content_type="application/json")
    assert response.json()["message"] == unknown.json()["message"]  # nothing to probe
    (logged,) = WebhookRequest.objects.filter(trigger=trigger)
    assert (logged.status_code, logged.outcome) == (404, "Trigger disabled")
    assert not Event.objects.exists()


def test_only_post_is_allowed(client, trigger):
    response = client.get(webhook_url(trigger))
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_a_body_over_the_limit_answers_413_and_is_logged(client, trigger):
    response = post_event(client, trigger, raw=b"x" * 4096, content_type="text/plain")
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert WebhookRequest.objects.get(trigger=trigger).status_code == 413
    assert not Event.objects.exists()


# --- API key --------------------------------------------------------------------------------


@pytest.fixture
def keyed(cast, workflow):
    return make_trigger(cast.space, [workflow], auth=WebhookAuth.API_KEY)


@pytest.mark.parametrize("header", ["x-fastn-key", "x-fastn-access-key", "x-fastn-api-key"])
def test_an_api_key_trigger_accepts_a_live_key_of_its_space(client, cast, keyed, header):
    key = live_key(cast.space)
    response = post_event(client, keyed, {}, **{header: key})
    assert response.status_code == 202
    assert Event.objects.get(pk=response.json()["eventId"]).trigger == keyed
    # Its use is recorded, like any API call's.
    assert ApiKey.objects.get(last4=key[-4:]).last_used_at is not None


def test_an_api_key_trigger_refuses_missing_wrong_revoked_and_foreign_keys(client, cast, keyed):
    revoked = live_key(cast.space)
    apikey_revoke(ApiKey.objects.get(last4=revoked[-4:]), actor=Actor.system())
    for headers in ({}, {"x-fastn-key": "fsk_live_nope"}, {"x-fastn-key": revoked},
                    {"x-fastn-key": live_key(cast.other_space)}):  # fmt: skip
        response = post_event(client, keyed, {}, **headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "UNAUTHORIZED"
    assert not Event.objects.exists()
    logged = WebhookRequest.objects.filter(trigger=keyed)
    assert logged.count() == 4 and {r.status_code for r in logged} == {401}


def test_a_test_key_reaches_only_triggers_routed_to_draft_or_test(client, cast, workflow):
    test_key = live_key(cast.space, mode="test")
    live_routed = make_trigger(cast.space, [workflow], auth=WebhookAuth.API_KEY)
    test_routed = make_trigger(
        cast.space,
        [{"workflow": workflow, "environment": "test"},
         {"workflow": workflow, "environment": "DRAFT"}],
        auth=WebhookAuth.API_KEY, name="Test routes",
    )  # fmt: skip
    refused = post_event(client, live_routed, {}, **{"x-fastn-key": test_key})
    assert refused.status_code == 403
    assert post_event(client, test_routed, {}, **{"x-fastn-key": test_key}).status_code == 202


def test_a_public_trigger_needs_no_key(client, trigger):
    assert trigger.auth == WebhookAuth.NONE
    assert post_event(client, trigger, {}).status_code == 202


# --- signatures -----------------------------------------------------------------------------

SECRET = new_signing_secret()
PREVIOUS = new_signing_secret()


def signed_trigger(cast, workflow, **fields):
    secret_create(cast.space, name="HOOK_SECRET", type="text", value=SECRET, actor=Actor.system())
    return make_trigger(cast.space, [workflow], signing_secret_name="HOOK_SECRET", **fields)


def fastn_headers(secret, body, stamp=None):
    stamp = int(time.time()) if stamp is None else stamp
    return {"x-fastn-timestamp": str(stamp), "x-fastn-signature": sign_fastn(secret, stamp, body)}


def test_a_signed_request_is_accepted_with_either_scheme(client, cast, workflow):
    trigger = signed_trigger(cast, workflow)
    body = b'{"a": 1}'
    assert post_event(client, trigger, raw=body, **fastn_headers(SECRET, body)).status_code == 202
    stamp = int(time.time())
    standard = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1,bm9wZQ== " + sign_standard(SECRET, "msg_1", stamp, body),
    }
    assert post_event(client, trigger, raw=body, **standard).status_code == 202  # fmt: skip


def test_bad_signatures_answer_401_without_the_expected_value(client, cast, workflow):
    trigger = signed_trigger(cast, workflow)
    body = b'{"a": 1}'
    expected = fastn_headers(SECRET, body)["x-fastn-signature"]
    cases = {
        "missing": {},
        "wrong secret": fastn_headers(new_signing_secret(), body),
        "stale": fastn_headers(SECRET, body, stamp=int(time.time()) - 310),
        "future": fastn_headers(SECRET, body, stamp=int(time.time()) + 310),
        "other body": fastn_headers(SECRET, b'{"a": 2}'),
    }
    for case, headers in cases.items():
        response = post_event(client, trigger, raw=body, **headers)
        assert response.status_code == 401, case
        text = response.content.decode()
        assert response.json()["message"].startswith("Invalid signature: "), case
        assert expected.split("=", 1)[1] not in text and SECRET not in text, case
    assert not Event.objects.exists()
    assert WebhookRequest.objects.filter(trigger=trigger, status_code=401).count() == 5


def test_the_previous_secret_is_valid_during_the_rotation_grace_period(client, cast, workflow):
    secret_create(cast.space, name="OLD_SECRET", type="text", value=PREVIOUS, actor=Actor.system())
    until = timezone.now() + timedelta(hours=1)
    trigger = signed_trigger(
        cast, workflow, signing_previous_secret_name="OLD_SECRET", signing_previous_until=until
    )
    body = b"{}"
    assert post_event(client, trigger, raw=body, **fastn_headers(PREVIOUS, body)).status_code == 202
    trigger.signing_previous_until = timezone.now() - timedelta(seconds=1)
    trigger.save()
    body = b'{"later": true}'
    assert post_event(client, trigger, raw=body, **fastn_headers(PREVIOUS, body)).status_code == 401
    assert post_event(client, trigger, raw=body, **fastn_headers(SECRET, body)).status_code == 202


def test_a_signing_secret_that_does_not_exist_refuses_every_request(client, cast, workflow):
    trigger = make_trigger(cast.space, [workflow], signing_secret_name="MISSING_SECRET")
    response = post_event(client, trigger, raw=b"{}", **fastn_headers(SECRET, b"{}"))
    assert response.status_code == 401
    assert "MISSING_SECRET" in response.json()["message"]


# --- the request inspector ------------------------------------------------------------------


def test_the_inspector_shows_the_last_50_requests_accepted_or_refused(client, trigger):
    for n in range(KEEP_REQUESTS + 3):
        post_event(client, trigger, {"n": n})
    trigger.enabled = False
    trigger.save()
    post_event(client, trigger, {"refused": True})
    shown = trigger_requests(trigger)
    assert len(shown) == KEEP_REQUESTS
    assert (shown[0].status_code, shown[0].outcome, shown[0].event) == (404, "Trigger disabled",
                                                                         None)  # fmt: skip
    assert [r.event.payload["n"] for r in shown[1:4]] == [KEEP_REQUESTS + 2, KEEP_REQUESTS + 1,
                                                          KEEP_REQUESTS]  # fmt: skip
    assert {(r.status_code, r.outcome) for r in shown[1:]} == {(202, "Accepted")}
    # An accepted request is its event: only refusals have rows of their own.
    assert WebhookRequest.objects.filter(trigger=trigger).count() == 1


def test_refused_requests_are_trimmed_to_about_the_last_50(client, trigger):
    trigger.enabled = False
    trigger.save()
    for _ in range(KEEP_REQUESTS + 3 * TRIM_EVERY):
        post_event(client, trigger, {})
    kept = WebhookRequest.objects.filter(trigger=trigger)
    assert KEEP_REQUESTS <= kept.count() < KEEP_REQUESTS + TRIM_EVERY
    assert len(trigger_requests(trigger)) == KEEP_REQUESTS


def test_duplicates_are_shown_with_their_outcome(client, trigger):
    first = post_event(client, trigger, {}, **{"webhook-id": "d"}).json()["eventId"]
    post_event(client, trigger, {}, **{"webhook-id": "d"})
    latest, original = trigger_requests(trigger)
    assert (latest.status_code, latest.outcome) == (200, f"Duplicate of event {first}")
    assert (original.status_code, str(original.event.id)) == (202, first)


# --- the event API --------------------------------------------------------------------------


def get_event(client, space, event_id, key, **headers):
    return client.get(f"/api/v1/tenants/{space.id}/events/{event_id}",
                      headers={"x-fastn-api-key": key, **headers})  # fmt: skip


def test_the_event_api_answers_the_event(client, cast, trigger):
    event_id = post_event(client, trigger, {"n": 1}).json()["eventId"]
    response = get_event(client, cast.space, event_id, live_key(cast.space))
    assert response.status_code == 200
    body = response.json()
    assert body["eventId"] == event_id
    assert body["trigger"] == {"id": str(trigger.id), "name": trigger.name}
    assert body["source"] == "webhook" and body["status"] == "received"
    assert body["receivedAt"] and body["routedAt"] is None and body["duplicateOf"] is None
    assert body["deliveries"] == []


def test_the_event_api_is_scoped_to_the_keys_space(client, cast, trigger):
    event_id = post_event(client, trigger, {}).json()["eventId"]
    other_key = live_key(cast.other_space)
    # Another Space's key, on its own Space's URL: the id is not found there.
    assert get_event(client, cast.other_space, event_id, other_key).status_code == 404
    # ... and on this Space's URL it is refused outright.
    assert get_event(client, cast.space, event_id, other_key).status_code == 403
    key = live_key(cast.space)
    for guess in ("nope", "00000000-0000-0000-0000-000000000000"):
        assert get_event(client, cast.space, guess, key).status_code == 404
    assert get_event(client, cast.space, event_id, "").status_code == 401


def test_the_event_api_with_a_tenant_sees_only_that_customers_events(client, cast, workflow):
    acme = customer_create(cast.space, name="Acme", external_id="acme", actor=Actor.system())
    customer_create(cast.space, name="Globex", external_id="globex", actor=Actor.system())
    trigger = make_trigger(cast.space, [workflow], customer=acme)
    event_id = post_event(client, trigger, {}).json()["eventId"]
    key = live_key(cast.space)
    ok = get_event(client, cast.space, event_id, key, **{"x-fastn-space-tenantid": "acme"})
    assert ok.status_code == 200
    hidden = get_event(client, cast.space, event_id, key, **{"x-fastn-space-tenantid": "globex"})
    assert hidden.status_code == 404


def test_the_openapi_document_lists_the_receiver_and_the_event_api(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    receiver = paths["/clients/{space_id}/webhooks/{webhook_id}"]["post"]
    assert {"202", "200", "401", "404", "413"} <= set(receiver["responses"])
    assert "get" in paths["/tenants/{space_id}/events/{event_id}"]
    json.dumps(paths)  # serialisable
