"""The Redis Stream between the publisher and the consumers: one stream, one consumer group.

An entry is `{"event": <event id>}`. The same event may be in the stream more than once (the
publisher died between XADD and marking its outbox row, or an entry was published again after
it was lost): routing is idempotent, so a second entry finds the event routed and is only
acknowledged."""

from __future__ import annotations

import redis
from django.conf import settings

from apps.triggers.receive import WAKE_KEY

STREAM = "fastn:events"
GROUP = "pipeline"
__all__ = ["GROUP", "STREAM", "WAKE_KEY", "client", "ensure_group", "trim_acknowledged"]

_client = None


def client() -> redis.Redis:
    """The pipeline's Redis client (thread-safe; its pool gives each thread a connection).
    The read timeout leaves room for the blocking reads (1 s)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=10
        )
    return _client


def ensure_group() -> None:
    """Create the stream and its consumer group if missing. From id 0: entries published while
    no consumer existed yet are read too."""
    try:
        client().xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def trim_acknowledged() -> int:
    """Drop entries every consumer is done with, never a pending one.

    An entry is still needed while it is pending (delivered to a consumer, not acknowledged)
    or not yet delivered (after the group's last-delivered id). So the stream is trimmed with
    MINID to the oldest pending entry, or when none is pending to the last delivered one: XTRIM
    MINID keeps every entry at or after that id. Racing consumers cannot make this drop an
    entry they need: a newly delivered entry has an id above the last-delivered id that was
    read, and a claim (XAUTOCLAIM) moves an entry between consumers without changing its id.
    Answers how many entries were removed."""
    r = client()
    groups = {g["name"].decode(): g for g in r.xinfo_groups(STREAM)}
    group = groups.get(GROUP)
    if group is None:
        return 0
    pending = r.xpending(STREAM, GROUP)
    oldest = pending["min"] if pending["pending"] else group["last-delivered-id"]
    if isinstance(oldest, bytes):
        oldest = oldest.decode()
    if not oldest or oldest == "0-0":
        return 0
    return r.xtrim(STREAM, minid=oldest, approximate=False)
