"""The run's message sent with one LPUSH is the message Celery's apply_async writes, so a
Celery or kombu upgrade that changes the format fails here rather than in production."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from django.conf import settings

from apps.executions.services.dispatch import (
    P1_USER,
    P2_EVENT,
    P3_SCHEDULE,
    P4_POLLING,
    RUN_TASK,
)
from apps.executions.tasks import run_execution
from fastn_console import taskmessage

# Differ by design between two messages: ids, the sender, and apply_async's RPC reply queue
# (unused: the run task ignores its result).
VOLATILE_HEADERS = {"id", "root_id", "origin"}
VOLATILE_PROPERTIES = {"correlation_id", "delivery_tag", "reply_to"}


def pushed(queue: str) -> dict:
    raw = taskmessage.client(settings.CELERY_BROKER_URL).rpop(queue)
    assert raw is not None, f"nothing was pushed onto {queue}"
    return json.loads(raw)


def comparable(message: dict) -> dict:
    message = dict(message)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    message["headers"] = {k: v for k, v in message["headers"].items() if k not in VOLATILE_HEADERS}
    message["properties"] = {
        k: v for k, v in message["properties"].items() if k not in VOLATILE_PROPERTIES
    }
    return message


@pytest.fixture
def queue():
    name = f"contract-{uuid.uuid4().hex[:8]}"
    yield name
    lists = [taskmessage.queue_list(name, p) for p in (P1_USER, P2_EVENT, P3_SCHEDULE, P4_POLLING)]
    taskmessage.client(settings.CELERY_BROKER_URL).delete(*lists)


@pytest.mark.parametrize("priority", [P1_USER, P2_EVENT, P3_SCHEDULE, P4_POLLING])
def test_lpush_message_is_what_apply_async_writes(queue, priority):
    args = [str(uuid.uuid4())]
    run_execution.apply_async(args=args, queue=queue, priority=priority)
    theirs = pushed(taskmessage.queue_list(queue, priority))
    taskmessage.send(settings.CELERY_BROKER_URL, RUN_TASK, args, queue=queue, priority=priority)
    ours = pushed(taskmessage.queue_list(queue, priority))

    assert comparable(ours) == comparable(theirs)
    assert set(ours["headers"]) == set(theirs["headers"])
    assert set(ours["properties"]) | {"reply_to"} == set(theirs["properties"]) | {"reply_to"}
    assert (
        ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    )
    assert run_execution.name == RUN_TASK
