"""The Celery application: one app, three queues for runs (instant, standard, long) and one for
housekeeping (the reaper, the purges), each served by its own worker processes."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")

app = Celery("fastn_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("instant"), Queue("standard"), Queue("long"), Queue("housekeeping"))
# Housekeeping never waits behind runs: a backed-up or dead `standard` queue must not leave lost
# runs unreaped (beat's entries name the queue too; this covers a task sent from anywhere else).
HOUSEKEEPING_TASKS = (
    "executions.reap",
    "executions.purge",
    "apps.datastore.tasks.purge_expired_state",
    "api.purge_idempotency_keys",
)
app.conf.task_routes = {name: {"queue": "housekeeping"} for name in HOUSEKEEPING_TASKS}
# Celery's Django fixup closes every database connection after every task unless told to reuse
# them: that costs a fresh PostgreSQL connection (several ms) per run. The run task itself
# closes connections that saw errors or outlived CONN_MAX_AGE, as Django does per request.
app.conf["CELERY_DB_REUSE_MAX"] = 1000
app.autodiscover_tasks()
