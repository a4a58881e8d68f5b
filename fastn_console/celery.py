"""The Celery application: one app, three queues (instant, standard, long)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")

app = Celery("fastn_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("instant"), Queue("standard"), Queue("long"))
# Celery's Django fixup closes every database connection after every task unless told to reuse
# them: that costs a fresh PostgreSQL connection (several ms) per run. The run task itself
# closes connections that saw errors or outlived CONN_MAX_AGE, as Django does per request.
app.conf["CELERY_DB_REUSE_MAX"] = 1000
app.autodiscover_tasks()
