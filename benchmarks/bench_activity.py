"""Activity → Executions with a million executions, beside the same page with ten thousand.

Two Spaces of the same user, each with 20 workflows: one holds LARGE executions, the other
SMALL. Rows are bulk-inserted in SQL (`INSERT … SELECT … FROM generate_series`), spread evenly
over the last 23 hours — so all of them fall inside the page's default range ("last 24
hours"), the hardest case for the tab counts and the status tabs — with the same status mix in
both Spaces: 92 % completed, 5 % failed, 1.5 % timeout, 1 % cancelled, 0.25 % running, 0.25 %
pending. After the load the table is VACUUM ANALYZEd, as autovacuum would have done on a live
table of that size.

Figures: the server render time (p50) of `/s/<space>/activity/executions/?tab=<tab>` for the
first page of each tab (all, running, completed, failed, timeout), through the whole Django
stack in-process with the test Client, logged in; large and small alternate request by
request so that a noisy machine weighs on both alike.

Needs DATABASE_URL (PostgreSQL, migrated): `scripts/bench.sh bench_activity`. The module
deletes its Spaces, rows and user afterwards.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from common import p50_pair

LARGE, SMALL = 1_000_000, 10_000
SPAN_HOURS = 23
WORKFLOWS = 20
REPETITIONS = 21
TABS = ("all", "running", "completed", "failed", "timeout")

# status by g % 400: 368 completed, 20 failed, 6 timeout, 4 cancelled, 1 running, 1 pending
STATUS_SQL = """CASE
  WHEN g %% 400 < 368 THEN 'completed' WHEN g %% 400 < 388 THEN 'failed'
  WHEN g %% 400 < 394 THEN 'timeout' WHEN g %% 400 < 398 THEN 'cancelled'
  WHEN g %% 400 = 398 THEN 'running' ELSE 'pending' END"""

INSERT_SQL = """
INSERT INTO {table} (
  id, space_id, workflow_id, workflow_name, version_id, version_number, draft_code,
  environment, tier, timeout_seconds, customer_id, triggered_by, actor_label, status,
  input, headers, output, error, logs, steps, attempts, max_attempts, retry_delays_ms,
  cancel_requested, queued_at, due_at, started_at, finished_at, duration_ms, lease_expires_at)
SELECT
  gen_random_uuid(), %(space)s, (%(workflows)s::uuid[])[1 + g %% {workflows}],
  'Workflow ' || lpad((g %% {workflows})::text, 2, '0'), NULL, 1 + g %% 3, '',
  'live', (ARRAY['instant', 'standard', 'long'])[1 + g %% 3],
  (ARRAY[60, 900, 21600])[1 + g %% 3], NULL,
  (ARRAY['api', 'webhook', 'scheduler', 'manual'])[1 + g %% 4], '', s.status,
  '{{"n": 1}}'::jsonb, '{{}}'::jsonb,
  CASE WHEN s.status = 'completed' THEN '{{"ok": true}}'::jsonb END,
  CASE WHEN s.status IN ('failed', 'timeout', 'cancelled')
       THEN '{{"code": "RUNTIME_ERROR", "message": "boom"}}'::jsonb END,
  '[]'::jsonb, '[]'::jsonb, CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END, 3,
  '[5000, 10000]'::jsonb, false, t.queued, t.queued,
  CASE WHEN s.status <> 'pending' THEN t.queued + interval '3 ms' END,
  CASE WHEN s.status NOT IN ('pending', 'running') THEN t.queued + interval '40 ms' END,
  CASE WHEN s.status NOT IN ('pending', 'running') THEN 37.0 + g %% 50 END,
  CASE WHEN s.status = 'running' THEN now() + interval '30 s' END
FROM generate_series(1, %(count)s) AS g,
  LATERAL (SELECT {status} AS status) AS s,
  LATERAL (SELECT now() - interval '1 minute'
                  - (g * (%(span)s::float8 / %(count)s)) * interval '1 second' AS queued) AS t
"""


def run() -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client

    from apps.executions.models import Execution
    from apps.spaces.audit import Actor
    from apps.spaces.services import space_create
    from apps.workflows.models import Workflow

    if connection.vendor != "postgresql":
        raise RuntimeError("bench_activity needs PostgreSQL: set DATABASE_URL")
    table = Execution._meta.db_table
    tag = uuid.uuid4().hex[:10]
    user = get_user_model().objects.create_user(
        username=f"bench-activity-{tag}", email=f"bench-activity-{tag}@example.com"
    )
    actor = Actor.for_user(user)
    spaces = {
        "large": space_create(f"bench activity large {tag}", owner=user, actor=actor),
        "small": space_create(f"bench activity small {tag}", owner=user, actor=actor),
    }
    try:
        started = time.monotonic()
        for name, count in (("large", LARGE), ("small", SMALL)):
            space = spaces[name]
            workflows = Workflow.objects.bulk_create(
                Workflow(space=space, name=f"Workflow {i:02}", slug=f"workflow-{i:02}",
                         tier=("instant", "standard", "long")[i % 3],
                         timeout_seconds=(60, 900, 21600)[i % 3], created_by=user)
                for i in range(WORKFLOWS)
            )  # fmt: skip
            with transaction.atomic(), connection.cursor() as cursor:
                # Rows are valid by construction: skip the per-row foreign-key triggers.
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute(
                    INSERT_SQL.format(table=table, workflows=WORKFLOWS, status=STATUS_SQL),
                    {"space": space.id, "workflows": [w.id for w in workflows],
                     "count": count, "span": SPAN_HOURS * 3600},
                )  # fmt: skip
        loaded = time.monotonic() - started
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        print(f"  inserted {LARGE + SMALL:,} rows in {loaded:.1f} s, vacuum analyze "
              f"{time.monotonic() - started - loaded:.1f} s", flush=True)  # fmt: skip

        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        urls = {name: f"/s/{space.slug}/activity/executions/" for name, space in spaces.items()}
        results = {}
        for tab in TABS:
            large_url, small_url = (f"{urls[n]}?tab={tab}" for n in ("large", "small"))
            for target in (large_url, small_url):
                response = client.get(target)
                if response.status_code != 200:
                    raise RuntimeError(f"{target} answered {response.status_code}")
            large, small = p50_pair(lambda u=large_url: client.get(u),
                                    lambda u=small_url: client.get(u),
                                    repetitions=REPETITIONS)  # fmt: skip
            sql = {name: _sql_profile(connection, client, url)
                   for name, url in (("large", large_url), ("small", small_url))}  # fmt: skip
            results[tab] = (large, small)
            print(f"  tab {tab}: {LARGE:,} rows {large:.2f} ms, {SMALL:,} rows {small:.2f} ms "
                  f"({large / small:.2f}×); SQL per page (large / small): "
                  f"{sql['large'][0]} / {sql['small'][0]} queries, "
                  f"{sql['large'][1]:.2f} / {sql['small'][1]:.2f} ms; slowest in large "
                  f"{sql['large'][2]:.2f} ms: {sql['large'][3][:100]}", flush=True)  # fmt: skip
    finally:
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE space_id = ANY(%s)", [[s.id for s in spaces.values()]]
            )
        for space in spaces.values():
            space.delete()
        user.delete()
        print(f"  cleanup {time.monotonic() - started:.1f} s", flush=True)

    return [
        {
            "name": f"Activity → Executions ?tab={tab}, {LARGE:,} rows (p50)",
            "value": large,
            "unit": "ms",
            "floor_name": f"same page, {SMALL:,} rows",
            "floor_value": small,
            "ratio": large / small,
        }
        for tab, (large, small) in results.items()
    ]


def _sql_profile(connection, client, url, repeat: int = 5):
    """(queries, median SQL ms per page, median ms of the slowest statement, its SQL) for one
    page, timed around each statement in this process (driver + server time)."""
    totals, slowest, count, slowest_sql = [], [], 0, ""
    for _ in range(repeat):
        timings: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, timings=timings):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append(((time.perf_counter() - started) * 1000, sql))

        with connection.execute_wrapper(timed):
            client.get(url)
        count = len(timings)
        totals.append(sum(t for t, _ in timings))
        top = max(timings)
        slowest.append(top[0])
        slowest_sql = top[1]
    return count, statistics.median(totals), statistics.median(slowest), slowest_sql


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
    import django

    django.setup()
    for row in run():
        print(f"{row['name']}: {row['value']:.2f} ms; {row['floor_name']}: "
              f"{row['floor_value']:.2f} ms; ratio {row['ratio']:.2f}×")  # fmt: skip
