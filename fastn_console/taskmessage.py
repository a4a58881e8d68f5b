"""Sending a Celery task with one Redis LPUSH.

Every accepted run sends one message, and Celery's `apply_async` spent more on it than the rest
of the request: 1.2 ms of CPU and 2.3 ms of wall time per message on the 2-core bench machine
(building the message through signals and routers, kombu's producer pool, connection checks,
several round trips), against 0.11 ms and 0.27 ms for one LPUSH of the same bytes. So runs
without a countdown are sent here: the message is Celery's task protocol 2 as kombu's Redis
transport stores it — the same JSON `apply_async` writes (tests/executions/test_taskmessage.py
compares the two field by field, so a Celery upgrade that changes the format fails a test) —
pushed onto the queue's list. Anything else (a countdown, another broker) goes through Celery.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import uuid

import redis

# The Redis transport's list for a priority above 0 is "<queue><sep><priority>"
# (kombu.transport.redis: PrioritySteps, `sep`), with this default separator.
PRIORITY_SEPARATOR = "\x06\x16"
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def client(url: str) -> redis.Redis:
    """One pooled client per broker URL and process (a forked child makes its own: redis-py's
    pool notices the new pid)."""
    found = _clients.get(url)
    if found is None:
        with _clients_lock:
            found = _clients.setdefault(
                url, redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
            )
    return found


def origin() -> str:
    return f"gen{os.getpid()}@{socket.gethostname()}"


def task_message(
    task_name: str,
    args: list,
    *,
    queue: str,
    priority: int = 0,
    ignore_result: bool = True,
    task_id: str | None = None,
) -> bytes:
    """The bytes kombu's Redis transport pushes for `apply_async(args, queue=queue)`."""
    task_id = task_id or str(uuid.uuid4())
    body = json.dumps([args, {}, _EMBED]).encode()
    headers = {
        "lang": "py",
        "task": task_name,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(args),
        "kwargsrepr": "{}",
        "origin": origin(),
        "ignore_result": ignore_result,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    properties = {
        "correlation_id": task_id,
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue},
        "priority": priority,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    }
    return json.dumps(message).encode()


def queue_list(queue: str, priority: int = 0) -> str:
    return f"{queue}{PRIORITY_SEPARATOR}{priority}" if priority else queue


def send(broker_url: str, task_name: str, args: list, *, queue: str, priority: int = 0) -> None:
    """LPUSH the task's message onto its queue; raises redis.RedisError when Redis is away."""
    message = task_message(task_name, args, queue=queue, priority=priority)
    client(broker_url).lpush(queue_list(queue, priority), message)


def send_many(broker_url: str, task_name: str, sends: list[tuple[list, str, int]]) -> None:
    """`send` for many tasks ((args, queue, priority) each) in one pipelined round trip."""
    with client(broker_url).pipeline(transaction=False) as pipe:
        for args, queue, priority in sends:
            message = task_message(task_name, args, queue=queue, priority=priority)
            pipe.lpush(queue_list(queue, priority), message)
        pipe.execute()
