"""The instances API (apps/api/instances.py) on real PostgreSQL and Redis: creating (one, a
batch), listing with filters and pagination, reading an instance with its durable steps,
pause / resume / terminate / restart on runs in each state, events, tenancy and bad input.

These tests make no worker run anything: outside a transactional test a dispatch waits for a
commit that never comes, so every created run stays queued, and the rows of the other states
are set directly. Every answer is checked against its schema in the OpenAPI document."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from apps.api.openapi import openapi_document
from apps.environments.models import DRAFT
from apps.executions.models import (
    Execution,
    ExecutionAttempt,
    ExecutionStep,
    InstanceEvent,
    Status,
    StepKind,
    StepStatus,
)
from apps.executions.services import execution_create
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create, customer_create
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db

DURABLE = """export default async function (ctx) {
  const order = await ctx.step.do("load order", async () => ({ id: ctx.input.id }));
  const ev = await ctx.step.waitForEvent("approval", { type: "approved", timeout: "1 hour" });
  return { order, approvedBy: ev.payload.by };
}
"""
DOCUMENT = openapi_document()


def conforms(body, schema: str):
    """`body` is valid for the OpenAPI document's schema `schema`; answers `body`."""
    Draft202012Validator({**DOCUMENT, "$ref": f"#/components/schemas/{schema}"}).validate(body)
    return body


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["statusCode"] == status and body["message"]
    if code:
        assert body["code"] == code
    return body


@pytest.fixture
def orders(cast):
    """A standard workflow `orders`, v1 deployed to live."""
    workflow = make_workflow(cast.space, slug="orders", code=DURABLE, tier="standard", timeout=60)
    publish(workflow)
    return workflow


@pytest.fixture
def call(client, cast, live_key):
    """A request under /api/v1/tenants/{space}/workflows/{slug}/instances{path}; `body` is
    sent as JSON, `raw` as is."""

    def call(method, path="", body=None, *, raw=None, key=live_key, space=None, slug="orders",
             **headers):  # fmt: skip
        space = space or cast.space
        url = f"/api/v1/tenants/{space.id}/workflows/{slug}/instances{path}"
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        headers = {"x-fastn-api-key": key, "x-fastn-space-id": str(space.id), **headers}
        return client.generic(
            method.upper(), url, data, content_type="application/json", headers=headers
        )

    return call


def make_instance(workflow, instance_id="", *, status=Status.PENDING, customer=None, **fields):
    """A run of `workflow` made by the same service the API uses, then put in `status`."""
    execution = execution_create(
        workflow,
        version=workflow.versions.order_by("-number").first(),
        code=None,
        input=fields.pop("input", {"n": 1}),
        headers={},
        triggered_by=fields.pop("triggered_by", "api"),
        actor=None,
        customer=customer,
        environment=fields.pop("environment", "live"),
        instance_id=instance_id,
    )
    Execution.objects.filter(pk=execution.pk).update(status=status, **fields)
    execution.refresh_from_db()
    return execution


# --- Creating ---------------------------------------------------------------------------------


def test_create_queues_a_run_with_the_chosen_id_and_params(call, cast, orders):
    response = call("post", body={"id": "order-42", "params": {"id": 42, "rush": True}})
    assert response.status_code == 201
    body = conforms(response.json(), "InstanceCreated")
    assert body == {
        "id": "order-42",
        "executionId": body["executionId"],
        "status": "queued",
        "version": 1,
        "workflow": "orders",
        "trigger_source": "api",
    }
    assert response["Location"] == (
        f"/api/v1/tenants/{cast.space.id}/workflows/orders/instances/order-42"
    )
    execution = Execution.objects.get(pk=body["executionId"])
    assert execution.instance_id == "order-42"
    assert execution.input == {"id": 42, "rush": True}
    assert (execution.status, execution.triggered_by) == (Status.PENDING, "api")
    assert (execution.environment, execution.version_number) == ("live", 1)
    assert execution.workflow == orders and execution.tier == "standard"
    # The caller's credentials never reach ctx.headers.
    assert not {"x-fastn-api-key", "authorization"} & {h.lower() for h in execution.headers}


def test_create_without_a_body_names_the_instance_by_its_execution_id(call, orders):
    response = call("post")
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == body["executionId"]
    execution = Execution.objects.get(pk=body["executionId"])
    assert execution.instance_id == "" and execution.input == {}


def test_create_accepts_the_references_instance_id_and_null_params(call, orders):
    response = call("post", body={"instance_id": "a:b.c_d-1", "params": None})
    assert response.status_code == 201 and response.json()["id"] == "a:b.c_d-1"
    # null is ctx.input = null, as {"input": null} on the execute API; absent is {}.
    assert Execution.objects.get(instance_id="a:b.c_d-1").input is None


def test_params_may_be_any_json(call, orders):
    for params in ([1, 2], "text", 7, True):
        response = call("post", body={"params": params})
        assert response.status_code == 201
        assert Execution.objects.get(pk=response.json()["executionId"]).input == params


def test_an_instant_workflow_is_queued_on_its_tier_without_waiting(call, cast):
    publish(make_workflow(cast.space, slug="quick", tier="instant"))
    response = call("post", body={"id": "q1"}, slug="quick")
    assert response.status_code == 201 and response.json()["status"] == "queued"
    assert Execution.objects.get(instance_id="q1").tier == "instant"


def test_a_duplicate_id_is_409_and_creates_nothing(call, orders):
    assert call("post", body={"id": "dup"}).status_code == 201
    body = assert_error(call("post", body={"id": "dup"}), 409, "CONFLICT")
    assert "dup" in body["message"]
    assert Execution.objects.filter(workflow=orders).count() == 1


def test_an_id_spelling_another_runs_uuid_is_409(call, orders):
    existing = make_instance(orders)
    assert_error(call("post", body={"id": str(existing.id)}), 409)
    assert_error(call("post", body={"id": str(existing.id).upper()}), 409)
    assert_error(call("post", "/batch", body=[{"id": "ok"}, {"id": existing.id.hex}]), 409)
    assert not Execution.objects.exclude(pk=existing.pk).exists()


def test_the_same_id_may_name_instances_of_two_workflows(call, cast, orders):
    publish(make_workflow(cast.space, slug="refunds", tier="standard", timeout=60))
    assert call("post", body={"id": "x"}).status_code == 201
    assert call("post", body={"id": "x"}, slug="refunds").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"id": ""},
        {"id": "x" * 101},
        {"id": "a b"},
        {"id": "a/b"},
        {"id": "é"},
        {"id": 5},
        {"id": ["a"]},
        {"id": "a", "instance_id": "b"},
        {"param": {}},
        [],
        "order",
        7,
    ],
)
def test_create_refuses_a_bad_body_with_400(call, orders, body):
    assert_error(call("post", body=body), 400, "BAD_REQUEST")
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "raw", [b"{", b'{"id": NaN}', b"\xff\xfe", b'{"params": "\\u0000"}', b"[" * 5000]
)
def test_create_refuses_invalid_json_with_400(call, orders, raw):
    assert_error(call("post", raw=raw), 400, "BAD_REQUEST")


def test_create_on_an_unknown_unpublished_or_disabled_workflow_is_404(call, cast):
    assert_error(call("post", slug="nope"), 404, "NOT_FOUND")
    make_workflow(cast.space, slug="fresh", tier="standard", timeout=60)
    assert_error(call("post", slug="fresh"), 404, "WORKFLOW_NOT_PUBLISHED")
    off = make_workflow(cast.space, slug="off", tier="standard", timeout=60, enabled=False)
    publish(off)
    assert_error(call("post", slug="off"), 404)
    assert not Execution.objects.exists()


def test_the_stage_header_picks_the_version_like_the_execute_api(call, cast, orders):
    response = call("post", body={"id": "d"}, stage="DRAFT")
    assert response.status_code == 201 and response.json()["version"] == "draft"
    execution = Execution.objects.get(instance_id="d")
    assert execution.environment == DRAFT and execution.draft_code == DURABLE


def test_a_tenant_header_makes_the_instance_that_customers(call, cast, orders):
    customer = customer_create(cast.space, name="A", external_id="tenant-a", actor=Actor.system())
    response = call("post", body={"id": "t"}, **{"x-fastn-space-tenantid": "tenant-a"})
    assert response.status_code == 201
    assert Execution.objects.get(instance_id="t").customer == customer
    assert_error(call("post", **{"x-fastn-space-tenantid": "ghost"}), 404)


def test_an_idempotency_key_replays_the_first_answer(call, orders):
    first = call("post", body={"params": {"n": 1}}, **{"Idempotency-Key": "k1"})
    again = call("post", body={"params": {"n": 1}}, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Execution.objects.count() == 1
    other = call("post", body={"params": {"n": 2}}, **{"Idempotency-Key": "k1"})
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert Execution.objects.count() == 1


# --- Batches ----------------------------------------------------------------------------------


def test_a_batch_creates_every_instance_in_order(call, orders):
    items = [{"id": "b1", "params": {"n": 1}}, {"params": {"n": 2}}, {"id": "b3"}]
    response = call("post", "/batch", body=items)
    assert response.status_code == 201
    body = response.json()
    for answer in body:
        conforms(answer, "InstanceCreated")
    assert [answer["id"] for answer in body][::2] == ["b1", "b3"]
    assert body[1]["id"] == body[1]["executionId"]
    rows = {e.instance_key: e for e in Execution.objects.filter(workflow=orders)}
    assert len(rows) == 3 and rows["b1"].input == {"n": 1} and rows["b3"].input == {}


def test_a_batch_with_an_id_twice_creates_nothing(call, orders):
    response = call("post", "/batch", body=[{"id": "same"}, {"id": "other"}, {"id": "same"}])
    assert "same" in assert_error(response, 409)["message"]
    assert not Execution.objects.exists()


def test_a_batch_with_an_id_already_taken_creates_nothing(call, orders):
    make_instance(orders, "taken")
    response = call("post", "/batch", body=[{"id": "new"}, {"id": "taken"}])
    assert "taken" in assert_error(response, 409)["message"]
    assert list(Execution.objects.values_list("instance_id", flat=True)) == ["taken"]


@pytest.mark.parametrize(
    "body",
    [[], {"id": "x"}, [{"id": "ok"}, {"id": "bad id"}], [{"id": "ok"}, 3], [{}] * 101, None],
)
def test_a_bad_batch_is_400_and_creates_nothing(call, orders, body):
    assert_error(call("post", "/batch", body=body), 400)
    assert not Execution.objects.exists()


def test_an_id_taken_by_a_concurrent_request_rolls_the_whole_batch_back(call, orders, monkeypatch):
    make_instance(orders, "raced")
    # As if the other request committed between the check and the inserts.
    monkeypatch.setattr("apps.api.instances.refuse_taken_ids", lambda workflow, specs: None)
    response = call("post", "/batch", body=[{"id": "first"}, {"id": "raced"}])
    assert "nothing was created" in assert_error(response, 409)["message"]
    assert list(Execution.objects.values_list("instance_id", flat=True)) == ["raced"]


def test_a_bad_item_is_named_by_its_index(call, orders):
    response = call("post", "/batch", body=[{"id": "ok"}, {"id": "ok2"}, {"nope": 1}])
    assert "Item 2" in assert_error(response, 400)["message"]


def test_a_batch_of_100_is_accepted(call, orders):
    response = call("post", "/batch", body=[{"id": f"i{n}"} for n in range(100)])
    assert response.status_code == 201 and len(response.json()) == 100
    assert Execution.objects.filter(workflow=orders).count() == 100


def test_an_instance_called_batch_can_still_be_read(call, orders):
    make_instance(orders, "batch")
    response = call("get", "/batch")
    assert response.status_code == 200 and response.json()["id"] == "batch"


# --- Listing ----------------------------------------------------------------------------------

STATES = [
    ("queued", {"status": Status.PENDING}),
    ("running", {"status": Status.RUNNING}),
    ("waitingForPause", {"status": Status.RUNNING, "pause_requested": True}),
    ("paused", {"status": Status.PAUSED}),
    ("waiting", {"status": Status.WAITING}),
    ("complete", {"status": Status.COMPLETED}),
    ("errored", {"status": Status.FAILED}),
    ("errored", {"status": Status.TIMEOUT}),
    ("terminated", {"status": Status.CANCELLED}),
]


def test_the_list_filters_by_each_instance_status(call, orders):
    made = {}
    for n, (word, fields) in enumerate(STATES):
        made.setdefault(word, set()).add(make_instance(orders, f"s{n}", **fields).instance_key)
    for word, keys in made.items():
        response = call("get", f"?status={word}")
        assert response.status_code == 200
        body = conforms(response.json(), "InstanceList")
        assert {item["id"] for item in body["result"]} == keys
        assert {item["status"] for item in body["result"]} == {word}
    both = call("get", "?status=paused,waiting").json()["result"]
    assert {item["status"] for item in both} == {"paused", "waiting"}
    assert len(call("get").json()["result"]) == len(STATES)


@pytest.mark.parametrize("status", ["rollingBack", "pending", "Complete", "complete,nope"])
def test_an_unknown_status_is_400_with_the_allowed_list(call, orders, status):
    body = assert_error(call("get", f"?status={status}"), 400, "BAD_REQUEST")
    assert body["allowed"] == [
        "queued", "running", "waitingForPause", "paused", "waiting", "complete", "errored",
        "terminated",
    ]  # fmt: skip


def test_list_items_carry_times_version_and_trigger_source(call, orders):
    now = timezone.now()
    execution = make_instance(
        orders, "done", status=Status.COMPLETED, triggered_by="scheduler",
        queued_at=now - timedelta(minutes=1), started_at=now - timedelta(seconds=5),
        finished_at=now,
    )  # fmt: skip
    ExecutionAttempt.objects.create(
        execution=execution, number=1, started_at=now - timedelta(seconds=30),
        finished_at=now - timedelta(seconds=29),
    )  # fmt: skip
    ExecutionAttempt.objects.create(
        execution=execution, number=2, started_at=now - timedelta(seconds=5), finished_at=now
    )
    (item,) = call("get").json()["result"]
    assert item["id"] == "done" and item["executionId"] == str(execution.id)
    assert (item["status"], item["version"], item["workflow"]) == ("complete", 1, "orders")
    assert (item["trigger_source"], item["triggered_by"]) == ("cron", "scheduler")
    assert item["created_on"] == execution.queued_at.isoformat()
    # The first attempt's start, not the latest one's.
    assert item["started_on"] == (now - timedelta(seconds=30)).isoformat()
    assert item["ended_on"] == item["modified_on"] == now.isoformat()


@pytest.mark.parametrize(
    ("triggered_by", "source"),
    [("api", "api"), ("webhook", "event"), ("app-event", "event"), ("scheduler", "cron"),
     ("manual", "unknown"), ("test", "unknown"), ("agent-service", "unknown")],
)  # fmt: skip
def test_trigger_sources_follow_the_reference(call, orders, triggered_by, source):
    make_instance(orders, "x", triggered_by=triggered_by)
    assert call("get").json()["result"][0]["trigger_source"] == source


def test_the_cursor_walks_every_instance_once_newest_first(call, orders):
    start = timezone.now() - timedelta(hours=1)
    made = []
    for n in range(7):
        # Two pairs share a queued_at: the id breaks the tie.
        made.append(make_instance(orders, f"p{n}", queued_at=start + timedelta(minutes=n // 2)))
    seen, cursor, pages = [], None, 0
    while True:
        response = call("get", "?per_page=3" + (f"&cursor={cursor}" if cursor else ""))
        body = conforms(response.json(), "InstanceList")
        seen += [item["id"] for item in body["result"]]
        pages += 1
        cursor = body["result_info"]["cursor"]
        assert body["result_info"]["per_page"] == 3
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    expected = sorted(made, key=lambda e: (e.queued_at, e.id), reverse=True)
    assert seen == [e.instance_key for e in expected]


def test_numbered_pages_say_how_many_there_are(call, orders):
    for n in range(5):
        make_instance(orders, f"n{n}")
    body = conforms(call("get", "?per_page=2&page=3").json(), "InstanceList")
    assert body["result_info"] == {
        "page": 3, "per_page": 2, "count": 1, "total_count": 5, "total_pages": 3,
    }  # fmt: skip
    assert len(body["result"]) == 1
    assert call("get", "?page=9").json()["result"] == []


def test_the_date_range_filters_on_creation(call, orders):
    old = make_instance(orders, "old", queued_at=datetime(2024, 1, 1, 12, tzinfo=UTC))
    make_instance(orders, "new")
    ids = lambda query: [i["id"] for i in call("get", query).json()["result"]]  # noqa: E731
    assert ids("?date_end=2024-06-01") == [old.instance_key]
    assert ids("?date_start=2024-06-01T00:00:00Z") == ["new"]
    assert ids("?date_start=2023-12-31&date_end=2024-01-01T12:00:00") == ["old"]


@pytest.mark.parametrize(
    "query",
    ["?per_page=0", "?per_page=101", "?per_page=abc", "?per_page=-1", "?per_page=%C2%B2",
     "?page=0", "?page=x", "?page=99999999999999999999", "?cursor=nope", "?cursor=",
     "?cursor=%FF", "?cursor=abc&page=1", "?date_start=yesterday", "?date_end=2024-13-01"],
)  # fmt: skip
def test_bad_list_parameters_are_400(call, orders, query):
    assert_error(call("get", query), 400, "BAD_REQUEST")


def test_listing_an_unknown_workflow_is_404(call, orders):
    assert_error(call("get", slug="nope"), 404)


# --- Reading one ------------------------------------------------------------------------------


def test_an_instance_shows_its_steps_of_every_kind(call, orders):
    now = timezone.now()
    execution = make_instance(
        orders, "order-7", status=Status.WAITING, input={"id": 7}, replays=2, attempts=3,
        due_at=now + timedelta(hours=1), started_at=now - timedelta(seconds=2),
    )  # fmt: skip
    ago = lambda seconds: (now - timedelta(seconds=seconds)).isoformat()  # noqa: E731
    attempts = [
        {"start": ago(9), "end": ago(8), "success": False,
         "error": {"name": "Error", "message": "flaky"}},
        {"start": ago(6), "end": ago(5), "success": True, "error": None},
    ]  # fmt: skip
    config = {"retries": {"limit": 5, "delay": 1000, "backoff": "exponential"}, "timeout": 60000}
    step = lambda **fields: ExecutionStep.objects.create(execution=execution, **fields)  # noqa: E731
    step(name="load order", kind=StepKind.DO, status=StepStatus.COMPLETE, position=0, line=2,
         config=config, attempts=attempts, output={"id": 7},
         started_at=now - timedelta(seconds=9), finished_at=now - timedelta(seconds=5))  # fmt: skip
    step(name="cool off", kind=StepKind.SLEEP, status=StepStatus.COMPLETE, position=1,
         wake_at=now - timedelta(seconds=3), started_at=now - timedelta(seconds=5),
         finished_at=now - timedelta(seconds=3))  # fmt: skip
    step(name="until noon", kind=StepKind.SLEEP_UNTIL, status=StepStatus.COMPLETE, position=2,
         wake_at=now - timedelta(seconds=2), finished_at=now - timedelta(seconds=2))  # fmt: skip
    step(name="approval", kind=StepKind.WAIT_FOR_EVENT, status=StepStatus.WAITING, position=3,
         event_type="approved", wake_at=now + timedelta(hours=1))  # fmt: skip
    InstanceEvent.objects.create(execution=execution, type="other", payload={"x": 1})

    response = call("get", "/order-7")
    assert response.status_code == 200
    body = conforms(response.json(), "InstanceDetail")
    assert (body["id"], body["executionId"]) == ("order-7", str(execution.id))
    assert (body["status"], body["params"], body["output"], body["error"]) == (
        "waiting", {"id": 7}, None, None,
    )  # fmt: skip
    assert (body["replays"], body["attempts"], body["step_count"]) == (2, 3, 4)
    assert body["wake_at"] == (now + timedelta(hours=1)).isoformat()
    assert body["end"] is None
    do, sleep, until, wait = body["steps"]
    assert do == {
        "name": "load order", "type": "step", "kind": "do", "status": "complete",
        "finished": True, "success": True, "line": 2, "config": config, "attempts": attempts,
        "start": (now - timedelta(seconds=9)).isoformat(),
        "end": (now - timedelta(seconds=5)).isoformat(), "output": {"id": 7}, "error": None,
    }  # fmt: skip
    assert (sleep["type"], sleep["kind"]) == ("sleep", "sleep")
    assert sleep["until"] == (now - timedelta(seconds=3)).isoformat()
    assert (until["type"], until["kind"]) == ("sleep", "sleepUntil")
    assert (wait["type"], wait["status"], wait["finished"]) == ("waitForEvent", "waiting", False)
    assert wait["event_type"] == "approved" and wait["success"] is None
    assert wait["timeout_at"] == (now + timedelta(hours=1)).isoformat()
    assert "until" not in wait and "event_type" not in do
    assert [(e["type"], e["taken_by"]) for e in body["events"]] == [("other", None)]
    assert body["event_count"] == 1
    assert "payload" not in body["events"][0]
    # Its execution UUID names it too.
    assert call("get", f"/{execution.id}").json()["id"] == "order-7"


def test_a_retrying_step_says_when_it_tries_again(call, orders):
    execution = make_instance(orders, "r", status=Status.WAITING)
    due = timezone.now() + timedelta(seconds=20)
    ExecutionStep.objects.create(
        execution=execution, name="flaky", kind=StepKind.DO, status=StepStatus.RETRYING,
        position=0, wake_at=due,
    )  # fmt: skip
    (step,) = conforms(call("get", "/r").json(), "InstanceDetail")["steps"]
    assert step["retry_at"] == due.isoformat() and step["success"] is None


def test_an_errored_instance_shows_the_references_error_shape(call, orders):
    error = {"code": "RUNTIME_ERROR", "message": "TypeError: x is undefined", "line": 3}
    make_instance(orders, "e", status=Status.FAILED, error=error, finished_at=timezone.now())
    body = conforms(call("get", "/e").json(), "InstanceDetail")
    assert body["status"] == "errored"
    assert body["error"] == {
        "name": "TypeError", "message": "x is undefined", "code": "RUNTIME_ERROR", "line": 3,
    }  # fmt: skip
    assert body["end"] is not None


def test_a_terminated_instance_and_a_timed_out_one_say_why(call, orders):
    make_instance(orders, "t", status=Status.CANCELLED,
                  error={"code": "TERMINATED", "message": "Terminated by API key ci."})  # fmt: skip
    make_instance(orders, "o", status=Status.TIMEOUT, error=None)
    terminated = call("get", "/t").json()
    assert terminated["status"] == "terminated"
    assert terminated["error"]["name"] == "TERMINATED"
    assert terminated["error"]["message"] == "Terminated by API key ci."
    timed_out = call("get", "/o").json()
    assert timed_out["status"] == "errored" and timed_out["error"]["name"] == "TIMEOUT"


def test_a_complete_instance_shows_its_output_and_no_error(call, orders):
    make_instance(orders, "c", status=Status.COMPLETED, output={"ok": True},
                  error=None, finished_at=timezone.now())  # fmt: skip
    body = conforms(call("get", "/c").json(), "InstanceDetail")
    assert (body["status"], body["output"], body["error"]) == ("complete", {"ok": True}, None)


@pytest.mark.parametrize(
    "name", ["nope", "6f1e0c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "x" * 300, "%00", "a%2Fb"]
)
def test_an_unknown_instance_is_404_json(call, orders, name):
    make_instance(orders, "real")
    assert_error(call("get", f"/{name}"), 404, "NOT_FOUND")


def test_an_instance_of_another_workflow_is_404(call, cast, orders):
    refunds = make_workflow(cast.space, slug="refunds", tier="standard", timeout=60)
    publish(refunds)
    other = make_instance(refunds, "r1")
    assert_error(call("get", "/r1"), 404)
    assert_error(call("get", f"/{other.id}"), 404)


# --- Controls ---------------------------------------------------------------------------------

CONTROL_CASES = [
    # (start, control, answer: the new status, or ("409", the current status))
    ({"status": Status.PENDING}, "pause", "paused"),
    ({"status": Status.WAITING}, "pause", "paused"),
    ({"status": Status.RUNNING}, "pause", "waitingForPause"),
    ({"status": Status.PAUSED}, "pause", ("409", "paused")),
    ({"status": Status.COMPLETED}, "pause", ("409", "complete")),
    ({"status": Status.CANCELLED}, "pause", ("409", "terminated")),
    ({"status": Status.PAUSED}, "resume", "queued"),
    ({"status": Status.RUNNING, "pause_requested": True}, "resume", "running"),
    ({"status": Status.RUNNING}, "resume", ("409", "running")),
    ({"status": Status.PENDING}, "resume", ("409", "queued")),
    ({"status": Status.FAILED}, "resume", ("409", "errored")),
    ({"status": Status.PENDING}, "terminate", "terminated"),
    ({"status": Status.WAITING}, "terminate", "terminated"),
    ({"status": Status.PAUSED}, "terminate", "terminated"),
    ({"status": Status.COMPLETED}, "terminate", ("409", "complete")),
    ({"status": Status.COMPLETED}, "restart", "queued"),
    ({"status": Status.FAILED}, "restart", "queued"),
    ({"status": Status.WAITING}, "restart", "queued"),
    ({"status": Status.PAUSED}, "restart", "queued"),
]


@pytest.mark.parametrize(("start", "control", "answer"), CONTROL_CASES)
def test_status_controls_on_each_state(call, orders, start, control, answer):
    execution = make_instance(orders, "i", **start)
    response = call("patch", "/i/status", body={"status": control})
    execution.refresh_from_db()
    if isinstance(answer, tuple):
        body = assert_error(response, 409, "CONFLICT")
        assert body["status"] == answer[1] == execution.instance_status
        conforms(body, "InstanceConflict")
        return
    assert response.status_code == 200, response.content
    body = conforms(response.json(), "InstanceStatusChanged")
    assert body["status"] == answer == execution.instance_status
    assert abs(datetime.fromisoformat(body["timestamp"]) - timezone.now()) < timedelta(minutes=1)


def test_terminating_a_running_instance_asks_its_worker_to_stop(call, orders):
    execution = make_instance(orders, "i", status=Status.RUNNING)
    response = call("patch", "/i/status", body={"status": "terminate"})
    assert response.status_code == 200 and response.json()["status"] == "running"
    execution.refresh_from_db()
    assert execution.cancel_requested


def test_restart_discards_the_stored_steps(call, orders):
    execution = make_instance(
        orders, "i", status=Status.COMPLETED, output={"ok": 1}, replays=2, max_attempts=3
    )
    ExecutionStep.objects.create(
        execution=execution, name="a", kind=StepKind.DO, status=StepStatus.COMPLETE, position=0
    )
    assert call("patch", "/i/status", body={"status": "restart"}).json()["status"] == "queued"
    body = call("get", "/i").json()
    assert (body["steps"], body["output"], body["replays"]) == ([], None, 0)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[]", b'"pause"', b"{}", b'{"status": "stop"}', b'{"status": "Pause"}',
     b'{"status": ["pause"]}', b'{"status": null}'],
)  # fmt: skip
def test_a_bad_status_body_is_400_and_changes_nothing(call, orders, raw):
    execution = make_instance(orders, "i", status=Status.WAITING)
    assert_error(call("patch", "/i/status", raw=raw), 400, "BAD_REQUEST")
    execution.refresh_from_db()
    assert execution.status == Status.WAITING


def test_controlling_an_unknown_instance_is_404(call, orders):
    assert_error(call("patch", "/nope/status", body={"status": "pause"}), 404)


def test_the_status_path_takes_only_patch(call, orders):
    make_instance(orders, "i")
    for method in ("get", "post", "put", "delete"):
        response = call(method, "/i/status", body={"status": "pause"})
        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert response["Allow"] == "PATCH"


# --- Events -----------------------------------------------------------------------------------


def test_an_event_for_a_waiting_step_is_stored_and_wakes_the_instance(call, orders):
    execution = make_instance(orders, "i", status=Status.WAITING)
    ExecutionStep.objects.create(
        execution=execution, name="approval", kind=StepKind.WAIT_FOR_EVENT,
        status=StepStatus.WAITING, position=0, event_type="approved",
    )  # fmt: skip
    response = call("post", "/i/events/approved", body={"by": "ada"})
    assert response.status_code == 202
    body = conforms(response.json(), "InstanceEventAccepted")
    assert (body["type"], body["status"], body["instance"]) == ("approved", "accepted", "i")
    event = InstanceEvent.objects.get(execution=execution)
    assert str(event.pk) == body["eventId"]
    assert (event.type, event.payload, event.taken_by) == ("approved", {"by": "ada"}, "")
    execution.refresh_from_db()
    assert execution.instance_status == "queued"


def test_an_event_nobody_waits_for_yet_is_kept(call, orders):
    execution = make_instance(orders, "i", status=Status.RUNNING)
    assert call("post", "/i/events/approved", body=[1, 2]).status_code == 202
    assert call("post", "/i/events/approved", raw=b"").status_code == 202
    events = list(InstanceEvent.objects.filter(execution=execution))
    assert [(e.type, e.payload) for e in events] == [("approved", [1, 2]), ("approved", None)]
    execution.refresh_from_db()
    assert execution.status == Status.RUNNING
    shown = call("get", "/i").json()["events"]
    assert [e["type"] for e in shown] == ["approved", "approved"]


def test_the_instance_shows_its_latest_100_events(call, orders):
    execution = make_instance(orders, "i", status=Status.RUNNING)
    start = timezone.now() - timedelta(hours=1)
    InstanceEvent.objects.bulk_create(
        InstanceEvent(execution=execution, type=f"e{n}", received_at=start + timedelta(seconds=n))
        for n in range(130)
    )
    body = conforms(call("get", "/i").json(), "InstanceDetail")
    assert body["event_count"] == 130
    assert [e["type"] for e in body["events"]] == [f"e{n}" for n in range(30, 130)]


@pytest.mark.parametrize(
    ("status", "word"),
    [(Status.COMPLETED, "complete"), (Status.FAILED, "errored"), (Status.CANCELLED, "terminated")],
)
def test_an_event_for_an_ended_instance_is_409(call, orders, status, word):
    make_instance(orders, "i", status=status)
    body = assert_error(call("post", "/i/events/approved", body={}), 409, "CONFLICT")
    assert body["status"] == word
    assert not InstanceEvent.objects.exists()


@pytest.mark.parametrize("event_type", ["x" * 101, "a%20b", "caf%C3%A9", "a%00", "a!"])
def test_a_bad_event_type_is_400(call, orders, event_type):
    make_instance(orders, "i", status=Status.WAITING)
    assert_error(call("post", f"/i/events/{event_type}", body={}), 400, "BAD_REQUEST")
    assert not InstanceEvent.objects.exists()


def test_event_types_take_the_documented_characters(call, orders):
    make_instance(orders, "i", status=Status.WAITING)
    name = "order.approved:v2_final-" + "x" * 76
    assert call("post", f"/i/events/{name}", body={}).status_code == 202
    assert InstanceEvent.objects.get().type == name


def test_an_oversized_or_invalid_payload_is_refused_and_nothing_stored(call, orders):
    make_instance(orders, "i", status=Status.WAITING)
    big = json.dumps({"blob": "x" * (1024 * 1024)}).encode()
    assert_error(call("post", "/i/events/approved", raw=big), 413, "PAYLOAD_TOO_LARGE")
    assert_error(call("post", "/i/events/approved", raw=b"{nope"), 400, "BAD_REQUEST")
    assert_error(call("post", "/i/events/approved", raw=b"NaN"), 400, "BAD_REQUEST")
    assert not InstanceEvent.objects.exists()


def test_an_event_for_an_unknown_instance_is_404(call, orders):
    assert_error(call("post", "/nope/events/approved", body={}), 404)


# --- Tenancy ----------------------------------------------------------------------------------


@pytest.fixture
def other_key(cast) -> str:
    return apikey_create(cast.other_space, name="b", mode="live", actor=Actor.system())[1]


def test_another_spaces_key_cannot_reach_an_instance_even_by_its_uuid(
    call, cast, orders, other_key
):
    execution = make_instance(orders, "secret-order", status=Status.WAITING)
    ExecutionStep.objects.create(
        execution=execution, name="approval", kind=StepKind.WAIT_FOR_EVENT,
        status=StepStatus.WAITING, position=0, event_type="approved",
    )  # fmt: skip
    # Space B has a workflow of the same slug: the lookup still stays in B.
    publish(make_workflow(cast.other_space, slug="orders", tier="standard", timeout=60))
    for name in ("secret-order", str(execution.id)):
        as_b = dict(key=other_key, space=cast.other_space)
        assert_error(call("get", f"/{name}", **as_b), 404)
        assert_error(call("patch", f"/{name}/status", body={"status": "terminate"}, **as_b), 404)
        assert_error(call("post", f"/{name}/events/approved", body={}, **as_b), 404)
        assert call("get", **as_b).json()["result"] == []
        # B's key on A's URL: refused before anything is looked up.
        assert_error(call("get", f"/{name}", key=other_key), 403)
        assert_error(call("patch", f"/{name}/status", body={"status": "pause"}, key=other_key), 403)
        assert_error(call("post", f"/{name}/events/approved", body={}, key=other_key), 403)
        assert_error(call("post", body={"id": "b"}, key=other_key), 403)
    execution.refresh_from_db()
    assert execution.status == Status.WAITING and not execution.cancel_requested
    assert not InstanceEvent.objects.exists()
    assert Execution.objects.count() == 1


def test_a_request_without_a_valid_key_is_401(call, orders):
    make_instance(orders, "i")
    assert_error(call("get", "/i", key=""), 401, "UNAUTHORIZED")
    assert_error(call("get", key="fsk_live_nope"), 401)
    assert_error(call("patch", "/i/status", body={"status": "pause"}, key="x"), 401)


def test_a_tenant_header_shows_only_that_customers_instances(call, cast, orders):
    a = customer_create(cast.space, name="A", external_id="tenant-a", actor=Actor.system())
    customer_create(cast.space, name="B", external_id="tenant-b", actor=Actor.system())
    make_instance(orders, "of-a", customer=a, status=Status.WAITING)
    make_instance(orders, "of-space")
    as_a, as_b = {"x-fastn-space-tenantid": "tenant-a"}, {"x-fastn-space-tenantid": "tenant-b"}
    assert [i["id"] for i in call("get", **as_a).json()["result"]] == ["of-a"]
    assert call("get", **as_b).json()["result"] == []
    assert {i["id"] for i in call("get").json()["result"]} == {"of-a", "of-space"}
    assert call("get", "/of-a", **as_a).status_code == 200
    assert_error(call("get", "/of-a", **as_b), 404)
    assert_error(call("patch", "/of-a/status", body={"status": "pause"}, **as_b), 404)
    assert_error(call("post", "/of-a/events/x", body={}, **as_b), 404)


def test_a_test_key_reaches_only_draft_and_test_instances(call, cast, orders):
    test_key = apikey_create(cast.space, name="t", mode="test", actor=Actor.system())[1]
    make_instance(orders, "live-one")
    make_instance(orders, "test-one", environment="test")
    make_instance(orders, "draft-one", environment=DRAFT)
    as_test = dict(key=test_key, stage="test")
    assert {i["id"] for i in call("get", **as_test).json()["result"]} == {"test-one", "draft-one"}
    assert_error(call("get", "/live-one", **as_test), 404)
    assert_error(call("patch", "/live-one/status", body={"status": "pause"}, **as_test), 404)
    paused = call("patch", "/test-one/status", body={"status": "pause"}, **as_test)
    assert paused.json()["status"] == "paused"
    assert Execution.objects.get(instance_id="test-one").status == Status.PAUSED
    # Without a stage a test key is refused, as on every endpoint.
    assert_error(call("get", key=test_key), 403)
    created = call("post", body={"id": "from-test"}, **as_test)
    assert created.status_code == 201
    assert Execution.objects.get(instance_id="from-test").environment == "test"


# --- Methods, paths and the document ----------------------------------------------------------


def test_the_collection_takes_get_and_post_only(call, orders):
    for method in ("put", "delete", "patch"):
        response = call(method)
        assert_error(response, 405)
        assert set(response["Allow"].split(", ")) == {"GET", "POST"}


def test_the_openapi_document_describes_the_instances_api(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    base = "/tenants/{space_id}/workflows/{workflow_slug}/instances"
    paths = document["paths"]
    assert set(paths[base]) == {"get", "post"}
    assert set(paths[base + "/batch"]) == {"post"}
    assert set(paths[base + "/{instance_id}"]) == {"get"}
    assert set(paths[base + "/{instance_id}/status"]) == {"patch"}
    assert set(paths[base + "/{instance_id}/events/{event_type}"]) == {"post"}
    assert paths[base]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InstanceCreated"
    }


# --- Anything at all --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)  # fmt: skip
bodies = (
    json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries({}, optional={"id": json_values | st.text(max_size=120),
                                          "params": json_values, "status": st.text(max_size=12)})
    .map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
)  # fmt: skip
FUZZ_PATHS = ["", "/batch", "/i", "/i/status", "/i/events/t", "/{uuid}", "/{uuid}/status",
              "/nope/events/t", "/i/events/{text}"]  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["get", "post", "patch", "put", "delete"]),
    path=st.sampled_from(FUZZ_PATHS),
    body=bodies,
    text=st.text(st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=30),
    query=st.sampled_from(["", "?status=queued", "?per_page=1&cursor=x", "?page=2", "?status="]),
)
def test_no_request_answers_5xx(call, orders, method, path, body, text, query):
    execution = make_instance(orders, "i", status=Status.WAITING)
    path = path.format(uuid=execution.id, text=text)
    response = call(method, path + query, raw=body)
    assert response.status_code < 500, (method, path, body, response.content)
    assert response["Content-Type"].startswith("application/json")
    Execution.objects.all().delete()


@pytest.mark.parametrize("slug", ["%00", "a%00b", "caf%C3%A9", "a.b"])
def test_a_path_segment_that_is_no_slug_is_an_unknown_path(call, orders, slug):
    for method, path in [("get", ""), ("post", ""), ("post", "/batch"), ("get", "/i")]:
        assert_error(call(method, path, body={}, slug=slug), 404, "NOT_FOUND")


# --- End to end: a real worker, real V8 -------------------------------------------------------


def poll(call, path: str, status: str, timeout: float = 30.0) -> dict:
    """GET the instance until it is in `status`; its document."""
    deadline = time.monotonic() + timeout
    while True:
        body = call("get", path).json()
        if body["status"] == status:
            return conforms(body, "InstanceDetail")
        if time.monotonic() > deadline:
            raise AssertionError(f"still {body['status']}, not {status}: {body}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_an_instance_waits_for_an_event_sent_through_the_api_then_completes(
    call, orders, celery_worker
):
    created = call("post", body={"id": "order-1", "params": {"id": 1}})
    assert created.status_code == 201
    waiting = poll(call, "/order-1", "waiting")
    assert [(s["name"], s["type"], s["status"]) for s in waiting["steps"]] == [
        ("load order", "step", "complete"), ("approval", "waitForEvent", "waiting"),
    ]  # fmt: skip
    load, approval = waiting["steps"]
    assert load["output"] == {"id": 1} and [a["success"] for a in load["attempts"]] == [True]
    assert load["config"] == {
        "retries": {"limit": 5, "delay": 10_000, "backoff": "exponential"},
        "timeout": 600_000,
    }  # fmt: skip (the documented defaults)
    assert approval["event_type"] == "approved" and approval["timeout_at"] is not None

    sent = call("post", "/order-1/events/approved", body={"by": "ada"})
    assert sent.status_code == 202
    done = poll(call, "/order-1", "complete")
    assert done["output"] == {"order": {"id": 1}, "approvedBy": "ada"}
    assert done["error"] is None and done["end"] is not None and done["replays"] == 1
    assert [(s["name"], s["status"]) for s in done["steps"]] == [
        ("load order", "complete"), ("approval", "complete"),
    ]  # fmt: skip
    taken = done["steps"][1]["output"]
    assert (taken["type"], taken["payload"]) == ("approved", {"by": "ada"})
    assert [(e["type"], e["taken_by"]) for e in done["events"]] == [("approved", "approval")]
    # Ended: another event is refused.
    assert_error(call("post", "/order-1/events/approved", body={}), 409)
    (item,) = call("get", "?status=complete").json()["result"]
    assert item["id"] == "order-1" and item["ended_on"] is not None

    # Restart: from the beginning, the stored steps discarded; it waits for a new event.
    restarted = call("patch", "/order-1/status", body={"status": "restart"})
    assert restarted.json()["status"] in ("queued", "running")
    again = poll(call, "/order-1", "waiting")
    assert [(s["name"], s["status"]) for s in again["steps"]] == [
        ("load order", "complete"), ("approval", "waiting"),
    ]  # fmt: skip
    # The count started over: one suspension (at the wait) since the restart.
    assert (again["output"], again["replays"], again["events"]) == (None, 1, [])


@pytest.mark.django_db(transaction=True)
def test_pause_keeps_an_event_until_resume_and_terminate_ends_a_waiting_instance(
    call, orders, celery_worker
):
    created = call("post", "/batch", body=[{"id": "paused-one"}, {"id": "stopped-one"}])
    assert created.status_code == 201
    poll(call, "/paused-one", "waiting")
    poll(call, "/stopped-one", "waiting")

    assert call("patch", "/paused-one/status", body={"status": "pause"}).json()["status"] == (
        "paused"
    )
    assert call("post", "/paused-one/events/approved", body={"by": "bo"}).status_code == 202
    # A paused instance is not woken by an event (the wake-up is part of the send): it keeps it.
    kept = call("get", "/paused-one").json()
    assert kept["status"] == "paused"
    assert [(e["type"], e["taken_by"]) for e in kept["events"]] == [("approved", None)]
    resumed = call("patch", "/paused-one/status", body={"status": "resume"})
    assert resumed.json()["status"] in ("queued", "running")
    assert poll(call, "/paused-one", "complete")["output"]["approvedBy"] == "bo"

    stopped = call("patch", "/stopped-one/status", body={"status": "terminate"})
    assert stopped.json()["status"] == "terminated"
    body = poll(call, "/stopped-one", "terminated")
    assert body["error"]["name"] == "TERMINATED"
    conflict = call("patch", "/stopped-one/status", body={"status": "resume"})
    assert assert_error(conflict, 409)["status"] == "terminated"
