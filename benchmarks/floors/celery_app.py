"""The bare Celery app of the floors: a no-op task and the fresh-isolate V8 task.

Started by the benchmark as `celery -A floors.celery_app worker …` (see bench_api.py for the
pool and concurrency of each variant). Broker and result backend: `FLOORS_REDIS_URL`, the
console's Redis server with another database number. Everything else is Celery's default."""

from __future__ import annotations

import os

from celery import Celery

REDIS_URL = os.environ.get("FLOORS_REDIS_URL", "redis://127.0.0.1:6379/2")

app = Celery("floors", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    broker_connection_retry_on_startup=True,
)


@app.task(name="floors.noop")
def noop() -> None:
    return None


@app.task(name="floors.v8")
def v8(function_source: str, input_json: str) -> str:
    """Evaluate `function_source` (an async function expression) called with the input, in a
    fresh isolate, and return the JSON of what it resolves to."""
    from py_mini_racer import MiniRacer

    # Created here, in the process that runs the task (a prefork child or a worker thread),
    # never in a parent before a fork; closed by the `with`.
    with MiniRacer() as racer:
        promise = racer.eval(f"({function_source})({input_json}).then((r) => JSON.stringify(r))")
        return promise.get(timeout=10)
