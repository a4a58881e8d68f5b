"""The Celery application: one app, three queues (instant, standard, long)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")

app = Celery("fastn_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("instant"), Queue("standard"), Queue("long"))
app.autodiscover_tasks()
