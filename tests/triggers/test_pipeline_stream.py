"""The Redis side of the pipeline: an outage of Redis, trimming, claims, lost and poisoned
entries. A Redis server of its own (started and stopped here) plays the outage."""

from __future__ import annotations

import logging
import socket
import subprocess
from datetime import timedelta
from unittest import mock

import pytest
import redis
from django.test import override_settings
from django.utils import timezone

from apps.triggers import receive
from apps.triggers.models import Event, EventStatus, Outbox
from apps.triggers.pipeline import stream
from apps.triggers.pipeline.consumer import MAX_DELIVERIES, Consumer
from apps.triggers.pipeline.process import EventsProcess
from apps.triggers.pipeline.publisher import outbox_publish, outbox_republish_lost
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow, post_event, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on loopback that a test can stop and start again."""

    def __init__(self, tmp_path):
        self.port, self.dir = free_port(), tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self._ping(), timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def _ping(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False


@pytest.fixture
def own_redis(tmp_path):
    """The pipeline (stream and wake-ups) on a Redis server of its own; runs still go to the
    suite's broker."""
    server = RedisServer(tmp_path)
    server.start()
    with override_settings(REDIS_URL=server.url):
        stream._client = receive._wake_client = None
        receive._wake_paused_until = 0.0
        yield server
    server.stop()
    stream._client = receive._wake_client = None
    receive._wake_paused_until = 0.0


@pytest.fixture
def trigger(cast):
    return make_trigger(cast.space, [make_workflow(cast.space)])


def test_with_redis_down_events_are_accepted_and_flow_once_it_is_back(
    client, cast, trigger, own_redis, caplog
):
    # A Celery test worker started by an earlier module leaves the root logger at ERROR.
    caplog.set_level(logging.INFO)
    process = EventsProcess(consumers=1)
    process.start()
    try:
        first = post_event(client, trigger, {"n": 0}).json()["eventId"]
        wait_until(lambda: Event.objects.get(pk=first).routed_at is not None)
        own_redis.stop()
        down = [post_event(client, trigger, {"n": n}) for n in range(1, 6)]
        assert [r.status_code for r in down] == [202] * 5  # PostgreSQL has them
        ids = [r.json()["eventId"] for r in down]
        assert Outbox.objects.filter(event_id__in=ids, published_at__isnull=True).count() == 5
        # The threads notice the outage, log it once and keep retrying.
        wait_until(lambda: any(loop.failing_since for loop in process.loops), timeout=10)
        own_redis.start()  # empty: the stream and its group are gone too
        wait_until(
            lambda: Event.objects.filter(pk__in=ids, status=EventStatus.DELIVERED).count() == 5,
            timeout=60,
        )
    finally:
        process.shutdown()
    assert "Traceback" not in caplog.text


def test_the_publisher_raises_while_redis_is_down_and_keeps_the_rows(client, trigger, own_redis):
    event_id = post_event(client, trigger, {}).json()["eventId"]
    own_redis.stop()
    with pytest.raises(redis.RedisError):
        outbox_publish()
    assert Outbox.objects.get(event_id=event_id).published_at is None
    own_redis.start()
    assert outbox_publish() == 1
    assert Outbox.objects.get(event_id=event_id).published_at is not None


def test_trimming_keeps_pending_and_undelivered_entries(own_redis):
    r = stream.client()
    stream.ensure_group()
    ids = [r.xadd(stream.STREAM, {"event": f"e{n}"}) for n in range(10)]
    delivered = r.xreadgroup(stream.GROUP, "c1", {stream.STREAM: ">"}, count=6)[0][1]
    assert [entry_id for entry_id, _ in delivered] == ids[:6]
    r.xack(stream.STREAM, stream.GROUP, ids[0], ids[1], ids[3], ids[4], ids[5])
    # Pending: ids[2]; acknowledged: 0, 1, 3, 4, 5; never delivered: 6 to 9.
    assert stream.trim_acknowledged() == 2
    kept = [entry_id for entry_id, _ in r.xrange(stream.STREAM)]
    assert kept == ids[2:]
    r.xack(stream.STREAM, stream.GROUP, ids[2])
    stream.trim_acknowledged()
    # Nothing pending: everything up to the last delivered entry goes, that one excepted.
    assert [entry_id for entry_id, _ in r.xrange(stream.STREAM)] == ids[5:]


@override_settings(FASTN_EVENTS_CLAIM_IDLE_SECONDS=1)
def test_a_dead_consumers_entries_are_claimed_and_routed(client, trigger, own_redis):
    event_id = post_event(client, trigger, {}).json()["eventId"]
    assert outbox_publish() == 1
    r = stream.client()
    stream.ensure_group()
    # A consumer reads the entry and dies before routing it.
    assert r.xreadgroup(stream.GROUP, "dead", {stream.STREAM: ">"}, count=10)
    alive = Consumer("alive")
    assert alive.claim() == 0  # not idle long enough yet
    wait_until(lambda: alive.claim() == 1, timeout=10, interval=0.3)
    assert Event.objects.get(pk=event_id).status == EventStatus.DELIVERED
    assert r.xpending(stream.STREAM, stream.GROUP)["pending"] == 0


def test_an_event_whose_routing_keeps_failing_ends_failed(client, trigger, own_redis):
    event_id = post_event(client, trigger, {}).json()["eventId"]
    outbox_publish()
    r = stream.client()
    stream.ensure_group()
    consumer = Consumer("c")
    entries = r.xreadgroup(stream.GROUP, "c", {stream.STREAM: ">"}, count=10)[0][1]
    with mock.patch("apps.triggers.pipeline.consumer.event_route", side_effect=ValueError("bug")):
        consumer.handle(entries, {entries[0][0]: 1})
        assert r.xpending(stream.STREAM, stream.GROUP)["pending"] == 1  # retried later
        consumer.handle(entries, {entries[0][0]: MAX_DELIVERIES})
    event = Event.objects.get(pk=event_id)
    assert event.status == EventStatus.FAILED and "could not be routed: bug" in event.error
    assert r.xpending(stream.STREAM, stream.GROUP)["pending"] == 0
    assert not Outbox.objects.exists()


def test_an_entry_that_names_no_event_is_dropped(own_redis):
    r = stream.client()
    stream.ensure_group()
    r.xadd(stream.STREAM, {"event": "garbage"})
    assert Consumer("c").read(block_ms=100) == 1
    assert r.xpending(stream.STREAM, stream.GROUP)["pending"] == 0


def test_a_lost_stream_entry_is_published_again(client, trigger, own_redis):
    event_id = post_event(client, trigger, {}).json()["eventId"]
    assert outbox_publish() == 1
    stream.client().flushall()  # Redis restarted without its data
    assert outbox_republish_lost() == 0  # too early to call it lost
    Outbox.objects.update(published_at=timezone.now() - timedelta(seconds=61))
    assert outbox_republish_lost() == 1
    assert Consumer("c").read(block_ms=100) == 1
    assert Event.objects.get(pk=event_id).status == EventStatus.DELIVERED
