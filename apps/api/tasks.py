from __future__ import annotations

from celery import shared_task

from apps.api.idempotency import idempotency_purge_expired


@shared_task(name="api.purge_idempotency_keys", queue="housekeeping")
def purge_idempotency_keys() -> int:
    return idempotency_purge_expired()
