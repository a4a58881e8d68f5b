"""Helpers and fixtures of the receiver and pipeline tests (imported by those modules)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from apps.triggers.models import Kind, Route, Trigger, WebhookAuth
from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish

ROOT = Path(__file__).resolve().parents[2]
ECHO = (
    "export default async function (ctx) {\n"
    "  return { input: ctx.input, headers: ctx.headers, tenant: ctx.tenant };\n"
    "}\n"
)


def make_workflow(space, slug="echo", *, code=ECHO, tier="standard", deploy="live", **fields):
    """A workflow, published and deployed to `deploy` (None: never published)."""
    actor = Actor.system()
    workflow = workflow_create(
        space, actor=actor, name=fields.pop("name", slug.title()), slug=slug, tier=tier,
        code=code, **fields,
    )  # fmt: skip
    if deploy is not None:
        version = workflow_publish(workflow, actor=actor)
        if deploy != "test":
            environment = environment_by_slug(space, deploy)
            workflow_deploy(workflow, version=version, environment=environment, actor=actor)
    return workflow


def make_trigger(space, routes, *, auth=WebhookAuth.NONE, **fields) -> Trigger:
    """A webhook trigger; `routes`: workflows, or dicts of Route fields."""
    trigger = Trigger.objects.create(space=space, kind=fields.pop("kind", Kind.WEBHOOK),
                                     name=fields.pop("name", "Orders"), auth=auth,
                                     **fields)  # fmt: skip
    for position, route in enumerate(routes):
        spec = route if isinstance(route, dict) else {"workflow": route}
        Route.objects.create(trigger=trigger, position=position, **spec)
    return trigger


def webhook_url(trigger) -> str:
    return f"/api/v1/clients/{trigger.space_id}/webhooks/{trigger.webhook_id}"


def post_event(client, trigger, body=None, *, raw: bytes | None = None,
               content_type="application/json", **headers):  # fmt: skip
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    return client.post(webhook_url(trigger), data=data, content_type=content_type,
                       headers=headers)  # fmt: skip


def live_key(space, mode="live") -> str:
    return apikey_create(space, name=f"{mode} key", mode=mode, actor=Actor.system())[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, describe=None):
    """`predicate()` once it is truthy; on a timeout, the failure says what `describe()`
    (if given) saw then, so that a rare timeout in CI can be understood from its log."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; {describe()}" if describe else ""
            raise AssertionError(f"timed out after {timeout} s{seen}")
        time.sleep(interval)


def pipeline_snapshot() -> str:
    """Every event, delivery and run with their statuses, for a timeout's message."""
    from apps.executions.models import Execution
    from apps.triggers.models import Delivery, Event

    events = list(Event.objects.values_list("status", "error"))
    deliveries = list(Delivery.objects.values_list("status", "run_ended_at"))
    runs = list(Execution.objects.values_list("status", "attempts", "error"))
    return f"events={events} deliveries={deliveries} runs={runs}"


# --- the `events` process as a real subprocess -------------------------------------------------


def process_env(**extra: str) -> dict:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("FASTN_EVENTS_FAULT", None)
    env.update(extra)
    return env


def start_events(log: Path, **env: str) -> subprocess.Popen:
    """`python manage.py events` in a session of its own, its output in `log`."""
    out = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "events", "--consumers", "2"],
        cwd=ROOT, env=process_env(**env), stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    out.close()
    return process


def wait_ready(process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    wait_until(
        lambda: process.poll() is not None or "ready" in log.read_text(errors="replace"),
        timeout,
    )
    assert process.poll() is None, log.read_text(errors="replace")[-3000:]


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
