"""Run by tests/triggers/test_pipeline_sqlite.py in a process of its own whose DATABASE_URL is
an SQLite file (the embedded default of `make run`): accept events from threads (duplicates
among them), run the `events` threads, and print what happened as JSON."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def main() -> dict:
    call_command("migrate", verbosity=0)
    from apps.executions.models import Execution
    from apps.spaces.audit import Actor
    from apps.spaces.services import space_create, user_create
    from apps.triggers.models import Delivery, Event, EventStatus, Route, Source, Trigger
    from apps.triggers.pipeline.process import EventsProcess
    from apps.triggers.receive import event_accept
    from apps.workflows.services import workflow_create

    owner = user_create("sqlite@example.com", "correct-horse-battery-staple")
    space = space_create("SQLite", owner=owner, actor=Actor.for_user(owner))
    workflow = workflow_create(space, actor=Actor.system(), name="Echo", slug="echo",
                               tier="standard", code="export default async () => 1")  # fmt: skip
    trigger = Trigger.objects.create(space=space, kind="webhook", name="Hook", auth="none")
    Route.objects.create(trigger=trigger, workflow=workflow, environment="DRAFT")
    Route.objects.create(trigger=trigger, workflow=workflow, environment="DRAFT", position=1,
                         filters=[{"path": "n", "operator": "lt", "value": 5}])  # fmt: skip

    answers, errors = [], []
    barrier = threading.Barrier(20)

    def duplicate(i: int) -> None:
        try:
            barrier.wait()
            accepted = event_accept(trigger, source=Source.WEBHOOK, body=b'{"n": 100}',
                                    headers={"webhook-id": "same"})  # fmt: skip
            answers.append((str(accepted.event.pk), accepted.duplicate))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=duplicate, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for n in range(10):
        event_accept(trigger, source=Source.WEBHOOK, body=json.dumps({"n": n}).encode(),
                     headers={})  # fmt: skip

    process = EventsProcess(consumers=2)
    process.start()
    deadline = time.monotonic() + 60
    while Event.objects.filter(status=EventStatus.RECEIVED).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    process.shutdown()
    per_event = Counter(Delivery.objects.values_list("event_id", flat=True))
    return {
        "errors": errors,
        "accepted": sum(1 for _id, dup in answers if not dup),
        "duplicates": sum(1 for _id, dup in answers if dup),
        "first_ids": len({event_id for event_id, _dup in answers}),
        "statuses": dict(Counter(Event.objects.values_list("status", flat=True))),
        "deliveries_per_event": sorted(Counter(per_event.values()).items()),
        "executions": Execution.objects.count(),
        "executions_with_delivery": Execution.objects.filter(delivery__isnull=False).count(),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
