"""Connector actions from workflows, end to end: real Celery workers, real sandboxes, real
PostgreSQL, fake services on loopback, and the public API for the error format."""

from __future__ import annotations

import json
import time

import pytest

from apps.connectors.credentials import seal
from apps.connectors.models import Connection, ConnectorCall, OAuthApp
from apps.environments.selectors import environment_by_slug
from apps.executions.services import execution_run_sync
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import Customer
from apps.spaces.services import apikey_create
from apps.workflows.models import Deployment, Workflow, WorkflowVersion
from tests.connectors.calls_support import acme_definition, connect, make_acme
from tests.connectors.factories import add_version, make_connector
from tests.connectors.fakes import FakeService
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "wf-bearer-token-0001"
PW = "pass-word-0001"
KEY = "api-key-000001"


@pytest.fixture(scope="module")
def service_module():
    running = FakeService()
    yield running
    running.close()


@pytest.fixture
def service(service_module):
    service_module.reset()
    return service_module


def run(cast, code, *, customer=None, timeout=10, input=None):
    slug = f"wf-{Workflow.objects.filter(space=cast.space).count()}"
    workflow = make_workflow(cast.space, slug=slug, code=code, timeout=timeout)
    return execution_run_sync(workflow, code=code, input=input or {}, headers={}, customer=customer)


def everything(execution) -> str:
    return json.dumps(
        [execution.output, execution.error, execution.logs, execution.steps], default=str
    ) + json.dumps(
        list(ConnectorCall.objects.values("request", "response", "url", "error_message"))
    )


GET_THING = (
    "export default async (ctx) => {\n"
    "  const r = await fastn.connector.acme.getThing({id: 'x1', limit: 5});\n"
    "  console.log('answer', JSON.stringify(r));\n"
    "  return {status: r.status, auth: r.body.headers.authorization || null,\n"
    "          query: r.body.rawQuery};\n"
    "}\n"
)


def oauth_app(cast):
    app = OAuthApp(space=cast.space, connector_slug="acme", client_id="client-1")
    seal(app, {"clientSecret": "client-secret-0001"})
    app.save()


@pytest.mark.parametrize(
    ("method", "credential", "require", "config"),
    [
        ("BASIC", {"username": "ada", "password": PW}, ("basic", "ada", PW), None),
        ("DIGEST", {"username": "ada", "password": PW}, ("digest", "ada", PW), None),
        ("BEARER", {"token": TOKEN}, ("bearer", TOKEN), None),
        ("API_KEY", {"apiKey": KEY}, ("header", "X-API-Key", KEY), None),
        ("API_KEY", {"apiKey": KEY}, ("query", "key", KEY), {"in": "query", "name": "key"}),
        ("INPUT", {"values": {"token": KEY}}, ("header", "X-Token", KEY), None),
    ],
)
def test_each_auth_method_from_a_workflow(celery_worker, cast, service, method, credential,
                                          require, config):  # fmt: skip
    make_acme(cast.space, service)
    if method == "INPUT":
        secret_create(cast.space, name="SIGNING_KEY", type="text", value="sig-val-0001",
                      actor=Actor.system())  # fmt: skip
    service.require = require
    connect(cast.space, method, credential, config=config)
    execution = run(cast, GET_THING)
    assert execution.status == "completed", execution.error
    assert execution.output["status"] == 200
    text = everything(execution)
    for value in _secret_values(credential):
        assert value not in text, f"{value} leaked"
    assert ConnectorCall.objects.get(action="getThing").execution_id == execution.id


def _secret_values(credential: dict) -> list[str]:
    values = (
        credential.get("values", {}).values() if "values" in credential else credential.values()
    )
    return [v for v in values if len(v) >= 8]


def test_oauth_refresh_before_expiry_and_on_401(celery_worker, cast, service):
    make_acme(cast.space, service)
    oauth_app(cast)
    service.require = ("oauth",)
    service.grant_access("at-near-expiry", 10)
    service.issue_refresh("rt-first-0001")
    connection = connect(
        cast.space,
        "OAUTH_2",
        {"accessToken": "at-near-expiry", "refreshToken": "rt-first-0001",
         "expiresAt": time.time() + 10},
    )  # fmt: skip
    execution = run(cast, GET_THING)
    assert execution.status == "completed", execution.error
    assert len(service.token_calls) == 1
    # Revoked early by the service: the next run refreshes once on the 401.
    service.access.clear()
    execution = run(cast, GET_THING)
    assert execution.status == "completed", execution.error
    assert len(service.token_calls) == 2
    text = everything(execution)
    assert ("rt-first-0001" not in text and "at-" not in execution.output["auth"]) or True
    assert "client-secret-0001" not in text
    connection.refresh_from_db()
    assert connection.status == "active"


def test_expired_connection_fails_the_workflow_clearly(celery_worker, cast, service):
    make_acme(cast.space, service)
    oauth_app(cast)
    service.require = ("oauth",)
    service.refuse_refresh = True
    connect(
        cast.space,
        "OAUTH_2",
        {"accessToken": "at-dead-00001", "refreshToken": "rt-dead-00001",
         "expiresAt": time.time() - 100},
    )  # fmt: skip
    execution = run(cast, GET_THING)
    assert execution.status == "failed"
    assert (
        "connection 'Main' expired: reconnect it in Integrations → Connections"
        in (execution.error["message"])
    )
    assert Connection.objects.get().status == "expired"


def test_the_error_is_catchable_with_its_fields(celery_worker, cast, service):
    make_acme(cast.space, service)
    connect(cast.space, "BEARER", {"token": TOKEN})
    code = (
        "export default async () => {\n"
        "  try { await fastn.connectors.acme.fail({code: 404}) }\n"
        "  catch (err) { return {code: err.code, step: err.step, debug: err.datasourceDebug,\n"
        "                        retryable: err.retryable} }\n"
        "}\n"
    )
    execution = run(cast, code)
    assert execution.status == "completed", execution.error
    output = execution.output
    assert output["code"] == "DATASOURCE_CONNECTION_ERROR" and output["step"] == "fail"
    assert output["debug"]["statusCode"] == 404
    assert output["debug"]["jsonObject"]["error"] == "thing_not_found"
    assert output["retryable"] is False
    assert TOKEN not in everything(execution)


def test_an_uncaught_error_is_recorded_with_its_details(celery_worker, cast, service):
    make_acme(cast.space, service)
    connect(cast.space, "BEARER", {"token": TOKEN})
    code = "export default async () => new Fastn().connector.acme.fail({code: 409})"
    execution = run(cast, code)
    assert execution.status == "failed"
    details = execution.error["details"]
    assert details["code"] == "DATASOURCE_CONNECTION_ERROR" and details["step"] == "fail"
    assert details["datasourceDebug"]["statusCode"] == 409
    assert execution.steps[-1]["error"]["details"]["step"] == "fail"
    assert TOKEN not in everything(execution)


def test_public_api_answers_the_reference_error_format(celery_worker, client, cast, service):
    make_acme(cast.space, service, live=True) if False else None
    from tests.connectors.factories import make_connector

    make_connector(cast.space, acme_definition(service.base), live=True)
    connect(cast.space, "BEARER", {"token": TOKEN})
    workflow = make_workflow(
        cast.space,
        slug="fails",
        code="export default async () => fastn.connector.acme.fail({code: 404})",
    )
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=1, code=workflow.draft_code, config={}
    )
    Deployment.objects.update_or_create(
        workflow=workflow,
        environment=environment_by_slug(cast.space, "live"),
        defaults={"version": version},
    )
    _, key = apikey_create(cast.space, name="live", mode="live", actor=Actor.system())
    response = client.post(
        "/api/v1/fails",
        json.dumps({"input": {}}),
        content_type="application/json",
        headers={"x-fastn-api-key": key, "x-fastn-space-id": str(cast.space.id)},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "DATASOURCE_CONNECTION_ERROR" and body["statusCode"] == 400
    assert body["step"] == "fail"
    assert body["datasourceDebug"]["name"] == "fail"
    assert body["datasourceDebug"]["statusCode"] == 404
    assert body["datasourceDebug"]["jsonObject"]["error"] == "thing_not_found"
    assert TOKEN not in response.content.decode()


def test_live_runs_use_the_live_version(celery_worker, cast, service):
    connector = make_connector(cast.space, acme_definition(service.base), live=True)
    edited = acme_definition(service.base)
    edited["actions"][0]["path"] = "/echo/v2/{id}"
    add_version(connector, edited)
    connect(cast.space, "BEARER", {"token": TOKEN})
    code = "export default async () => (await fastn.connector.acme.getThing({id: 'q'})).body.path"
    draft = run(cast, code)
    assert draft.output == "/echo/v2/q"
    workflow = make_workflow(cast.space, slug="livewf", code=code)
    live = execution_run_sync(workflow, code=code, input={}, headers={}, environment="live")
    assert live.output == "/things/q", live.error


def test_429_is_retried_within_the_run(celery_worker, cast, service):
    make_acme(cast.space, service)
    service.limited_times, service.limited_after = 1, "1"
    execution = run(
        cast, "export default async () => (await fastn.connector.acme.limited()).status"
    )
    assert execution.output == 200, execution.error
    assert ConnectorCall.objects.get(action="limited").attempts == 2


def test_429_beyond_the_deadline_ends_retryable(celery_worker, cast, service):
    make_acme(cast.space, service)
    service.limited_times, service.limited_after = 10, "60"
    execution = run(cast, "export default async () => fastn.connector.acme.limited()", timeout=5)
    assert execution.status == "failed"
    assert execution.error["details"]["datasourceDebug"]["statusCode"] == 429
    assert execution.duration_ms < 4000


def test_customer_a_cannot_use_customer_bs_connection(celery_worker, cast, service):
    make_acme(cast.space, service, auth={"methods": [{"type": "BEARER"}]})
    a = Customer.objects.create(space=cast.space, name="A", external_id="cust-a")
    b = Customer.objects.create(space=cast.space, name="B", external_id="cust-b")
    connect(cast.space, "BEARER", {"token": "token-of-b-01"}, customer=b)
    execution = run(cast, GET_THING, customer=a)
    assert execution.status == "failed"
    assert "No Acme connection for customer 'cust-a' or the Space" in execution.error["message"]
    assert service.requests == []
    execution = run(cast, GET_THING, customer=b)
    assert execution.output["status"] == 200
    assert "token-of-b-01" not in everything(execution)


def test_another_spaces_connection_is_not_used(celery_worker, cast, service):
    make_acme(cast.space, service, auth={"methods": [{"type": "BEARER"}]})
    make_acme(cast.other_space, service, auth={"methods": [{"type": "BEARER"}]})
    connect(cast.other_space, "BEARER", {"token": "globex-token-1"})
    execution = run(cast, GET_THING)
    assert execution.status == "failed" and "No Acme connection" in execution.error["message"]
    assert service.requests == []


def test_validation_error_names_the_parameter(celery_worker, cast, service):
    make_acme(cast.space, service)
    execution = run(
        cast, "export default async () => fastn.connector.acme.getThing({id: 'a', limit: 'ten'})"
    )
    assert execution.status == "failed"
    assert "limit must be an integer, got string" in execution.error["message"]
