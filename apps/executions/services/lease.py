"""The lease thread: while a worker runs an execution, the row's lease is renewed every second,
so the reaper (reaper.py) can tell a run whose worker died from one that is merely long."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from apps.executions.models import Execution, Status

logger = logging.getLogger("fastn.executions")

WATCH_INTERVAL_S = 1.0


class LeaseKeeper:
    """One thread per worker process renews the leases of every run in progress there, and
    notices cancel and pause requests, with two queries a second whatever the number of runs
    (one UPDATE of all of them, one SELECT of those asked to stop or pause). It ticks on a
    fixed 1 s cadence, so a lease (FASTN_EXECUTION_LEASE_SECONDS, 8 s) is at most ~1 s older
    than its worker's death."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs: dict[str, threading.Event] = {}
        self.pauses: dict[str, threading.Event] = {}
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def register(
        self, execution_id: str, cancel: threading.Event, pause: threading.Event | None = None
    ) -> None:
        """`cancel` is set when the run is cancelled, `pause` (a durable run's) when an
        operator asks it to pause at its next step boundary."""
        with self.lock:
            self.runs[execution_id] = cancel
            if pause is not None:
                self.pauses[execution_id] = pause
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self.loop, daemon=True, name="leases")
                self.thread.start()

    def unregister(self, execution_id: str) -> None:
        with self.lock:
            self.runs.pop(execution_id, None)
            self.pauses.pop(execution_id, None)

    def loop(self) -> None:
        tick = time.monotonic()
        while True:
            # A slow renewal does not push the next one back (no drift towards the lease).
            tick = max(tick + WATCH_INTERVAL_S, time.monotonic())
            time.sleep(max(0.0, tick - time.monotonic()))
            with self.lock:
                runs = dict(self.runs)
                pauses = dict(self.pauses)
            if not runs:
                continue
            try:
                running = Execution.objects.filter(pk__in=list(runs), status=Status.RUNNING)
                running.update(lease_expires_at=lease_until())
                asked = running.filter(Q(cancel_requested=True) | Q(pause_requested=True))
                for execution_id, cancel, pause in asked.values_list(
                    "pk", "cancel_requested", "pause_requested"
                ):
                    if cancel:
                        runs[str(execution_id)].set()
                    if pause and str(execution_id) in pauses:
                        pauses[str(execution_id)].set()
            except Exception:
                logger.exception("Could not renew execution leases")
                connection.close()


LEASES = LeaseKeeper()


def lease_until():
    return timezone.now() + timedelta(seconds=settings.FASTN_EXECUTION_LEASE_SECONDS)
