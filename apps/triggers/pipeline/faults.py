"""Crash points for the test suite: with FASTN_EVENTS_FAULT naming one (honoured only when
FASTN_ENV=test, see settings.py), the `events` process SIGKILLs itself when it gets there —
the worst moment for a crash, at a place a test can choose, with no cleanup of any kind."""

from __future__ import annotations

import os
import signal

from django.conf import settings

POINTS = frozenset({"publisher-after-xadd", "consumer-before-ack", "scheduler-after-claim"})


def maybe_crash(point: str) -> None:
    if point == settings.FASTN_EVENTS_FAULT:
        os.kill(os.getpid(), signal.SIGKILL)
