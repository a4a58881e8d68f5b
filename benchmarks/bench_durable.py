"""Durable workflows (fastn.step), against floors measured in the same run:

1. `step.do` overhead per completed step: a workflow of 100 `step.do` with trivial callbacks
   minus the same workflow calling the callbacks directly, divided by 100 — beside one
   PostgreSQL commit (an INSERT of a row of the same shape in autocommit, psycopg directly).
2. Resuming an instance with 50 completed steps (a fresh isolate replays them from one read,
   then suspends at its sleep) beside resuming one with 1 completed step.
3. 1,000 due wake-ups queued by the sweep (one UPDATE per batch + pipelined messages) beside
   1,000 plain standard runs created and queued (row INSERT + message each, like the accept
   path). Both end with the message on the queue; a worker's claim after that is the same.

Needs PostgreSQL and Redis (`make bench` starts both). Creates its own Space, deletes it after.
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
import uuid

from common import p50_pair, row

STEPS = 100
REPETITIONS = 9


def _workflow_code(steps: bool) -> str:
    call = 'await fastn.step.do("s" + i, async () => i)' if steps else "await (async () => i)()"
    return (
        "export default async function (ctx) {\n  let total = 0;\n"
        f"  for (let i = 0; i < {STEPS}; i++) total += {call};\n  return total;\n}}\n"
    )


def _resume_code(done: int) -> str:
    return (
        "export default async function (ctx) {\n"
        f"  for (let i = 0; i < {done}; i++) await ctx.step.do(`s${{i}}`, async () => i);\n"
        '  await ctx.step.sleep("later", "1 hour");\n}\n'
    )


def run() -> list[dict]:
    import psycopg
    from django.conf import settings
    from django.db import connection

    from apps.executions.host import DatabaseHost
    from apps.executions.models import Execution, ExecutionStep, Status
    from apps.executions.services import execution_create, execution_dispatch
    from apps.executions.services.reaper import wake_due
    from apps.executions.steps import DurableSteps
    from apps.runtime import Limits, run_workflow
    from apps.spaces.models import Space
    from apps.workflows.models import Workflow
    from fastn_console import taskmessage

    if connection.vendor != "postgresql":
        raise RuntimeError("bench_durable needs PostgreSQL")
    space = Space.objects.create(name="bench", slug=f"bench-{uuid.uuid4().hex[:12]}")
    workflow = Workflow.objects.create(
        space=space, name="Durable", slug="durable", tier="standard", timeout_seconds=60,
        draft_code=_workflow_code(True),
    )  # fmt: skip

    def new_execution() -> Execution:
        return execution_create(workflow, version=None, code=None, input={}, headers={},
                                triggered_by="api", actor=None)  # fmt: skip

    def attempt(code: str, execution: Execution) -> str:
        steps = DurableSteps(execution.id, instant=False, pause=threading.Event())
        with DatabaseHost(space, customer=None, workflow_key=str(workflow.id),
                          invocation_id=str(execution.id), environment="draft",
                          execution_id=execution.id, steps=steps) as host:  # fmt: skip
            return run_workflow(code, {"input": {}}, host, Limits(timeout_s=60)).status

    rows = []
    try:
        # 1. step.do overhead per step vs one commit.
        with_steps, without_steps = _workflow_code(True), _workflow_code(False)

        def steps_run():
            assert attempt(with_steps, new_execution()) == "completed"

        def plain_run():
            assert attempt(without_steps, new_execution()) == "completed"

        steps_ms, plain_ms = p50_pair(steps_run, plain_run, repetitions=REPETITIONS)
        per_step = (steps_ms - plain_ms) / STEPS
        db = settings.DATABASES["default"]
        table = ExecutionStep._meta.db_table
        scratch = new_execution()
        commits = []
        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"],
                             password=db.get("PASSWORD") or None, dbname=db["NAME"],
                             autocommit=True) as raw:  # fmt: skip
            for index in range(300):
                started = time.perf_counter()
                raw.execute(
                    f"INSERT INTO {table} (execution_id, name, kind, status, position, config,"
                    " attempts, started_at, event_type) VALUES (%s, %s, 'do', 'complete', %s,"
                    " '{}', '[]', now(), '')",
                    (scratch.id, f"floor {index}", index),
                )
                commits.append((time.perf_counter() - started) * 1000)
        commit_ms = statistics.median(commits)
        rows.append(row("step.do overhead per completed step", per_step, "ms",
                        "one PostgreSQL commit (INSERT, autocommit)", commit_ms))  # fmt: skip

        # 2. Resuming 50 stored steps vs 1.
        def suspended_instance(done: int) -> tuple[str, Execution]:
            code = _resume_code(done)
            execution = new_execution()
            assert attempt(code, execution) == "suspended"
            return code, execution

        fifty = suspended_instance(50)
        one = suspended_instance(1)
        resume_50, resume_1 = p50_pair(
            lambda: attempt(*fifty), lambda: attempt(*one), repetitions=15
        )
        rows.append(row("resume an instance with 50 completed steps", resume_50, "ms",
                        "resume one with 1 completed step", resume_1))  # fmt: skip

        # 3. 1,000 wake-ups vs 1,000 plain standard runs queued.
        broker = settings.CELERY_BROKER_URL
        redis = taskmessage.client(broker)
        queue = taskmessage.queue_list("standard", 0)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        Execution.objects.bulk_create(
            Execution(space=space, workflow=workflow, workflow_name="Durable", tier="standard",
                      timeout_seconds=60, triggered_by="api", status=Status.WAITING, due_at=past)
            for _ in range(1000)
        )  # fmt: skip
        started = time.perf_counter()
        woken = wake_due(dt.datetime.now(dt.UTC))
        wake_ms = (time.perf_counter() - started) * 1000
        assert woken == 1000, woken
        started = time.perf_counter()
        for _ in range(1000):
            execution_dispatch(new_execution())
        plain_ms = (time.perf_counter() - started) * 1000
        redis.delete(queue)
        rows.append(row("1,000 due wake-ups queued (sweep)", wake_ms, "ms",
                        "1,000 standard runs created and queued", plain_ms))  # fmt: skip
    finally:
        redis_queue = taskmessage.queue_list("standard", 0)
        taskmessage.client(settings.CELERY_BROKER_URL).delete(redis_queue)
        Execution.objects.filter(space=space).delete()
        space.delete()
    return rows
