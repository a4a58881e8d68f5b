"""The pipeline for real: the receiver, the `events` threads on the real Redis, real Celery
workers and V8 — from a webhook to its completed runs."""

from __future__ import annotations

import pytest

from apps.executions.models import Execution, Status
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create
from apps.triggers.models import Delivery, DeliveryStatus, Event, EventStatus, Outbox
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow, post_event, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def settled(event_id, timeout: float = 30.0) -> Event:
    """The event once routed and every run it started has ended."""

    def done():
        event = Event.objects.get(pk=event_id)
        if event.routed_at is None:
            return None
        runs = Execution.objects.filter(delivery__event=event)
        if runs.exclude(status__in=[Status.COMPLETED, Status.FAILED]).exists():
            return None
        return event

    return wait_until(done, timeout)


def runs_of(event: Event) -> dict[str, Execution]:
    return {d.workflow_name: d.execution for d in Delivery.objects.filter(event=event)
            .select_related("execution") if d.execution}  # fmt: skip


def test_a_webhook_runs_its_route_with_the_event_as_input(
    client, cast, celery_worker, events_pipeline
):
    customer = customer_create(cast.space, name="Acme", external_id="acme", actor=Actor.system())
    workflow = make_workflow(cast.space)
    trigger = make_trigger(
        cast.space,
        [{"workflow": workflow, "headers": {"X-Route": "r1", "x-fastn-event-id": "spoof"}}],
        customer=customer,
    )
    response = post_event(client, trigger, {"order": 7}, **{"x-shop": "s1", "x-fastn-key": "k"})
    assert response.status_code == 202
    event = settled(response.json()["eventId"])
    assert event.status == EventStatus.DELIVERED
    assert not Outbox.objects.filter(event=event).exists()
    (run,) = runs_of(event).values()
    assert run.status == Status.COMPLETED
    assert run.triggered_by == "webhook"
    assert run.customer == customer
    assert run.version_number == 1 and run.environment == "live"
    assert run.output["input"] == {"order": 7}
    headers = run.output["headers"]
    assert headers["x-shop"] == "s1" and headers["x-route"] == "r1"
    assert headers["x-fastn-event-id"] == str(event.id)  # the pipeline's, not the route's
    assert headers["x-fastn-trigger-id"] == str(trigger.id)
    assert "x-fastn-key" not in headers
    assert run.output["tenant"] == "acme"


def test_fan_out_runs_the_routes_whose_filters_match(client, cast, celery_worker, events_pipeline):
    a, b, c = (make_workflow(cast.space, slug) for slug in ("alpha", "beta", "gamma"))
    trigger = make_trigger(cast.space, [
        {"workflow": a, "filters": [{"path": "type", "operator": "eq", "value": "order"}]},
        {"workflow": b, "filters": [{"path": "total", "operator": "gt", "value": 100}]},
        {"workflow": c, "filters": [{"path": "type", "operator": "eq", "value": "refund"}]},
    ])  # fmt: skip
    event = settled(post_event(client, trigger, {"type": "order", "total": 150}).json()["eventId"])
    runs = runs_of(event)
    assert set(runs) == {"Alpha", "Beta"}
    assert all(run.status == Status.COMPLETED for run in runs.values())
    assert Delivery.objects.filter(event=event).count() == 2
    assert event.status == EventStatus.DELIVERED


def test_an_event_no_route_matches_is_filtered(client, cast, celery_worker, events_pipeline):
    workflow = make_workflow(cast.space)
    trigger = make_trigger(cast.space, [
        {"workflow": workflow, "filters": [{"path": "type", "operator": "eq", "value": "x"}]},
    ])  # fmt: skip
    event = settled(post_event(client, trigger, {"type": "y"}).json()["eventId"])
    assert event.status == EventStatus.FILTERED
    assert not Delivery.objects.filter(event=event).exists()
    assert not Execution.objects.exists()


OPERATOR_CASES = [
    # (filter row, a body it matches, a body it does not match)
    ({"path": "a.b", "operator": "eq", "value": "x"}, {"a": {"b": "x"}}, {"a": {"b": "y"}}),
    ({"path": "n", "operator": "neq", "value": 1}, {"n": 2}, {"n": 1}),
    ({"path": "n", "operator": "gt", "value": 10}, {"n": "11"}, {"n": 10}),
    ({"path": "n", "operator": "lt", "value": 10}, {"n": 9.5}, {"n": 10}),
    ({"path": "s", "operator": "in", "value": ["a", "b"]}, {"s": "b"}, {"s": "c"}),
    ({"path": "tags", "operator": "contains", "value": "vip"}, {"tags": ["x", "vip"]},
     {"tags": ["x"]}),
    ({"path": "items[0].sku", "operator": "exists", "value": True}, {"items": [{"sku": 1}]},
     {"items": []}),
]  # fmt: skip


def test_every_filter_operator_routes_through_the_receiver(
    client, cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space, tier="instant")
    triggers = [
        make_trigger(cast.space, [{"workflow": workflow, "filters": [row]}], name=row["operator"])
        for row, _yes, _no in OPERATOR_CASES
    ]
    sent = []
    for trigger, (_row, yes, no) in zip(triggers, OPERATOR_CASES, strict=True):
        sent.append((trigger.name, "yes", post_event(client, trigger, yes).json()["eventId"]))
        sent.append((trigger.name, "no", post_event(client, trigger, no).json()["eventId"]))
    for operator, expect, event_id in sent:
        event = settled(event_id)
        wanted = EventStatus.DELIVERED if expect == "yes" else EventStatus.FILTERED
        assert event.status == wanted, (operator, expect)


def test_a_body_that_is_not_json_routes_on_headers(client, cast, celery_worker, events_pipeline):
    workflow = make_workflow(cast.space)
    trigger = make_trigger(cast.space, [{"workflow": workflow, "filters": [
        {"path": "$headers.x-github-event", "operator": "eq", "value": "push"}]}])  # fmt: skip
    push = post_event(client, trigger, raw=b"a,b\n1,2\n", content_type="text/csv",
                      **{"x-github-event": "push"}).json()["eventId"]  # fmt: skip
    other = post_event(client, trigger, raw=b"a,b\n", content_type="text/csv",
                       **{"x-github-event": "issues"}).json()["eventId"]  # fmt: skip
    event = settled(push)
    (run,) = runs_of(event).values()
    assert run.output["input"] == "a,b\n1,2\n"  # the raw body as text
    assert settled(other).status == EventStatus.FILTERED


def test_routes_run_the_version_their_environment_serves(
    client, cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space, code="export default async () => 'v1'")
    workflow.draft_code = "export default async () => 'draft'"
    workflow.save()
    trigger = make_trigger(cast.space, [
        {"workflow": workflow, "environment": "live"},
        {"workflow": workflow, "environment": "test"},
        {"workflow": workflow, "environment": "DRAFT"},
    ])  # fmt: skip
    event = settled(post_event(client, trigger, {}).json()["eventId"])
    outputs = sorted(
        (d.execution.environment, d.execution.output)
        for d in Delivery.objects.filter(event=event).select_related("execution")
    )
    assert outputs == [("DRAFT", "draft"), ("live", "v1"), ("test", "v1")]


def test_a_run_that_fails_is_still_a_delivered_event(client, cast, celery_worker, events_pipeline):
    workflow = make_workflow(
        cast.space, code="export default async () => { throw new Error('no') }"
    )
    trigger = make_trigger(cast.space, [workflow])
    event = settled(post_event(client, trigger, {}).json()["eventId"])
    (delivery,) = Delivery.objects.filter(event=event)
    assert delivery.status == DeliveryStatus.STARTED and delivery.attempts == 1
    assert delivery.execution.status == Status.FAILED
    assert event.status == EventStatus.DELIVERED


def test_events_received_while_the_pipeline_is_down_run_when_it_is_back(
    client, cast, celery_worker
):
    from apps.triggers.pipeline.process import EventsProcess

    workflow = make_workflow(cast.space)
    trigger = make_trigger(cast.space, [workflow])
    ids = [post_event(client, trigger, {"n": n}).json()["eventId"] for n in range(5)]
    assert Outbox.objects.filter(published_at__isnull=True).count() == 5
    process = EventsProcess(consumers=1)
    process.start()
    try:
        events = [settled(event_id) for event_id in ids]
    finally:
        process.shutdown()
    assert {event.status for event in events} == {EventStatus.DELIVERED}
    assert sorted(r.output["input"]["n"] for e in events for r in runs_of(e).values()) == [
        0, 1, 2, 3, 4,
    ]  # fmt: skip
    assert not Outbox.objects.exists()
