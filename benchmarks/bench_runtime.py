"""Benchmark the workflow runtime against the floor of running V8 in-process.

Run: `.venv/bin/python benchmarks/bench_runtime.py` (about 30 s). `run()` returns the
rows `{"name", "value", "unit", "floor_name", "floor_value", "ratio"}` for a combined
`make bench` table.

Measured:
1. floor: a fresh MiniRacer + eval + await + close of the trivial workflow, in this
   process (what a run would cost without any sandbox process);
2. `run_workflow` of the same workflow through the warm pool: p50 latency, and runs
   per second with one and with two calling threads, both per wall-clock second and
   per CPU-second summed over this process and its sandboxes ("per core");
3. starting a sandbox (spawn to ready), and the latency of the run that follows a
   timeout (whose sandbox was killed);
4. the bridge: 100 sequential `fastn.state.set` calls against an in-memory host,
   per call, against calling the host method directly.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apps.runtime import Limits, get_pool, run_workflow, shutdown_pool  # noqa: E402

TRIVIAL = "export default async function () { return { ok: true }; }"
TRIVIAL_SCRIPT = "(async function () { return { ok: true }; })().then((r) => JSON.stringify(r))"
HOST_CALLS = 100
HOST_CALLS_CODE = (
    "export default async function () {\n"
    f"  for (let i = 0; i < {HOST_CALLS}; i++) await fastn.state.set('k' + i, i);\n"
    "  return { ok: true };\n"
    "}\n"
)
SPIN = "export default async () => { await null; while (true) {} };"


class _StateHost:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    def state_set(self, key: str, value: Any, *, scope: str, ttl: int | None) -> None:
        self.values[(scope, key)] = value

    def state_get(self, key: str, *, scope: str) -> Any:
        return self.values.get((scope, key))


def _timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def _p50_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def _floor_ms(repeat: int) -> float:
    from py_mini_racer import MiniRacer

    async def measure() -> list[float]:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            racer = MiniRacer()
            try:
                result = await racer.eval(TRIVIAL_SCRIPT)
                assert result == '{"ok":true}'
            finally:
                racer.close()
            times.append(time.perf_counter() - started)
        return times

    return _p50_ms(asyncio.run(measure()))


def _check(result: Any) -> None:
    if result.status != "completed":
        raise RuntimeError(f"benchmark run failed: {result.error}")


def _cpu_seconds() -> float:
    """CPU time of this process, its reaped children and its live sandboxes.

    Sandboxes are recycled during long measurements; a reaped one's whole lifetime
    moves into RUSAGE_CHILDREN, so the difference of two readings counts each
    process's CPU within the window exactly once."""
    import psutil

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _throughput(threads: int, seconds: float) -> tuple[float, float]:
    """(runs per wall-clock second, runs per CPU second across all processes)."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        host = _StateHost()
        while time.monotonic() < stop:
            _check(run_workflow(TRIVIAL, {}, host))
            counts[index] += 1

    started = time.monotonic()
    cpu_before = _cpu_seconds()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.monotonic() - started
    cpu = _cpu_seconds() - cpu_before
    return sum(counts) / wall, sum(counts) / cpu


def _row(
    name: str, value: float, unit: str, floor_name: str = "", floor_value: float | None = None
) -> dict[str, Any]:
    ratio = round(value / floor_value, 2) if floor_value else None
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "floor_name": floor_name,
        "floor_value": None if floor_value is None else round(floor_value, 3),
        "ratio": ratio,
    }


def run() -> list[dict[str, Any]]:
    rows = []
    host = _StateHost()
    # The floor runs V8 in this process. The sandbox pool is started afterwards, by
    # spawning (never forking), so the two do not interfere.

    # 1. The floor, in this process.
    _floor_ms(20)  # V8 start-up and warm caches
    floor = _floor_ms(200)

    # 2. Through the pool.
    pool = get_pool()
    for _ in range(30):
        _check(run_workflow(TRIVIAL, {}, host))
    trivial = _p50_ms(_timed(lambda: _check(run_workflow(TRIVIAL, {}, host)), 300))
    rows.append(
        _row("run_workflow trivial p50", trivial, "ms", "fresh MiniRacer in-process p50", floor)
    )
    one, one_per_cpu = _throughput(1, 3.0)
    rows.append(_row("runs/s, 1 thread", one, "runs/s", "1000 / floor p50", 1000 / floor))
    rows.append(
        _row(
            "runs per CPU-second, 1 thread", one_per_cpu, "runs/s", "1000 / floor p50", 1000 / floor
        )
    )
    two, two_per_cpu = _throughput(2, 3.0)
    rows.append(_row("runs/s, 2 threads", two, "runs/s", "runs/s, 1 thread", one))
    rows.append(
        _row(
            "runs per CPU-second, 2 threads",
            two_per_cpu,
            "runs/s",
            "1000 / floor p50",
            1000 / floor,
        )
    )

    # 3. Replacing a killed sandbox.
    stalls = []
    spawns_before = len(pool.spawn_times)
    for _ in range(5):
        result = run_workflow(SPIN, {}, host, Limits(timeout_s=0.2))
        assert result.status == "timeout"
        stalls.extend(_timed(lambda: _check(run_workflow(TRIVIAL, {}, host)), 1))
        time.sleep(0.4)  # let the replacement come up before the next round
    spawn_times = pool.spawn_times[spawns_before:] or pool.spawn_times
    rows.append(_row("sandbox start (spawn to ready) p50", _p50_ms(spawn_times), "ms"))
    rows.append(
        _row(
            "first run after a timeout p50",
            _p50_ms(stalls),
            "ms",
            "run_workflow trivial p50",
            trivial,
        )
    )
    rows.append(
        _row(
            "first run after a timeout max",
            max(stalls) * 1000,
            "ms",
            "run_workflow trivial p50",
            trivial,
        )
    )

    # 4. The host-call bridge.
    calls = _p50_ms(_timed(lambda: _check(run_workflow(HOST_CALLS_CODE, {}, host)), 40))
    per_call_us = (calls - trivial) * 1000 / HOST_CALLS
    direct = _timed(
        lambda: [host.state_set(f"k{i}", i, scope="ORG", ttl=None) for i in range(HOST_CALLS)], 200
    )
    direct_us = statistics.median(direct) * 1e6 / HOST_CALLS
    rows.append(
        _row(
            "host call through the bridge", per_call_us, "us/call", "direct Python call", direct_us
        )
    )
    return rows


def main() -> None:
    started = time.monotonic()
    try:
        rows = run()
    finally:
        shutdown_pool()
    header = f"{'measure':40} {'value':>10} {'unit':8} {'against':32} {'floor':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        floor = "" if row["floor_value"] is None else f"{row['floor_value']:.3f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        measure = f"{row['name']:40} {row['value']:10.3f} {row['unit']:8}"
        print(f"{measure} {row['floor_name']:32} {floor:>10} {ratio:>7}")
    print(f"\n({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
