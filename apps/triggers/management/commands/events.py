"""`python manage.py events`: the event pipeline's process (apps/triggers/pipeline/process.py)."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.triggers.pipeline.process import EventsProcess


class Command(BaseCommand):
    help = (
        "Run the event pipeline: publish accepted events from the outbox to the Redis Stream, "
        "route them to their workflows, retry failed deliveries and move sequential triggers' "
        "lines. Runs until SIGTERM or Ctrl-C; run several for more throughput."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--consumers",
            type=int,
            default=settings.FASTN_EVENTS_CONSUMERS,
            help="Consumer threads (default FASTN_EVENTS_CONSUMERS).",
        )

    def handle(self, *args, consumers: int, **options):
        process = EventsProcess(consumers=max(1, consumers))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: process.stop.set())
        process.run_until_stopped()
