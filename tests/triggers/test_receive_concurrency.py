"""Duplicate suppression under concurrency, on PostgreSQL: 50 deliveries of one event at once."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connection

from apps.triggers.models import DedupKey, Event, EventStatus, Outbox
from apps.triggers.selectors import trigger_requests
from tests.triggers.pipeline_fixtures import make_trigger, make_workflow, webhook_url

pytestmark = pytest.mark.django_db(transaction=True)
SENDERS = 50


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class Server(ThreadedWSGIServer):
    # 50 connections at once: the default listen backlog (5) would reset most of them.
    request_queue_size = 128


@pytest.fixture
def server(transactional_db):
    """A threaded HTTP server on loopback serving the console: one thread per request."""
    httpd = Server(("127.0.0.1", 0), QuietHandler, connections_override={})
    httpd.set_app(WSGIHandler())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def in_parallel(count: int, work) -> list:
    """`work(i)` in `count` threads released together; their results, in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("identity", ["webhook-id", "dedup-path"])
def test_fifty_concurrent_duplicates_make_one_event(cast, server, identity):
    """Real HTTP requests to the threaded live server, released together."""
    assert connection.vendor == "postgresql"
    workflow = make_workflow(cast.space)
    dedup_path = "order.id" if identity == "dedup-path" else ""
    trigger = make_trigger(cast.space, [workflow], dedup_path=dedup_path)
    headers = {"webhook-id": "evt_same"} if identity == "webhook-id" else {}

    url = server + webhook_url(trigger)

    def send(i: int):
        body = json.dumps({"order": {"id": 9}, "copy": i}).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json", **headers}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())

    answers = in_parallel(SENDERS, send)
    accepted = [body for status, body in answers if status == 202]
    duplicates = [body for status, body in answers if status == 200]
    assert len(accepted) == 1
    assert len(duplicates) == SENDERS - 1
    first = accepted[0]["eventId"]
    assert {body["eventId"] for body in duplicates} == {first}
    assert all(body["duplicate"] is True for body in duplicates)
    # One event to route; the 49 others are recorded as its duplicates and never routed.
    routable = Event.objects.exclude(status=EventStatus.DUPLICATE)
    assert [str(pk) for pk in routable.values_list("id", flat=True)] == [first]
    assert Event.objects.filter(status=EventStatus.DUPLICATE, duplicate_of_id=first).count() == 49
    assert [str(e) for e in Outbox.objects.values_list("event_id", flat=True)] == [first]
    assert DedupKey.objects.count() == 1
    assert len(trigger_requests(trigger)) == SENDERS
