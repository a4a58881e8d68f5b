"""Host-call bridge and execution figures.

1. A workflow doing 100 sequential `fastn.state.set` calls through `run_workflow` with the
   database host, against the same 100 upserts done directly from Python (`state_set`).
   The difference divided by 100 is the bridge's cost per host call.
2. A trivial draft run through the `instant` queue (`execution_run_sync`: record, Celery
   round trip, sandbox run, result) against the bare Celery round trip of a no-op task.

Needs DATABASE_URL (PostgreSQL) and REDIS_URL; `make bench` provides both. The instant-queue
figure starts an in-process Celery worker (threads) for the duration of the measurement.
"""

from __future__ import annotations

import statistics
import time
import uuid

from common import row

CALLS = 100
REPEAT = 15
STATE_LOOP = (
    "export default async () => { for (let i = 0; i < 100; i++) "
    "{ await fastn.state.set('key-' + i, {cursor: 'abc123', page: i}) } return true }"
)


def median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run() -> list[dict]:
    from apps.datastore.state import StateScope, state_set
    from apps.executions.host import DatabaseHost
    from apps.runtime import run_workflow
    from apps.spaces.models import Space

    space = Space.objects.create(name="bench", slug=f"bench-{uuid.uuid4().hex[:12]}")
    try:
        host = DatabaseHost(space, customer=None, workflow_key="bench", invocation_id="b",
                            environment="live")  # fmt: skip
        run_workflow("export default () => 1", {}, host)  # warm the pool
        scope = StateScope(space.id, None, "bench-direct", "")

        def direct():
            for i in range(CALLS):
                state_set(scope, f"key-{i}", {"cursor": "abc123", "page": i})

        def through_workflow():
            result = run_workflow(STATE_LOOP, {}, host)
            assert result.status == "completed", result.error

        floor = median_ms(direct, REPEAT)
        bridged = median_ms(through_workflow, REPEAT)
        rows = [
            row("workflow: 100 × fastn.state.set (PostgreSQL)", bridged, "ms",
                "100 × state_set from Python", floor),
            row("bridge overhead per host call", (bridged - floor) * 1000 / CALLS, "µs"),
        ]  # fmt: skip
        rows += instant_queue_rows(space)
        return rows
    finally:
        space.delete()


def instant_queue_rows(space) -> list[dict]:
    import celery.contrib.testing.tasks  # noqa: F401  registers celery.ping
    from celery.contrib.testing.worker import start_worker

    from apps.executions.services import execution_run_sync
    from apps.workflows.models import Workflow
    from fastn_console.celery import app

    workflow = Workflow.objects.create(
        space=space, name="Bench", slug="bench", tier="instant", timeout_seconds=10,
        draft_code="export default async () => ({ ok: true })",
    )  # fmt: skip
    with start_worker(app, pool="threads", concurrency=4, queues=["instant", "celery"],
                      perform_ping_check=False):  # fmt: skip
        ping = app.tasks["celery.ping"]
        for _ in range(5):
            ping.apply_async(queue="instant").get(timeout=10)
        floor = median_ms(lambda: ping.apply_async(queue="instant").get(timeout=10), 50)

        def draft_run():
            execution = execution_run_sync(workflow, code=workflow.draft_code, input={},
                                           headers={})  # fmt: skip
            assert execution.status == "completed", execution.error

        for _ in range(5):
            draft_run()
        value = median_ms(draft_run, 50)
        test_tab = test_tab_round_trip_ms(space, workflow)
    return [
        row("instant draft run (record + queue + sandbox), p50", value, "ms",
            "bare Celery round trip (no-op)", floor),
        row("Test tab Run through the view, p50", test_tab, "ms",
            "bare Celery round trip (no-op)", floor),
    ]  # fmt: skip


def test_tab_round_trip_ms(space, workflow) -> float:
    """The editor's Test tab: a logged-in POST of unsaved code to the view, through the
    instant queue and a sandbox, rendered back as the result partial."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from apps.spaces.models import Membership
    from apps.spaces.services import user_create

    user = user_create(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-123")
    Membership.objects.create(space=space, user=user, role="developer")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    url = reverse("workflow_test", kwargs={"space_slug": space.slug, "workflow_id": workflow.id})
    code = workflow.draft_code.encode()

    def post():
        response = client.post(url, {
            "code": SimpleUploadedFile("code.js", code, content_type="text/javascript"),
            "input": "{}", "headers": "{}",
        })  # fmt: skip
        assert response.status_code == 200, response.status_code

    for _ in range(5):
        post()
    try:
        return median_ms(post, 40)
    finally:
        user.delete()
