"""Many real workflow runs incrementing one `fastn.state` counter at the same time.

Each run is a real sandbox process served through the real `DatabaseHost`, from a pool of
threads that each hold their own database connection — what concurrent Celery workers do.
Imported by the PostgreSQL test; run as a script (`python -m tests.executions.concurrent_incr
RUNS`) it migrates the SQLite database named by DATABASE_URL first and prints a JSON summary,
so the embedded SQLite default is proven the same way in a process of its own.
"""

from __future__ import annotations

import json
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

INCREMENT = """export default async (ctx) => {
  const n = await fastn.state.incr("hits");
  // Lose no update even when the code around the call is slow.
  await new Promise((resolve) => setTimeout(resolve, 1));
  return { n, again: await fastn.state.incr("hits", 0) >= n };
}"""
WORKFLOW_KEY = "concurrent-incr"


def count_concurrently(space: Any, runs: int, *, threads: int = 16) -> dict[str, Any]:
    """Start `runs` runs of INCREMENT at once; answer what they returned and the final count."""
    from django.db import connection

    from apps.datastore.state import StateScope, state_get
    from apps.executions.host import DatabaseHost
    from apps.runtime import Limits, run_workflow

    def one_run(_: int) -> dict[str, Any]:
        try:
            with DatabaseHost(
                space,
                customer=None,
                workflow_key=WORKFLOW_KEY,
                invocation_id=str(uuid.uuid4()),
                environment="live",
            ) as host:
                result = run_workflow(INCREMENT, {"input": {}}, host, Limits(timeout_s=30))
            return {"status": result.status, "output": result.output, "error": result.error}
        finally:
            connection.close()  # each thread's own connection

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one_run, range(runs)))
    final = state_get(StateScope(space.id, None, WORKFLOW_KEY, ""), "hits")
    return {
        "final": final,
        "completed": sum(r["status"] == "completed" for r in results),
        "values": sorted(r["output"]["n"] for r in results if r["status"] == "completed"),
        "monotonic": all(r["output"]["again"] for r in results if r["status"] == "completed"),
        "errors": [r["error"] for r in results if r["status"] != "completed"][:3],
    }


def main(runs: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from apps.spaces.models import Space

    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    space = Space.objects.create(name="Concurrent", slug=f"concurrent-{uuid.uuid4().hex[:8]}")
    connection.close()
    print(json.dumps(count_concurrently(space, runs)))


if __name__ == "__main__":
    main(int(sys.argv[1]))
