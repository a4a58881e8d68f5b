"""The `events` process (`python manage.py events`): the pipeline's long-running threads.

- publisher: outbox → stream, woken by each accepted event (and polling every second);
- consumers (FASTN_EVENTS_CONSUMERS threads): stream → routing; every couple of seconds each
  also claims entries a dead consumer left pending;
- ticker: due delivery retries and sequential lines (every TICK_S), the stream trim and the
  lost-entry check (every TRIM_S), housekeeping (every HOUSEKEEPING_S);
- scheduler: fires Scheduler triggers at their due times, and counts their failed runs
  (apps/triggers/scheduling.py says why here rather than in Celery beat).

Run as many `events` processes as you like (on as many machines): the consumer group shares
the stream, and every database step is a conditional update or holds a row lock. With Redis or
the database down each thread logs one line, waits (1 s, doubling up to 5 s) and tries again;
accepted events wait in the outbox meanwhile. SIGTERM or SIGINT: the threads finish the entry
in hand and the process exits (within about a second)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from django.db import DatabaseError, close_old_connections, connection

from apps.triggers.pipeline.consumer import Consumer
from apps.triggers.pipeline.delivery import deliveries_retry_due
from apps.triggers.pipeline.housekeeping import housekeeping
from apps.triggers.pipeline.publisher import Waker, outbox_publish, outbox_republish_lost
from apps.triggers.pipeline.sequential import sequence_tick
from apps.triggers.pipeline.stream import trim_acknowledged
from apps.triggers.scheduling import SETTLE_S, schedule_runs_settle, schedule_tick

logger = logging.getLogger("fastn.triggers")

TICK_S = 0.25
CLAIM_S = 2.0
TRIM_S = 10.0
HOUSEKEEPING_S = 60.0
MAX_PAUSE_S = 5.0
OUTAGE_ERRORS = (redis.RedisError, DatabaseError, OSError)


class Loop:
    """One thread's loop: `step()` until stopped; an outage is logged once, then retried with
    a growing pause; an unexpected error is logged with its traceback and retried likewise."""

    def __init__(self, name: str, step: Callable[[], object], stop: threading.Event):
        self.name, self.step, self.stop = name, step, stop
        self.failing_since: float | None = None
        self.thread = threading.Thread(target=self.run, name=f"events-{name}", daemon=True)

    def run(self) -> None:
        pause = 1.0
        while not self.stop.is_set():
            close_old_connections()
            try:
                self.step()
            except OUTAGE_ERRORS as exc:
                self._failed(f"{type(exc).__name__}: {exc}".strip(), traceback=False)
            except Exception:
                self._failed("unexpected error", traceback=True)
            else:
                if self.failing_since is not None:
                    logger.info("events %s: working again", self.name)
                    self.failing_since = None
                pause = 1.0
                continue
            connection.close()  # a broken connection is replaced on the next step
            self.stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
        connection.close()

    def _failed(self, what: str, *, traceback: bool) -> None:
        if traceback:
            logger.exception("events %s: %s; retrying", self.name, what)
        elif self.failing_since is None:
            logger.warning("events %s: %s; retrying until it works", self.name, what)
        if self.failing_since is None:
            self.failing_since = time.monotonic()


class Every:
    """Call `action` at most once per `seconds`."""

    def __init__(self, seconds: float, action: Callable[[], object]):
        self.seconds, self.action, self.last = seconds, action, 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.seconds:
            self.action()
            self.last = now


class EventsProcess:
    def __init__(
        self, *, consumers: int, publisher: bool = True, ticker: bool = True, scheduler: bool = True
    ):
        self.stop = threading.Event()
        self.loops: list[Loop] = []
        self.waker = Waker()
        if publisher:
            self.loops.append(Loop("publisher", self.publish_step, self.stop))
        for number in range(consumers):
            consumer = Consumer()
            self.loops.append(Loop(f"consumer-{number + 1}", self.consumer_step(consumer),
                                   self.stop))  # fmt: skip
        if ticker:
            self.loops.append(Loop("ticker", self.ticker_step(), self.stop))
        if scheduler:
            self.loops.append(Loop("scheduler", self.scheduler_step(), self.stop))

    def publish_step(self) -> None:
        if outbox_publish() == 0:
            self.waker.wait(1.0)

    def consumer_step(self, consumer: Consumer) -> Callable[[], None]:
        claim = Every(CLAIM_S, consumer.claim)

        def step() -> None:
            consumer.read(block_ms=1000)
            claim()

        return step

    def ticker_step(self) -> Callable[[], None]:
        trim = Every(TRIM_S, lambda: (trim_acknowledged(), outbox_republish_lost()))
        tidy = Every(HOUSEKEEPING_S, housekeeping)

        def step() -> None:
            deliveries_retry_due()
            sequence_tick()
            trim()
            tidy()
            self.stop.wait(TICK_S)

        return step

    def scheduler_step(self) -> Callable[[], None]:
        settle = Every(SETTLE_S, schedule_runs_settle)

        def step() -> None:
            settle()
            self.stop.wait(schedule_tick())

        return step

    def start(self) -> None:
        for loop in self.loops:
            loop.thread.start()
        logger.info("events: %s ready", ", ".join(loop.name for loop in self.loops))

    def shutdown(self, timeout: float = 15.0) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        for loop in self.loops:
            loop.thread.join(max(0.0, deadline - time.monotonic()))
        self.waker.close()

    def run_until_stopped(self) -> None:
        self.start()
        while not self.stop.wait(0.5):
            pass
        self.shutdown()
