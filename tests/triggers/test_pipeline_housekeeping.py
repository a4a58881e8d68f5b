"""The `events` process keeps its tables bounded: expired duplicate keys, old events."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.triggers.models import DedupKey, Event, Source
from apps.triggers.pipeline.housekeeping import dedup_keys_purge, events_purge_old
from apps.triggers.pipeline.routing import event_route
from apps.triggers.receive import event_accept
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow

pytestmark = pytest.mark.django_db


def accept(trigger, key: str):
    return event_accept(trigger, source=Source.WEBHOOK, headers={"webhook-id": key}, body=b"{}")


def test_expired_dedup_keys_are_purged_and_the_key_is_free(cast):
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    first = accept(trigger, "k1")
    assert accept(trigger, "k1").duplicate
    assert dedup_keys_purge() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert dedup_keys_purge() == 1
        assert not DedupKey.objects.exists()
        again = accept(trigger, "k1")
    assert not again.duplicate and again.event.pk != first.event.pk


def test_events_older_than_the_retention_go_with_their_deliveries(cast, settings):
    settings.FASTN_EXECUTION_RETENTION_DAYS = 30
    trigger = make_trigger(cast.space, [make_workflow(cast.space)])
    old = accept(trigger, "old").event
    event_route(old.pk)
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        recent = accept(trigger, "recent").event
        assert events_purge_old() == 0
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert events_purge_old() == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]
