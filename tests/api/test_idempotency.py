"""Idempotency-Key on POST /api/v1/{slug}: a retried request answers the first response and runs
nothing again; real workers, real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.api import idempotency
from apps.api.models import IdempotencyKey
from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = (
    "export default async (ctx) => { const t = Date.now(); while (Date.now() - t < 1000) {} "
    "return { n: ctx.input.n, id: ctx.execution.id }; }"
)


def test_a_repeated_standard_request_answers_the_same_execution(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    first = api("echo", {"input": {"n": 1}}, **{"Idempotency-Key": "order-42"})
    again = api("echo", {"input": {"n": 1}}, **{"Idempotency-Key": "order-42"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Execution.objects.filter(space=cast.space).count() == 1


def test_a_repeated_instant_request_answers_the_first_response(celery_worker, api, cast):
    publish(make_workflow(cast.space, code=SLOW.replace("1000", "10")))
    first = api("echo", {"input": {"n": 1, "m": 2}}, **{"Idempotency-Key": "k"})
    # Another key order in the body: the same request all the same.
    again = api("echo", {"input": {"m": 2, "n": 1}}, **{"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert Execution.objects.filter(space=cast.space).count() == 1


def test_a_workflow_error_is_replayed_too(celery_worker, api, cast):
    publish(make_workflow(cast.space, code="export default () => { throw new Error('no') }"))
    first = api("echo", **{"Idempotency-Key": "k"})
    again = api("echo", **{"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json() and again.json()["code"] == "WORKFLOW_ERROR"
    assert Execution.objects.filter(space=cast.space).count() == 1


def test_the_same_key_with_another_body_answers_422(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    assert api("echo", {"input": {"n": 1}}, **{"Idempotency-Key": "k"}).status_code == 202
    response = api("echo", {"input": {"n": 2}}, **{"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Execution.objects.filter(space=cast.space).count() == 1


def test_keys_are_scoped_to_the_api_key(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    _, other_key = apikey_create(cast.space, name="other", mode="live", actor=Actor.system())
    first = api("echo", **{"Idempotency-Key": "k"})
    second = api("echo", key=other_key, **{"Idempotency-Key": "k"})
    assert first.json()["executionId"] != second.json()["executionId"]
    assert Execution.objects.filter(space=cast.space).count() == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256])
def test_an_empty_or_overlong_key_answers_400(api, cast, key):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    response = api("echo", **{"Idempotency-Key": key})
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["message"]
    assert not Execution.objects.exists()


def test_a_key_of_255_characters_is_accepted(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    assert api("echo", **{"Idempotency-Key": "x" * 255}).status_code == 202


def test_without_the_header_nothing_is_stored_or_queried(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    with CaptureQueriesContext(connection) as queries:
        assert api("echo").status_code == 202
    assert not any("idempotency" in q["sql"] for q in queries.captured_queries)
    assert api("echo").status_code == 202
    assert Execution.objects.count() == 2 and not IdempotencyKey.objects.exists()


def test_an_expired_key_runs_again_and_purge_deletes_expired_keys(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    first = api("echo", **{"Idempotency-Key": "old"}).json()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    second = api("echo", **{"Idempotency-Key": "old"}).json()
    assert second["executionId"] != first["executionId"]
    api("echo", **{"Idempotency-Key": "stale"})
    IdempotencyKey.objects.filter(key="stale").update(
        created_at=timezone.now() - timedelta(hours=24, seconds=1)
    )
    assert idempotency.idempotency_purge_expired() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["old"]


def concurrently(n: int, call) -> list:
    """Run `call(i)` in n threads started together; answers their results in order."""
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait(timeout=10)
            results[i] = call(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_duplicates_run_once_and_all_get_the_first_response(celery_worker, api, cast):
    assert connection.vendor == "postgresql"
    publish(make_workflow(cast.space, code=SLOW))
    responses = concurrently(
        8, lambda i: api("echo", {"input": {"n": 7}}, http=Client(), **{"Idempotency-Key": "c"})
    )
    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.content for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 7
    assert Execution.objects.filter(space=cast.space).count() == 1


def test_a_duplicate_that_outwaits_the_first_answers_409(celery_worker, api, cast, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_S", 0.3)
    publish(make_workflow(cast.space, code=SLOW.replace("1000", "3000")))

    def call(i):
        if i:  # the duplicate comes once the first has claimed the key
            threading.Event().wait(0.5)
        return api("echo", http=Client(), **{"Idempotency-Key": "slow"})

    first, duplicate = concurrently(2, call)
    assert first.status_code == 200
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert duplicate["Retry-After"] == "1"
    assert Execution.objects.filter(space=cast.space).count() == 1
