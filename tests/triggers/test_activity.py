"""Activity → Events and Activity → Dead letters through the test client: the lists (tabs with
counts, filters, id search, keyset pages), an event's page (headers without credentials, the
payload, the routing outcome per route with the filter rows), Replay of an event and of dead
letters (one, all matching, twice at once), expiry, roles and tenancy.

Events are accepted and routed in-process (`event_accept`, then `event_route`, the consumer's
own call), so what the pages show is what the pipeline wrote."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.console.templatetags.formatting import status_badge
from apps.environments.selectors import environment_by_slug
from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from apps.triggers.models import (
    DeadLetter,
    DeadLetterStatus,
    Delivery,
    Event,
    EventStatus,
    Outbox,
    Source,
)
from apps.triggers.pipeline.deadletters import dead_letter_replay, dead_letters_expire
from apps.triggers.pipeline.replay import REPLAY_HEADER, event_replay, new_replay_token
from apps.triggers.pipeline.routing import event_route
from apps.triggers.receive import event_accept
from apps.workflows.services import workflow_deploy, workflow_publish
from tests.conftest import login
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def url(name, space, **kwargs):
    return reverse(name, kwargs={"space_slug": space.slug, **kwargs})


def arrive(trigger, body=b'{"order": 7}', *, route=True, headers=None, content_type=None,
           source=Source.WEBHOOK, **kwargs) -> Event:  # fmt: skip
    """An event accepted as the receiver accepts it, then routed as the consumer routes it."""
    accepted = event_accept(
        trigger, source=source, headers=headers or {"content-type": "application/json"},
        body=body, content_type=content_type or "application/json", **kwargs,
    )  # fmt: skip
    if route and not accepted.duplicate:
        event_route(accepted.event.id)
    return Event.objects.get(pk=accepted.event.pk) if not accepted.duplicate else None


def deploy_live(workflow):
    """Fix a route to `live`: publish the workflow and deploy it there."""
    version = workflow_publish(workflow, actor=SYSTEM)
    live = environment_by_slug(workflow.space, "live")
    workflow_deploy(workflow, version=version, environment=live, actor=SYSTEM)


@pytest.fixture
def broken(cast):
    """A webhook with one attempt whose route targets `live`, where its workflow is not
    deployed: every event ends in Dead letters."""
    workflow = make_workflow(cast.space, "fulfil", deploy=None, name="Fulfil")
    trigger = make_trigger(cast.space, [{"workflow": workflow, "environment": "live"}],
                           name="Shop", max_attempts=1)  # fmt: skip
    return trigger, workflow


def dead_letter_of(event) -> DeadLetter:
    return DeadLetter.objects.select_related("delivery").get(delivery__event=event)


# --- Activity → Events ----------------------------------------------------------------------


def test_events_are_listed_newest_first_with_trigger_status_runs_and_customer(client, cast):
    customer = customer_create(cast.space, name="Acme", external_id="acme", actor=SYSTEM)
    workflow = make_workflow(cast.space)
    trigger = make_trigger(cast.space, [workflow], customer=customer, name="Orders")
    first = arrive(trigger)
    second = arrive(trigger, b'{"order": 8}')
    login(client, cast.viewer)

    page = client.get(url("events", cast.space)).content.decode()

    assert page.index(str(second.id)) < page.index(str(first.id))
    run = Delivery.objects.get(event=second).execution
    assert url("execution_detail", cast.space, execution_id=run.id) in page
    assert url("trigger_detail", cast.space, trigger_id=trigger.id) in page
    assert url("event_detail", cast.space, event_id=second.id) in page
    assert "Delivered" in page and "badge-success" in page
    assert "Acme" in page and "Webhook" in page


def test_status_tabs_count_and_filter(client, cast, broken):
    workflow = make_workflow(cast.space)
    filtered = make_trigger(cast.space, [{"workflow": workflow, "filters": [
        {"path": "type", "operator": "eq", "value": "order"}]}], name="Typed")  # fmt: skip
    arrive(filtered, b'{"type": "refund"}')
    arrive(filtered, b'{"type": "order"}')
    arrive(filtered, b'{"type": "order"}', headers={"webhook-id": "msg_1"})
    arrive(filtered, b'{"type": "order"}', headers={"webhook-id": "msg_1"})  # a duplicate
    arrive(broken[0])
    arrive(filtered, route=False)  # still in the outbox
    login(client, cast.viewer)

    response = client.get(url("events", cast.space))
    counts = {tab: n for tab, _label, _query, n in response.context["tabs"]}
    assert counts == {"all": "6", "delivered": "2", "duplicate": "1", "filtered": "1",
                      "failed": "0", "dead-lettered": "1", "in-progress": "1"}  # fmt: skip
    rows = client.get(url("events", cast.space), {"tab": "dead-lettered"}).context["rows"]
    assert [row.status for row in rows] == [EventStatus.DEAD_LETTERED]
    duplicate = client.get(url("events", cast.space), {"tab": "duplicate"}).context["rows"][0]
    assert duplicate.duplicate_of_id is not None


def test_filters_by_source_trigger_customer_range_and_event_id(client, cast):
    customer = customer_create(cast.space, name="Acme", external_id="acme", actor=SYSTEM)
    workflow = make_workflow(cast.space)
    shop = make_trigger(cast.space, [workflow], name="Shop", customer=customer)
    crm = make_trigger(cast.space, [workflow], name="CRM")
    from_shop = arrive(shop)
    test_event = arrive(crm, source=Source.TEST)
    old = arrive(crm)
    Event.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=3))
    theirs = make_trigger(cast.other_space, [make_workflow(cast.other_space)], name="Theirs")
    login(client, cast.viewer)

    def ids(**query):
        response = client.get(url("events", cast.space), query)
        assert response.status_code == 200
        return {row.id for row in response.context["rows"]}

    assert ids() == {from_shop.id, test_event.id}  # the last 24 hours by default
    assert ids(range="7d") == {from_shop.id, test_event.id, old.id}
    assert ids(source="test") == {test_event.id}
    assert ids(trigger=str(shop.id)) == {from_shop.id}
    assert ids(customer=str(customer.id)) == {from_shop.id}
    # Another Space's trigger is not a filter of this one: dropped, not an error.
    assert ids(trigger=str(theirs.id)) == {from_shop.id, test_event.id}
    # A whole id finds its event whatever the range; a beginning narrows the list.
    assert ids(q=str(old.id)) == {old.id}
    assert ids(q=str(old.id).upper()) == {old.id}
    assert ids(q=str(from_shop.id)[:8], range="7d") == {from_shop.id}
    response = client.get(url("events", cast.space), {"q": "order 7"})
    assert response.context["rows"] == []
    assert "only the digits 0-9" in response.content.decode()


def test_the_list_pages_by_keyset_and_keeps_its_filters(client, cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    made = [arrive(trigger, route=False).id for _ in range(53)]
    login(client, cast.viewer)

    first = client.get(url("events", cast.space), {"tab": "in-progress"})
    assert len(first.context["rows"]) == 50
    older = first.context["older_query"]
    assert "tab=in-progress" in older and "before=" in older
    second = client.get(url("events", cast.space) + "?" + older)
    assert len(second.context["rows"]) == 3
    seen = [row.id for row in first.context["rows"]] + [row.id for row in second.context["rows"]]
    assert sorted(seen) == sorted(made) and len(set(seen)) == 53
    assert second.context["older_query"] == ""
    # htmx (a filter change) gets the results region only.
    part = client.get(url("events", cast.space), headers={"HX-Request": "true"})
    assert b"<html" not in part.content and b'data-testid="events-table"' in part.content


def test_an_event_page_shows_headers_without_credentials_and_the_payload(client, cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    headers = {"content-type": "application/json", "x-shop": "s1",
               "x-fastn-key": "fsk_live_SECRETKEY", "cookie": "sid=SECRET"}  # fmt: skip
    event = arrive(trigger, headers=headers)
    # A row written around the receiver (an import, an old version) is shown safely too.
    Event.objects.filter(pk=event.pk).update(
        headers={**event.headers, "authorization": "Bearer SECRETTOKEN"}
    )
    login(client, cast.viewer)

    page = client.get(url("event_detail", cast.space, event_id=event.id)).content.decode()

    assert "x-shop" in page and "s1" in page
    assert "SECRET" not in page
    assert "json-tree" in page and "&quot;order&quot;" in page
    assert url("trigger_detail", cast.space, trigger_id=trigger.id) in page


def test_a_body_that_is_not_json_is_shown_as_text_and_cut_past_64_kb(client, cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    small = arrive(trigger, b"name=<b>x</b>&&&", content_type="text/csv")
    big = arrive(trigger, b"a" * 70_000 + b"TAIL", content_type="text/plain; charset=utf-8")
    binary = arrive(trigger, b"\x00\xff\xfe binary", content_type="application/octet-stream")
    login(client, cast.viewer)

    def body(event):
        response = client.get(url("event_detail", cast.space, event_id=event.id))
        return response.context["body"], response.content.decode()

    view, page = body(small)
    assert view.kind == "text" and not view.truncated
    assert "name=&lt;b&gt;x&lt;/b&gt;&amp;&amp;&amp;" in page
    view, page = body(big)
    assert view.kind == "text" and view.truncated and len(view.text) == 64 * 1024
    assert "only the first 64 KB" in page and "TAIL" not in page
    view, page = body(binary)
    assert view.kind == "binary" and "A binary body of" in page


def test_the_routing_outcome_per_route_with_the_filter_rows(client, cast, broken):
    alpha, beta = make_workflow(cast.space, "alpha"), make_workflow(cast.space, "beta")
    trigger = make_trigger(cast.space, [
        {"workflow": alpha, "filters": [{"path": "type", "operator": "eq", "value": "order"}]},
        {"workflow": beta, "filters": [{"path": "total", "operator": "gt", "value": 100}]},
    ])  # fmt: skip
    event = arrive(trigger, b'{"type": "order", "total": 50}')
    login(client, cast.viewer)

    response = client.get(url("event_detail", cast.space, event_id=event.id))
    rows = {row.workflow_name: row for row in response.context["routing"]}
    assert rows["Alpha"].outcome == "matched" and rows["Alpha"].delivery.execution_id
    assert rows["Beta"].outcome == "filtered"
    (check,) = rows["Beta"].checks
    assert (check["path"], check["actual"], check["passed"]) == ("total", 50, False)
    page = response.content.decode()
    assert "failed: the event has" in page and "Filtered" in page

    # A dead-lettered delivery: its status, error, attempts and a link to the dead letter.
    dead = arrive(broken[0])
    response = client.get(url("event_detail", cast.space, event_id=dead.id))
    (row,) = response.context["routing"]
    assert row.delivery.status == "dead-lettered" and row.delivery.attempts == 1
    page = response.content.decode()
    assert "is not deployed to &#x27;live&#x27;" in page
    assert url("dead_letter_detail", cast.space, dead_letter_id=dead_letter_of(dead).id) in page


def test_a_duplicate_links_to_its_first_event(client, cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    first = arrive(trigger, headers={"webhook-id": "msg_1"})
    arrive(trigger, headers={"webhook-id": "msg_1"})
    duplicate = Event.objects.get(status=EventStatus.DUPLICATE)
    login(client, cast.viewer)
    page = client.get(url("event_detail", cast.space, event_id=duplicate.id)).content.decode()
    assert url("event_detail", cast.space, event_id=first.id) in page
    assert "A duplicate is not routed" in page


# --- Replaying an event ---------------------------------------------------------------------


def test_replay_makes_a_new_event_linked_to_the_original_and_a_click_is_one_replay(client, cast):
    customer = customer_create(cast.space, name="Acme", external_id="acme", actor=SYSTEM)
    trigger = make_trigger(cast.space, [make_workflow(cast.space)], customer=customer)
    original = arrive(trigger, headers={"content-type": "application/json", "x-shop": "s1"})
    login(client, cast.operator)
    page = client.get(url("event_detail", cast.space, event_id=original.id))
    token = page.context["replay_token"]
    assert 'data-testid="event-replay"' in page.content.decode()

    response = client.post(url("event_replay", cast.space, event_id=original.id), {"token": token})

    replay = Event.objects.get(replay_of=original)
    assert response.status_code == 302
    assert response["Location"] == url("event_detail", cast.space, event_id=replay.id)
    assert replay.source == Source.MANUAL and replay.customer == customer
    assert bytes(replay.body) == bytes(original.body) and replay.payload == {"order": 7}
    assert replay.headers["x-shop"] == "s1" and replay.headers[REPLAY_HEADER] == str(original.id)
    assert Outbox.objects.filter(event=replay).exists()  # on its way through the pipeline
    audit = AuditEvent.objects.get(action="event.replay")
    assert audit.resource_id == str(original.id) and audit.detail["replay"] == str(replay.id)
    assert audit.actor_user_id == cast.operator.id

    # The same click again (a double click, a resubmitted form) is the same replay.
    again = client.post(url("event_replay", cast.space, event_id=original.id), {"token": token})
    assert again["Location"] == response["Location"]
    assert Event.objects.filter(replay_of=original).count() == 1
    # Routed, the replay runs the route once, for the original's customer.
    event_route(replay.id)
    (run,) = Execution.objects.filter(delivery__event=replay)
    assert run.triggered_by == "manual" and run.customer == customer
    page = client.get(url("event_detail", cast.space, event_id=replay.id)).content.decode()
    assert url("event_detail", cast.space, event_id=original.id) in page  # "Replay of"
    page = client.get(url("event_detail", cast.space, event_id=original.id)).content.decode()
    assert str(replay.id) in page  # among its Replays


def test_a_new_click_is_a_new_replay(client, cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    original = arrive(trigger)
    login(client, cast.operator)
    for _ in range(2):
        token = client.get(url("event_detail", cast.space, event_id=original.id)).context[
            "replay_token"
        ]
        client.post(url("event_replay", cast.space, event_id=original.id), {"token": token})
    assert Event.objects.filter(replay_of=original).count() == 2


@pytest.mark.parametrize("case", ["deleted trigger", "disabled trigger", "in flight"])
def test_replay_is_refused_when_it_cannot_run(client, cast, case):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    event = arrive(trigger, route=case != "in flight")
    if case == "deleted trigger":
        trigger.delete()
    elif case == "disabled trigger":
        trigger.enabled = False
        trigger.save()
    login(client, cast.owner)

    page = client.get(url("event_detail", cast.space, event_id=event.id)).content.decode()
    assert 'data-testid="event-replay"' not in page
    assert 'data-testid="replay-refusal"' in page
    response = client.post(url("event_replay", cast.space, event_id=event.id), follow=True)
    assert response.status_code == 200
    assert Event.objects.filter(replay_of=event).count() == 0
    assert not AuditEvent.objects.filter(action="event.replay").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_click_make_one_event_and_of_two_clicks_two(cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    original = arrive(trigger)
    same, other = new_replay_token(), new_replay_token()
    results, barrier = [], threading.Barrier(4)

    def replay(token):
        try:
            barrier.wait()
            results.append(event_replay(original, actor=SYSTEM, token=token))
        finally:
            connection.close()

    threads = [threading.Thread(target=replay, args=(t,)) for t in (same, same, same, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    replays = Event.objects.filter(replay_of=original)
    assert replays.count() == 2
    assert sorted(r.created for r in results) == [False, False, True, True]
    assert len({r.event.id for r in results}) == 2
    assert AuditEvent.objects.filter(action="event.replay").count() == 2


# --- Activity → Dead letters ----------------------------------------------------------------


def test_dead_letters_list_their_trigger_workflow_stage_error_attempts_and_status(
    client, cast, broken
):
    trigger, workflow = broken
    event = arrive(trigger)
    letter = dead_letter_of(event)
    login(client, cast.viewer)

    response = client.get(url("dead_letters", cast.space))

    (row,) = response.context["rows"]
    assert row.id == letter.id and row.shown_status == "pending"
    page = response.content.decode()
    for text in ("Shop", "Fulfil", "execute", "is not deployed to &#x27;live&#x27;", "Pending"):
        assert text in page
    assert url("trigger_detail", cast.space, trigger_id=trigger.id) in page
    assert url("workflow_editor", cast.space, workflow_id=workflow.id) in page
    assert 'data-testid="replay"' not in page  # a viewer: no Replay
    assert 'data-testid="replay-all"' not in page
    detail = client.get(url("dead_letter_detail", cast.space, dead_letter_id=letter.id))
    assert detail.context["body"].payload == {"order": 7}
    assert url("event_detail", cast.space, event_id=event.id) in detail.content.decode()


def test_replay_one_after_the_fix_starts_its_run_once(client, cast, broken):
    trigger, workflow = broken
    event = arrive(trigger)
    letter = dead_letter_of(event)
    login(client, cast.operator)
    replay = url("dead_letter_replay", cast.space, dead_letter_id=letter.id)

    # Still broken: refused again, still pending, the error said.
    response = client.post(replay, {"next": "list?tab=pending"}, follow=True)
    assert "refused again" in response.content.decode()
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.PENDING and letter.attempts == 2

    deploy_live(workflow)
    response = client.post(replay, {"next": "list?tab=all&q=%00&bogus=1"})
    assert response["Location"] == url("dead_letters", cast.space) + "?tab=all&range=all"
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.REPLAYED and letter.replayed_at
    (run,) = Execution.objects.filter(workflow=workflow)
    assert Delivery.objects.get(pk=letter.delivery_id).execution == run
    assert Event.objects.get(pk=event.pk).status == EventStatus.DELIVERED

    # Twice: nothing more starts, and the page says why.
    response = client.post(replay, follow=True)
    assert "already replayed" in response.content.decode()
    assert Execution.objects.filter(workflow=workflow).count() == 1
    outcomes = list(
        AuditEvent.objects.filter(action="dead_letter.replay").values_list("outcome", flat=True)
    )
    assert sorted(outcomes) == ["failure", "success"]
    page = client.get(url("dead_letters", cast.space), {"tab": "replayed"}).content.decode()
    assert url("execution_detail", cast.space, execution_id=run.id) in page


def test_replay_all_matching_says_how_many_and_replays_only_those(client, cast, broken):
    trigger, workflow = broken
    other = make_trigger(cast.space, [{"workflow": workflow, "environment": "live"}],
                         name="Other", max_attempts=1)  # fmt: skip
    mine = [dead_letter_of(arrive(trigger)) for _ in range(2)]
    theirs = dead_letter_of(arrive(other))
    login(client, cast.operator)

    page = client.get(url("dead_letters", cast.space), {"trigger": str(trigger.id)})
    assert page.context["replayable"] == 2
    assert "Replay 2 pending dead letters matching these filters?" in page.content.decode()
    assert "Replay all matching (2)" in page.content.decode()

    deploy_live(workflow)
    response = client.post(
        url("dead_letters_replay_all", cast.space), {"trigger": str(trigger.id), "range": "all"},
        follow=True,
    )  # fmt: skip
    assert "Replayed 2 dead letters" in response.content.decode()
    statuses = dict(DeadLetter.objects.values_list("id", "status"))
    assert [statuses[d.id] for d in mine] == ["replayed", "replayed"]
    assert statuses[theirs.id] == "pending"
    assert Execution.objects.filter(workflow=workflow).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_from_two_people_start_each_run_once(cast, broken):
    trigger, workflow = broken
    letters = [dead_letter_of(arrive(trigger)) for _ in range(3)]
    deploy_live(workflow)
    barrier = threading.Barrier(4)
    statuses = []

    def post(path, data):
        try:
            browser = Client()
            browser.force_login(cast.operator)
            barrier.wait()
            statuses.append(browser.post(path, data).status_code)
        finally:
            connection.close()

    one = url("dead_letter_replay", cast.space, dead_letter_id=letters[0].id)
    everything = url("dead_letters_replay_all", cast.space)
    jobs = [(one, {}), (one, {}), (everything, {"range": "all"}), (everything, {"range": "all"})]
    threads = [threading.Thread(target=post, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302] * 4
    runs = Execution.objects.filter(workflow=workflow)
    assert runs.count() == 3
    assert {d.execution_id for d in Delivery.objects.filter(dead_letter__in=letters)} == {
        run.id for run in runs
    }
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"replayed"}


def test_expired_dead_letters_cannot_be_replayed(client, cast, broken, settings):
    trigger, workflow = broken
    letter = dead_letter_of(arrive(trigger))
    deploy_live(workflow)
    past = timezone.now() - timedelta(days=settings.FASTN_DEAD_LETTER_DAYS, minutes=1)
    DeadLetter.objects.filter(pk=letter.pk).update(created_at=past)
    login(client, cast.owner)

    # Past the retention but not marked yet: shown expired already, and refused.
    response = client.get(url("dead_letters", cast.space), {"tab": "expired"})
    (row,) = response.context["rows"]
    assert row.shown_status == "expired" and 'data-testid="replay"' not in response.content.decode()
    assert response.context["replayable"] == 0
    assert dead_letter_replay(letter, actor=SYSTEM) is None
    client.post(url("dead_letter_replay", cast.space, dead_letter_id=letter.id))
    client.post(url("dead_letters_replay_all", cast.space), {"range": "all"})
    assert not Execution.objects.filter(workflow=workflow).exists()

    assert dead_letters_expire() == 1
    detail = client.get(url("dead_letter_detail", cast.space, dead_letter_id=letter.id))
    assert 'data-testid="expired-note"' in detail.content.decode()
    assert 'data-testid="replay"' not in detail.content.decode()


# --- Roles and tenancy ----------------------------------------------------------------------


def test_another_spaces_events_and_dead_letters_are_404(client, cast, broken):
    event = arrive(broken[0])
    letter = dead_letter_of(event)
    login(client, cast.outsider)
    for name, kwargs in (("event_detail", {"event_id": event.id}),
                         ("event_replay", {"event_id": event.id}),
                         ("dead_letter_detail", {"dead_letter_id": letter.id}),
                         ("dead_letter_replay", {"dead_letter_id": letter.id})):  # fmt: skip
        # Under the outsider's own Space (where they may do anything): still not found.
        path = url(name, cast.other_space, **kwargs)
        assert client.get(path).status_code in (404, 405)
        assert client.post(path).status_code == 404
    assert client.get(url("events", cast.other_space)).context["rows"] == []
    assert client.get(url("dead_letters", cast.other_space)).context["rows"] == []
    client.post(url("dead_letters_replay_all", cast.other_space), {"range": "all"})
    assert DeadLetter.objects.get(pk=letter.pk).status == "pending"


def test_a_viewer_sees_but_cannot_replay(client, cast, broken):
    trigger, workflow = broken
    event = arrive(trigger)
    letter = dead_letter_of(event)
    deploy_live(workflow)
    login(client, cast.viewer)
    page = client.get(url("event_detail", cast.space, event_id=event.id)).content.decode()
    assert 'data-testid="event-replay"' not in page
    for path in (url("event_replay", cast.space, event_id=event.id),
                 url("dead_letter_replay", cast.space, dead_letter_id=letter.id),
                 url("dead_letters_replay_all", cast.space)):  # fmt: skip
        assert client.post(path, {"range": "all"}).status_code == 403
    assert not Event.objects.filter(replay_of=event).exists()
    assert DeadLetter.objects.get(pk=letter.pk).status == "pending"
    assert AuditEvent.objects.filter(action="access.denied").count() == 3


def test_status_badges_share_the_executions_colours():
    assert status_badge("completed") == "badge-success"
    assert status_badge("delivered", "event") == status_badge("completed")
    assert status_badge("dead-lettered", "event") == status_badge("failed") == "badge-danger"
    assert status_badge("received", "event") == status_badge("running") == "badge-info"
    assert status_badge("pending", "dead_letter") == "badge-warning"
    assert status_badge("replayed", "dead_letter") == "badge-success"
    assert status_badge("expired", "dead_letter") == "badge-neutral"
    assert status_badge("nonsense", "event") == "badge-neutral"


def test_the_poll_of_an_event_in_flight_brings_replay_once_it_has_settled(client, cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    event = arrive(trigger, route=False)
    login(client, cast.operator)
    path = url("event_detail", cast.space, event_id=event.id)
    poll = client.get(path, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in poll and 'data-testid="replay-refusal"' in poll

    event_route(event.id)
    poll = client.get(path, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in poll and 'id="event-actions" hx-swap-oob="true"' in poll
    assert 'data-testid="event-replay"' in poll
    assert 'data-testid="route-outcome" data-outcome="matched"' in poll
