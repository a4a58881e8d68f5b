from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from apps.executions.services import execution_perform, execution_purge_old, execution_reap


@shared_task(name="executions.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execution(execution_id: str) -> str:
    # What Django does at every request: drop a connection that broke or is past its age.
    close_old_connections()
    delivery = run_execution.request.delivery_info or {}
    return execution_perform(execution_id, awaited=delivery.get("routing_key") == "instant")


# Housekeeping runs on its own queue and worker (fastn_console/celery.py), beside the runs.
@shared_task(name="executions.reap", queue="housekeeping")
def reap_executions() -> dict:
    return execution_reap()


@shared_task(name="executions.purge", queue="housekeeping")
def purge_old_executions() -> int:
    return execution_purge_old()
