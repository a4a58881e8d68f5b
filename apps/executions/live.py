"""The live trace of a running attempt: its logs and steps while it runs.

1. The sandbox sends each log line over the pipe as it is written (and always ahead of a
   host call); the runtime hands the worker every new log entry and step, capped and
   redacted like the final trace (`run_workflow(progress=...)`).
2. `LiveTrace` only buffers them: the run's thread never waits on anything for this.
3. One flusher thread per worker process pushes every run's buffer to two Redis lists of
   its attempt every FLUSH_INTERVAL_S, all runs in one pipelined round trip. A run is not
   streamed in its first MIN_AGE_S: most runs end sooner and never touch Redis for it.
4. The detail page reads the lists while the row says running. The database gets the trace
   once, at the end, exactly as before: streaming adds no write to the execution row (SQLite
   has one writer; on PostgreSQL every rewrite of a growing JSON column is a dead tuple), and
   the lists expire by themselves.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger("fastn.executions")

LIVE_KEY = "fastn:execution-live:{}:{}:{}"  # execution id, attempt, "logs" | "steps"
MIN_AGE_S = 0.25
FLUSH_INTERVAL_S = 0.2
# While running, the lists outlive the run's timeout by this much, so a worker that died
# leaves nothing behind for long.
RUNNING_TTL_MARGIN_S = 300
# After the end: long enough for a page that read "running" just before to still find them.
ENDED_TTL_S = 60
# A stalled Redis must stall neither the flusher for long nor a page.
SOCKET_TIMEOUT_S = 1.0

_client: redis.Redis | None = None


def live_redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
        )
    return _client


def live_keys(execution_id: Any, attempt: int) -> tuple[str, str]:
    return (
        LIVE_KEY.format(execution_id, attempt, "logs"),
        LIVE_KEY.format(execution_id, attempt, "steps"),
    )


class LiveTrace:
    """The runtime's `progress` callback for one attempt: a buffer that the flusher drains.
    Use as a context manager around the run."""

    def __init__(self, execution_id: Any, attempt: int, *, timeout_s: float) -> None:
        self.execution_id = execution_id
        self.keys = live_keys(execution_id, attempt)
        self.ttl = int(timeout_s) + RUNNING_TTL_MARGIN_S
        self.started = time.monotonic()
        self.pushed = False  # touched by the flusher only
        self._lock = threading.Lock()
        self._logs: list[dict[str, Any]] = []
        self._steps: list[dict[str, Any]] = []
        self._closed = False

    def __enter__(self) -> LiveTrace:
        FLUSHER.register(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # What was not pushed yet is dropped: the row has the whole trace now.
        with self._lock:
            self._closed = True
            self._logs, self._steps = [], []

    def __call__(self, logs: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
        with self._lock:
            if not self._closed:
                self._logs += logs
                self._steps += steps

    def take(self, now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        """For the flusher: what to push now (nothing while the run is young); None once
        the attempt is over."""
        with self._lock:
            if self._closed:
                return None
            if now - self.started < MIN_AGE_S:
                return [], []
            taken = self._logs, self._steps
            self._logs, self._steps = [], []
            return taken


class LiveFlusher:
    """Pushes the buffered traces of every run in progress in this process to Redis."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.traces: set[LiveTrace] = set()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()
        self.failing = False

    def register(self, trace: LiveTrace) -> None:
        with self.lock:
            self.traces.add(trace)
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self.loop, daemon=True, name="live-trace")
                self.thread.start()
        self.wake.set()

    def loop(self) -> None:
        while True:
            with self.lock:
                idle = not self.traces
            if idle:
                self.wake.wait()
                self.wake.clear()
            time.sleep(FLUSH_INTERVAL_S)
            try:
                self.flush()
            except Exception:
                logger.exception("Could not push live traces")

    def flush(self) -> None:
        """1. take every trace's new entries; 2. push them all in one pipeline (and let the
        lists of ended attempts expire soon); 3. forget the ended attempts."""
        now = time.monotonic()
        with self.lock:
            traces = list(self.traces)
        pipe = live_redis().pipeline(transaction=False)
        ended = []
        for trace in traces:
            taken = trace.take(now)
            if taken is None:
                ended.append(trace)
                if trace.pushed:
                    for key in trace.keys:
                        pipe.expire(key, ENDED_TTL_S)
                continue
            for key, items in zip(trace.keys, taken, strict=True):
                if items:
                    pipe.rpush(key, *(json.dumps(item, default=str) for item in items))
                    pipe.expire(key, trace.ttl)
                    trace.pushed = True
        if len(pipe):
            try:
                pipe.execute()
                self.failing = False
            except redis.RedisError as exc:
                # Those entries are lost to the live view only: the row gets the whole trace.
                if not self.failing:
                    logger.warning("Live traces not pushed (Redis): %s", exc)
                self.failing = True
        with self.lock:
            self.traces.difference_update(ended)


FLUSHER = LiveFlusher()


def live_read(
    execution_id: Any, attempt: int, *, logs_from: int = 0, steps_from: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The attempt's log entries and steps from the given positions on; None when Redis
    cannot be read (the page says so and shows the trace once the run ends)."""
    logs_key, steps_key = live_keys(execution_id, attempt)
    try:
        with live_redis().pipeline(transaction=False) as pipe:
            pipe.lrange(logs_key, max(0, logs_from), -1)
            pipe.lrange(steps_key, max(0, steps_from), -1)
            logs, steps = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("Could not read the live trace of run %s: %s", execution_id, exc)
        return None
    return [json.loads(item) for item in logs], [json.loads(item) for item in steps]
