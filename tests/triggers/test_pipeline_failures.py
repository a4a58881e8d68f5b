"""Delivery failures: retries with the trigger's backoff, dead letters, replays (and their
races), the Dead Letter Queue off."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.environments.selectors import environment_by_slug
from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.triggers.models import (
    Backoff,
    DeadLetter,
    DeadLetterStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventStatus,
    Route,
)
from apps.triggers.pipeline import dead_letter_replay, dead_letters_replay_matching
from apps.triggers.pipeline.deadletters import dead_letters_expire
from apps.triggers.pipeline.delivery import backoff_delay
from apps.workflows.services import workflow_deploy, workflow_publish
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow, post_event, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ACTOR = Actor.system("test")


@pytest.mark.parametrize(
    ("kind", "delays"),
    [(Backoff.EXPONENTIAL, [1, 2, 4, 8]), (Backoff.LINEAR, [1, 2, 3, 4]),
     (Backoff.FIXED, [1, 1, 1, 1])],
)  # fmt: skip
def test_backoff_delays(cast, kind, delays):
    trigger = make_trigger(cast.space, [], backoff=kind)
    assert [backoff_delay(trigger, n).total_seconds() for n in (1, 2, 3, 4)] == delays


def dead_lettered(event_id, timeout=30.0) -> DeadLetter:
    return wait_until(
        lambda: DeadLetter.objects.filter(delivery__event_id=event_id).first(), timeout
    )


def test_a_disabled_workflow_is_retried_then_dead_lettered(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=3)
    event_id = post_event(client, trigger, {"n": 1}).json()["eventId"]
    letter = dead_lettered(event_id, timeout=20)
    delivery = Delivery.objects.get(event_id=event_id)
    assert delivery.status == DeliveryStatus.DEAD_LETTERED
    assert delivery.attempts == 3
    assert letter.status == DeadLetterStatus.PENDING and letter.attempts == 3
    assert letter.stage == "execute"
    assert "is disabled" in letter.error
    assert letter.space == cast.space
    assert Event.objects.get(pk=event_id).status == EventStatus.DEAD_LETTERED
    assert not Execution.objects.exists()


def test_the_retries_wait_the_backoff(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=3, backoff=Backoff.LINEAR)
    started = timezone.now()
    event_id = post_event(client, trigger, {}).json()["eventId"]
    dead_lettered(event_id, timeout=20)
    # Linear: 1 s after the first attempt, 2 s after the second.
    assert (timezone.now() - started).total_seconds() >= 3.0


def test_a_delivery_that_recovers_within_its_attempts_runs_once(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, slug="late", deploy=None)
    trigger = make_trigger(cast.space, [workflow], max_attempts=5)
    event_id = post_event(client, trigger, {}).json()["eventId"]
    delivery = wait_until(
        lambda: Delivery.objects.filter(event_id=event_id, status=DeliveryStatus.RETRYING).first()
    )
    assert "is not deployed to 'live'" in delivery.error
    version = workflow_publish(workflow, actor=ACTOR)
    live = environment_by_slug(cast.space, "live")
    workflow_deploy(workflow, version=version, environment=live, actor=ACTOR)
    delivery = wait_until(
        lambda: Delivery.objects.filter(event_id=event_id, status=DeliveryStatus.STARTED).first()
    )
    assert delivery.attempts >= 2 and delivery.error == ""
    assert Execution.objects.filter(delivery=delivery).count() == 1
    assert Event.objects.get(pk=event_id).status == EventStatus.DELIVERED
    assert not DeadLetter.objects.exists()


def test_without_the_dead_letter_queue_the_event_fails(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=1, dead_letter_enabled=False)
    event_id = post_event(client, trigger, {}).json()["eventId"]
    wait_until(lambda: Event.objects.get(pk=event_id).status == EventStatus.FAILED)
    assert Delivery.objects.get(event_id=event_id).status == DeliveryStatus.FAILED
    assert not DeadLetter.objects.exists()


def test_a_deleted_route_is_dead_lettered_at_once(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=10, backoff=Backoff.FIXED)
    event_id = post_event(client, trigger, {}).json()["eventId"]
    wait_until(lambda: Delivery.objects.filter(event_id=event_id, attempts__gte=1).exists())
    Route.objects.filter(trigger=trigger).delete()
    letter = dead_lettered(event_id)
    assert letter.stage == "route"
    assert letter.attempts < 10
    assert "route was deleted" in letter.error


# --- replays --------------------------------------------------------------------------------


def make_dead_letter(client, trigger) -> DeadLetter:
    """A dead letter of `trigger` (its workflow disabled, one attempt)."""
    event_id = post_event(client, trigger, {"for": "replay"}).json()["eventId"]
    return dead_lettered(event_id)


def test_replaying_a_dead_letter_starts_its_run(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=1)
    letter = make_dead_letter(client, trigger)
    # Still broken: the replay is refused, the dead letter stays pending with its new error.
    assert dead_letter_replay(letter, actor=ACTOR) is None
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.PENDING and letter.attempts == 2
    workflow.enabled = True
    workflow.save()
    execution = dead_letter_replay(letter, actor=ACTOR)
    assert execution is not None
    assert execution.input == {"for": "replay"} and execution.triggered_by == "webhook"
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.REPLAYED and letter.replayed_at
    delivery = letter.delivery
    assert delivery.status == DeliveryStatus.STARTED and delivery.execution == execution
    assert delivery.event.status == EventStatus.DELIVERED
    assert dead_letter_replay(letter, actor=ACTOR) is None  # done once
    outcomes = list(
        AuditEvent.objects.filter(action="dead_letter.replay").values_list("outcome", flat=True)
    )
    assert sorted(outcomes) == ["failure", "success"]


def test_two_concurrent_replays_start_one_run(client, cast, events_pipeline):
    assert connection.vendor == "postgresql"
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=1)
    letters = [make_dead_letter(client, trigger) for _ in range(3)]
    workflow.enabled = True
    workflow.save()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def replay(letter):
        try:
            barrier.wait()
            results.append(dead_letter_replay(DeadLetter.objects.get(pk=letter.pk), actor=ACTOR))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=replay, args=(letters[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    started = [execution for execution in results if execution is not None]
    assert len(started) == 2  # one per dead letter, whoever won each race
    assert Execution.objects.count() == 2
    for letter in letters[:2]:
        assert Delivery.objects.get(pk=letter.delivery_id).execution is not None
    assert DeadLetter.objects.get(pk=letters[2].pk).status == DeadLetterStatus.PENDING


def test_replay_all_matching_replays_only_the_matching_ones(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    first = make_trigger(cast.space, [workflow], max_attempts=1, name="First")
    second = make_trigger(cast.space, [workflow], max_attempts=1, name="Second")
    for trigger in (first, first, second):
        make_dead_letter(client, trigger)
    workflow.enabled = True
    workflow.save()
    assert dead_letters_replay_matching(cast.space, trigger=first, actor=ACTOR) == 2
    assert DeadLetter.objects.filter(status=DeadLetterStatus.REPLAYED).count() == 2
    # Another Space replays nothing of this one.
    assert dead_letters_replay_matching(cast.other_space, actor=ACTOR) == 0
    assert dead_letters_replay_matching(cast.space, since=timezone.now(), actor=ACTOR) == 0
    assert dead_letters_replay_matching(cast.space, error_contains="DISABLED", actor=ACTOR) == 1
    assert Execution.objects.count() == 3


def test_old_dead_letters_expire_and_cannot_be_replayed(client, cast, events_pipeline):
    workflow = make_workflow(cast.space, enabled=False)
    trigger = make_trigger(cast.space, [workflow], max_attempts=1)
    letter = make_dead_letter(client, trigger)
    workflow.enabled = True
    workflow.save()
    assert dead_letters_expire() == 0
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert dead_letters_expire() == 1
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.EXPIRED
    assert dead_letter_replay(letter, actor=ACTOR) is None
    assert not Execution.objects.exists()
