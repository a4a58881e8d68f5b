"""fastn.state from Python: 100 sequential `state_set` calls against 100 raw psycopg upserts.

The issue's target is a *workflow* doing 100 `fastn.state.set` calls within 3× of the same 100
upserts done directly from Python; the runtime bridge adds its own cost on top of this figure,
so the service itself has to sit well below 3×. (The runtime figure is measured elsewhere.)

Setup: needs DATABASE_URL pointing at a migrated PostgreSQL database. `make bench`
(scripts/bench.sh) starts a throwaway server, creates and migrates `fastn`, and
benchmarks/run.py calls `django.setup()` before importing this module. Standalone:

    DATABASE_URL=postgres://… python manage.py migrate && python benchmarks/bench_state.py

The benchmark creates one Space of its own and deletes it (and its state) afterwards.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from common import p50_pair

CALLS = 100
REPETITIONS = 21
VALUE = {"cursor": "abc123", "page": 7, "done": False, "ids": [1, 2, 3]}


def run() -> list[dict]:
    import psycopg
    from django.db import connection
    from psycopg.types.json import Jsonb

    from apps.datastore.models import StateEntry
    from apps.datastore.state import StateScope, _upsert_sql, state_get, state_set
    from apps.spaces.models import Space

    if connection.vendor != "postgresql":
        raise RuntimeError("bench_state needs PostgreSQL: set DATABASE_URL")

    space = Space.objects.create(name="bench", slug=f"bench-{uuid.uuid4().hex[:12]}")
    try:
        scope_ref = StateScope(space.id, None, str(uuid.uuid4()), "bench-run")
        floor_workflow = str(uuid.uuid4())
        keys = [f"key-{index}" for index in range(CALLS)]
        # The same statement the service sends, in psycopg's own placeholder style.
        upsert = _upsert_sql("postgresql")
        select = (
            f"SELECT value FROM {StateEntry._meta.db_table} WHERE space_id = %s AND "
            "customer_key = '' AND workflow_key = %s AND scope = 'ORG' AND invocation_id = '' "
            "AND key = %s AND (expires_at IS NULL OR expires_at > now())"
        )

        def service_sets() -> None:
            for key in keys:
                state_set(scope_ref, key, VALUE)

        def service_gets() -> None:
            for key in keys:
                state_get(scope_ref, key)

        with _raw_connection(psycopg, connection.settings_dict) as raw:

            def raw_sets() -> None:
                now = time.time()
                for key in keys:
                    raw.execute(
                        upsert.replace("%s::jsonb", "%s"),
                        [
                            space.id,
                            None,
                            "",
                            floor_workflow,
                            "ORG",
                            "",
                            key,
                            Jsonb(VALUE),
                            None,
                            _ts(now),
                        ],
                    )

            def raw_gets() -> None:
                for key in keys:
                    raw.execute(select, [space.id, floor_workflow, key]).fetchone()

            set_value, set_floor = p50_pair(
                service_sets, raw_sets, repetitions=REPETITIONS, warmup=1
            )
            get_value, get_floor = p50_pair(
                service_gets, raw_gets, repetitions=REPETITIONS, warmup=1
            )
    finally:
        space.delete()

    return [
        _row(
            f"fastn.state.set ×{CALLS} via state_set (p50)",
            set_value,
            "raw psycopg upserts",
            set_floor,
        ),
        _row(
            f"fastn.state.get ×{CALLS} via state_get (p50)",
            get_value,
            "raw psycopg selects",
            get_floor,
        ),
    ]


def _raw_connection(psycopg, settings_dict: dict):
    return psycopg.connect(
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        autocommit=True,
    )


def _ts(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


def _row(name: str, value: float, floor_name: str, floor_value: float) -> dict:
    return {
        "name": name,
        "value": value,
        "unit": "ms",
        "floor_name": f"{floor_name} ×{CALLS} (p50)",
        "floor_value": floor_value,
        "ratio": value / floor_value if floor_value else None,
    }


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
    import django

    django.setup()
    for result in run():
        print(
            f"{result['name']}: {result['value']:.2f} ms; {result['floor_name']}: "
            f"{result['floor_value']:.2f} ms; ratio {result['ratio']:.2f}×"
        )
