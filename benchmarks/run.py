"""Run every benchmark module and print one table: each figure beside its floor, with the ratio.

Each `benchmarks/bench_*.py` exposes `run() -> list[dict]` with rows
{"name", "value", "unit", "floor_name", "floor_value", "ratio"} (floor fields may be None)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")

MODULES = [
    "bench_runtime",
    "bench_state",
    "bench_workflows",
    "bench_api",
    "bench_activity",
    "bench_executions",
    "bench_webhooks",
    "bench_connectors",
    "bench_insight",
    "bench_durable",
]


def fmt(value, unit) -> str:
    if value is None:
        return "—"
    return f"{value:,.3f} {unit}" if value < 100 else f"{value:,.1f} {unit}"


def main(selected: list[str]) -> int:
    import django

    django.setup()
    rows, failures = [], 0
    for name in selected or MODULES:
        if not (ROOT / "benchmarks" / f"{name}.py").exists():
            continue
        print(f"… {name}", flush=True)
        try:
            rows += [{"module": name, **row} for row in importlib.import_module(name).run()]
        except Exception:
            failures += 1
            traceback.print_exc()
    print()
    print(f"{'figure':58} {'value':>16}  {'floor':44} {'floor value':>14} {'ratio':>7}")
    print("-" * 144)
    for row in rows:
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") is not None else ""
        print(
            f"{row['name'][:58]:58} {fmt(row['value'], row['unit']):>16}  "
            f"{(row.get('floor_name') or '')[:44]:44} "
            f"{fmt(row.get('floor_value'), row['unit']) if row.get('floor_name') else '':>14} "
            f"{ratio:>7}"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.exit(main(sys.argv[1:]))
