"""Helpers shared by the benchmark modules."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def row(name, value, unit, floor_name=None, floor_value=None) -> dict:
    """One line of the `make bench` table: a figure beside its floor, with the ratio."""
    ratio = value / floor_value if floor_value else None
    return {"name": name, "value": value, "unit": unit, "floor_name": floor_name,
            "floor_value": floor_value, "ratio": ratio}  # fmt: skip


def p50_pair(
    measure: Callable[[], object], floor: Callable[[], object], *, repetitions: int, warmup: int = 3
) -> tuple[float, float]:
    """Median milliseconds of a figure and of its floor, alternating call by call after a
    warm-up, so that the noise of a busy machine falls on both alike."""
    for _ in range(warmup):
        measure()
        floor()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repetitions):
        for call, samples in ((measure, timings[0]), (floor, timings[1])):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[0]), statistics.median(timings[1])
