"""Floors measured in a process of their own: `python -m floors.probe isolate N` or
`python -m floors.probe roundtrip N QUEUE` prints a JSON list of N timings in milliseconds
(after a warm-up).

- isolate: a fresh `MiniRacer()` + eval of the trivial function + `.get()` of its promise
  (`JSON.stringify` of the result) + close — the cost of one fresh-isolate run, in-process.
- roundtrip: `floors.noop.apply_async(queue=QUEUE).get()` against the running floor worker
  that consumes QUEUE (FLOORS_REDIS_URL) — the bare Celery round trip.
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


def roundtrip_once(queue: str) -> None:
    from floors.celery_app import noop

    noop.apply_async(queue=queue).get(timeout=10)


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
    if what == "isolate":
        fn = isolate_once
    else:
        queue = sys.argv[3]

        def fn() -> None:
            roundtrip_once(queue)

    json.dump(timings(fn, count, warmup=20), sys.stdout)
