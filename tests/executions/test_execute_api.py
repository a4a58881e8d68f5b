"""POST /api/v1/{workflow_slug}: every status code and error body."""

from __future__ import annotations

import json
import time

import pytest
from django.test import override_settings

from apps.environments.selectors import environment_by_slug
from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create, customer_create
from apps.workflows.models import Deployment, WorkflowVersion
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def publish(workflow, number=1):
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=number, code=workflow.draft_code, config={}
    )
    live = environment_by_slug(workflow.space, "live")
    Deployment.objects.update_or_create(
        workflow=workflow, environment=live, defaults={"version": version}
    )
    return version


@pytest.fixture
def api(client, cast):
    _, live_key = apikey_create(cast.space, name="live", mode="live", actor=Actor.system())
    _, test_key = apikey_create(cast.space, name="test", mode="test", actor=Actor.system())

    def call(slug, body=None, *, key=live_key, raw=None, **headers):
        payload = (
            raw if raw is not None else json.dumps(body if body is not None else {"input": {}})
        )
        return client.post(
            f"/api/v1/{slug}",
            payload,
            content_type="application/json",
            headers={"x-fastn-api-key": key, "x-fastn-space-id": str(cast.space.id), **headers},
        )

    call.test_key = test_key
    return call


def test_instant_answers_200_with_the_return_value(celery_worker, api, cast):
    publish(make_workflow(cast.space))
    response = api("echo", {"input": {"n": 1}})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "input": {"n": 1}}
    execution = Execution.objects.get(space=cast.space)
    assert execution.triggered_by == "api" and execution.version_number == 1
    assert "x-fastn-api-key" not in execution.headers


def test_standard_answers_202_and_runs_on_a_worker(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="standard", timeout=30))
    response = api("echo", {"input": {"n": 2}})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    execution = Execution.objects.get(id=body["executionId"])
    deadline = time.monotonic() + 15
    while not execution.is_terminal and time.monotonic() < deadline:
        time.sleep(0.05)
        execution.refresh_from_db()
    assert execution.status == "completed" and execution.output["input"] == {"n": 2}


def test_long_tier_runs_on_the_long_queue(celery_worker, api, cast):
    publish(make_workflow(cast.space, tier="long", timeout=60))
    body = api("echo").json()
    execution = Execution.objects.get(id=body["executionId"])
    deadline = time.monotonic() + 15
    while not execution.is_terminal and time.monotonic() < deadline:
        time.sleep(0.05)
        execution.refresh_from_db()
    assert execution.status == "completed" and execution.tier == "long"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "must be a JSON object"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"data": {}}', 'must have an "input" field'),
    ],
)
def test_bad_bodies_answer_400(api, cast, raw, fragment):
    make_workflow(cast.space)
    response = api("echo", raw=raw, stage="DRAFT")
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert fragment in response.json()["message"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_oversized_body_answers_413(api, cast):
    make_workflow(cast.space)
    response = api("echo", {"input": {"blob": "x" * 5000}}, stage="DRAFT")
    assert response.status_code == 413
    assert response.json()["statusCode"] == 413


def test_unknown_unpublished_undeployed_and_disabled_answer_404(api, cast):
    assert api("nope").json()["code"] == "NOT_FOUND"
    make_workflow(cast.space)
    response = api("echo")
    assert response.status_code == 404 and response.json()["code"] == "WORKFLOW_NOT_PUBLISHED"
    staged = make_workflow(cast.space, slug="staged")
    WorkflowVersion.objects.create(workflow=staged, number=1, code=staged.draft_code, config={})
    assert api("staged").status_code == 404  # published, not deployed to live
    disabled = make_workflow(cast.space, slug="off", enabled=False)
    publish(disabled)
    assert api("off").status_code == 404


def test_draft_stage_runs_the_unpublished_draft(celery_worker, api, cast):
    make_workflow(cast.space)
    response = api("echo", {"input": {"d": 1}}, key=api.test_key, stage="DRAFT")
    assert response.status_code == 200 and response.json()["input"] == {"d": 1}


def test_test_key_cannot_reach_live(api, cast):
    publish(make_workflow(cast.space))
    response = api("echo", key=api.test_key)
    assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"


def test_missing_or_wrong_key_answers_401(client, cast):
    make_workflow(cast.space)
    response = client.post(
        "/api/v1/echo", "{}", content_type="application/json",
        headers={"x-fastn-space-id": str(cast.space.id)},
    )  # fmt: skip
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


def test_a_thrown_error_is_a_workflow_error_not_a_server_error(celery_worker, api, cast):
    code = "export default async () => {\n  throw new Error('nope');\n}\n"
    publish(make_workflow(cast.space, code=code))
    response = api("echo")
    assert response.status_code == 422
    body = response.json()
    execution = Execution.objects.get(space=cast.space)
    assert body == {
        "code": "WORKFLOW_ERROR",
        "statusCode": 422,
        "message": execution.error["message"],
        "executionId": str(execution.id),
        "line": 2,
        "column": 9,
    }
    assert "nope" in body["message"]


def test_a_syntax_error_is_a_workflow_error_with_its_position(celery_worker, api, cast):
    publish(make_workflow(cast.space, code="export default async () => {\n  return 1 +;\n}\n"))
    response = api("echo")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "WORKFLOW_ERROR" and body["line"] == 2 and body["column"]


def test_a_crashed_sandbox_is_a_platform_fault(celery_worker, api, cast):
    """SANDBOX_CRASHED (the platform's fault, not the workflow's) keeps 500 INTERNAL_ERROR."""
    from apps.api.execute import error_body

    workflow = make_workflow(cast.space)
    execution = Execution.objects.create(
        space=cast.space, workflow=workflow, workflow_name="Echo", tier="instant",
        timeout_seconds=10, triggered_by="api", status="failed",
        error={"code": "SANDBOX_CRASHED", "message": "The sandbox process died."},
    )  # fmt: skip
    status, body = error_body(execution)
    assert (status, body["code"], body["executionId"]) == (500, "INTERNAL_ERROR", str(execution.id))


def test_instant_timeout_answers_408(celery_worker, api, cast):
    publish(make_workflow(cast.space, timeout=1, code="export default () => { while (true) {} }"))
    response = api("echo")
    assert response.status_code == 408 and response.json()["code"] == "TIMED_OUT"


def test_another_spaces_workflow_is_404_by_slug(api, cast):
    publish(make_workflow(cast.other_space, slug="secret-flow"))
    assert api("secret-flow", stage="DRAFT").status_code == 404


def test_tenant_header_scopes_the_run(celery_worker, api, cast):
    customer_create(cast.space, name="A", external_id="tenant-a", actor=Actor.system())
    publish(
        make_workflow(cast.space, code="export default async (ctx) => ({ tenant: ctx.tenant })")
    )
    response = api("echo", **{"x-fastn-space-tenantid": "tenant-a"})
    assert response.json() == {"tenant": "tenant-a"}
    assert Execution.objects.get(space=cast.space).customer.external_id == "tenant-a"


def test_execution_trace_and_cancel_through_the_api(celery_worker, client, api, cast):
    endless = "export default async () => { await null; while (true) {} }"
    publish(make_workflow(cast.space, tier="standard", timeout=60, code=endless))
    _, key = apikey_create(cast.space, name="ops", mode="live", actor=Actor.system())
    headers = {"x-fastn-api-key": key}
    execution_id = api("echo").json()["executionId"]
    base = f"/api/v1/tenants/{cast.space.id}/executions/{execution_id}"
    deadline = time.monotonic() + 10
    while client.get(base, headers=headers).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = client.post(f"{base}/cancel", headers=headers)
    assert response.status_code == 200
    deadline = time.monotonic() + 5
    while (doc := client.get(base, headers=headers).json())["status"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert doc["attempts"] == 1 and doc["error"]["code"] == "CANCELLED"
    again = client.post(f"{base}/cancel", headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "CONFLICT"


def test_execution_api_is_scoped_to_the_space(client, cast):
    other = make_workflow(cast.other_space, slug="theirs")
    from apps.executions.services import execution_create

    theirs = execution_create(other, version=None, code=None, input={}, headers={},
                              triggered_by="api", actor=None)  # fmt: skip
    _, key = apikey_create(cast.space, name="k", mode="live", actor=Actor.system())
    headers = {"x-fastn-api-key": key}
    mine = f"/api/v1/tenants/{cast.space.id}/executions/{theirs.id}"
    assert client.get(mine, headers=headers).status_code == 404
    assert client.post(f"{mine}/cancel", headers=headers).status_code == 404
    foreign = f"/api/v1/tenants/{cast.other_space.id}/executions/{theirs.id}"
    assert client.get(foreign, headers=headers).status_code == 403
    assert client.get(f"/api/v1/tenants/{cast.space.id}/executions/nope",
                      headers=headers).status_code == 404  # fmt: skip


def test_new_workflows_start_with_retry_off(cast):
    from apps.demo.samples import seed_sample_workflows
    from apps.executions.services import execution_create
    from apps.workflows.services import defaults_for_new, workflow_create

    assert defaults_for_new()["retry_enabled"] is False
    created = workflow_create(cast.space, name="Fresh", actor=Actor.system())
    assert not created.retry_enabled
    run = execution_create(created, version=None, code=None, input={}, headers={},
                           triggered_by="api", actor=None)  # fmt: skip
    assert run.max_attempts == 1
    seed_sample_workflows(cast.space)
    assert not cast.space.workflows.filter(retry_enabled=True).exists()
