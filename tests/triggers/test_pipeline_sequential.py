"""Sequential triggers: one run at a time per trigger, in arrival order."""

from __future__ import annotations

import itertools

import pytest

from apps.executions.models import Execution, Status
from apps.triggers.models import Delivery, DeliveryStatus, Event, EventStatus, ExecutionMode
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow, post_event, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BUSY = (
    "export default async (ctx) => { const t = Date.now(); while (Date.now() - t < 300) {} "
    "return ctx.input.n; }"
)


def runs_in_event_order(event_ids) -> list[Execution]:
    runs = []
    for event_id in event_ids:
        (delivery,) = Delivery.objects.filter(event_id=event_id).select_related("execution")
        runs.append(delivery.execution)
    return runs


def all_completed(event_ids) -> bool:
    return Execution.objects.filter(
        delivery__event_id__in=event_ids, status=Status.COMPLETED
    ).count() == len(event_ids)


def test_a_sequential_trigger_runs_one_at_a_time_in_arrival_order(
    client, cast, celery_worker, events_pipeline
):
    workflow = make_workflow(cast.space, code=BUSY)
    trigger = make_trigger(cast.space, [workflow], execution_mode=ExecutionMode.SEQUENTIAL)
    event_ids = [post_event(client, trigger, {"n": n}).json()["eventId"] for n in range(5)]
    # While the first runs, the others wait in line.
    wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.WAITING).count() >= 3)
    assert Execution.objects.filter(status__in=[Status.PENDING, Status.RUNNING]).count() <= 1
    wait_until(lambda: all_completed(event_ids), timeout=60)
    runs = runs_in_event_order(event_ids)
    assert [run.output for run in runs] == [0, 1, 2, 3, 4]
    for earlier, later in itertools.pairwise(runs):
        assert later.queued_at >= earlier.finished_at, "a run started before the previous ended"
    assert {Event.objects.get(pk=e).status for e in event_ids} == {EventStatus.DELIVERED}


def test_a_parallel_trigger_overlaps_its_runs(client, cast, celery_worker, events_pipeline):
    """The control: the same five events on a parallel trigger run side by side."""
    workflow = make_workflow(cast.space, code=BUSY)
    trigger = make_trigger(cast.space, [workflow])
    event_ids = [post_event(client, trigger, {"n": n}).json()["eventId"] for n in range(5)]
    wait_until(lambda: all_completed(event_ids), timeout=60)
    runs = sorted(runs_in_event_order(event_ids), key=lambda run: run.started_at)
    overlapping = sum(1 for a, b in itertools.pairwise(runs) if b.started_at < a.finished_at)
    assert overlapping >= 1


def test_a_failed_delivery_does_not_block_the_line_forever(
    client, cast, celery_worker, events_pipeline
):
    broken = make_workflow(cast.space, "broken", enabled=False)
    fine = make_workflow(cast.space, "fine")
    trigger = make_trigger(
        cast.space,
        [{"workflow": broken, "filters": [{"path": "to", "operator": "eq", "value": "broken"}]},
         {"workflow": fine, "filters": [{"path": "to", "operator": "eq", "value": "fine"}]}],
        execution_mode=ExecutionMode.SEQUENTIAL, max_attempts=2,
    )  # fmt: skip
    first = post_event(client, trigger, {"to": "broken"}).json()["eventId"]
    second = post_event(client, trigger, {"to": "fine"}).json()["eventId"]
    wait_until(lambda: all_completed([second]), timeout=30)
    assert Event.objects.get(pk=first).status == EventStatus.DEAD_LETTERED
    first_delivery = Delivery.objects.get(event_id=first)
    second_run = Delivery.objects.get(event_id=second).execution
    # The second waited for the first's retries to end (dead-lettered) before it started.
    assert first_delivery.attempts == 2
    assert second_run.queued_at >= first_delivery.dead_letter.created_at
