"""Floors measured in a process of their own: `python -m floors.probe isolate|roundtrip N`
prints a JSON list of N timings in milliseconds (after a warm-up).

- isolate: a fresh `MiniRacer()` + eval of the trivial function + `.get()` of its promise
  (`JSON.stringify` of the result) + close — the cost of one fresh-isolate run, in-process.
- roundtrip: `floors.noop.apply_async().get()` against the running floor worker
  (FLOORS_REDIS_URL) — the bare Celery round trip.
"""

from __future__ import annotations

import json
import sys
import time

from floors import TRIVIAL_FUNCTION


def isolate_once() -> None:
    from py_mini_racer import MiniRacer

    with MiniRacer() as racer:
        promise = racer.eval(f"({TRIVIAL_FUNCTION})({{}}).then((r) => JSON.stringify(r))")
        assert promise.get(timeout=10) == '{"ok":true}'


def roundtrip_once() -> None:
    from floors.celery_app import noop

    noop.apply_async().get(timeout=10)


def timings(fn, count: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


if __name__ == "__main__":
    what, count = sys.argv[1], int(sys.argv[2])
    fn = {"isolate": isolate_once, "roundtrip": roundtrip_once}[what]
    json.dump(timings(fn, count, warmup=20), sys.stdout)
