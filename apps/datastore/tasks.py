"""Celery interfaces of the datastore: thin wrappers over the services."""

from __future__ import annotations

from apps.datastore.state import state_purge_expired
from fastn_console.celery import app


@app.task(time_limit=300, soft_time_limit=240, queue="housekeeping")
def purge_expired_state() -> int:
    """Delete expired `fastn.state` entries (beat runs it every 5 minutes on `housekeeping`)."""
    return state_purge_expired()
