from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from apps.testcases.services import test_run_perform


# On the instant queue: a person (or a publish) waits for it. Time limit: the worker's own
# per-run deadlines bound each case; this bounds a run of many.
@shared_task(name="testcases.run", acks_late=True, ignore_result=True, time_limit=3600)
def run_test_cases(run_id: str) -> str:
    close_old_connections()
    return test_run_perform(run_id)
