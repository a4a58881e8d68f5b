"""The runtime conformance suite again, this time through the real database-backed host:
encrypted secrets, per-environment configs, durable state in PostgreSQL, the tenant database
(PostgreSQL and the embedded SQLite path) and the HTTP connector on loopback."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace

import pytest

from apps.configs.services import config_create
from apps.datastore.state import StateScope, state_get, state_set
from apps.executions.host import DatabaseHost
from apps.runtime import Limits, run_workflow
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create
from tests.connectors.loopback_server import LoopbackServer
from tests.runtime.cases import CASES, DEFAULT_CTX, assert_case, run_case

pytestmark = pytest.mark.django_db(transaction=True)

# Cases whose host answers are canned (SQL text → rows, fake connectors) or that inspect the
# in-memory host's call log only make sense against the in-memory host.
PORTABLE = [
    c for c in CASES if not c.host.db and not c.host.connectors and c.check is None and not c.slow
]


def database_host(space, *, customer=None, invocation=None, workflow_key="conformance"):
    return DatabaseHost(
        space,
        customer=customer,
        workflow_key=workflow_key,
        invocation_id=invocation or str(uuid.uuid4()),
        environment="live",
    )


def seed(space, setup) -> None:
    actor = Actor.system()
    for name, (kind, value) in setup.secrets.items():
        secret_create(space, name=name, type=kind, value=value, actor=actor)
    for key, value in setup.config.items():
        config_create(space, key=key, values={"live": value}, actor=actor)


def test_at_least_forty_portable_cases():
    assert len(PORTABLE) >= 40


@pytest.mark.parametrize("case", PORTABLE, ids=[c.id for c in PORTABLE])
def test_conformance_case_through_the_database_host(cast, case):
    seed(cast.space, case.host)
    with database_host(cast.space) as host:
        for (scope, key), value in case.host.state.items():
            state_set(host.state_scope, key, value, scope=scope)
        result = run_case(case, host)
    assert_case(replace(case, check=None), result, host)


def test_invocation_state_is_cleared_when_the_run_ends(cast):
    code = """export default async () => {
      await fastn.state.set("tmp", 1, {scope: "INVOCATION"});
      await fastn.state.set("kept", 2);
      return await fastn.state.get("tmp", {scope: "invocation"});
    }"""
    with database_host(cast.space, invocation="inv-1") as host:
        assert run_workflow(code, DEFAULT_CTX, host).output == 1
        scope = host.state_scope
    assert state_get(scope, "tmp", scope="INVOCATION") is None
    assert state_get(scope, "kept", scope="ORG") == 2


def test_customer_secret_wins_over_the_space_secret_and_is_redacted(cast):
    customer = customer_create(cast.space, name="A", external_id="a", actor=Actor.system())
    secret_create(
        cast.space, name="TOKEN", type="text", value="space-token-1", actor=Actor.system()
    )
    secret_create(
        cast.space, name="TOKEN", type="text", value="customer-token-9", customer=customer,
        actor=Actor.system(),
    )  # fmt: skip
    code = """export default async () => {
      const t = await fastn.secrets.get("TOKEN");
      console.log("token", t, btoa(t));
      return { t, encoded: encodeURIComponent(t) };
    }"""
    with database_host(cast.space, customer=customer) as host:
        result = run_workflow(code, DEFAULT_CTX, host)
    assert result.output == {"t": "[REDACTED]", "encoded": "[REDACTED]"}
    text = json.dumps([result.logs, result.steps, result.output])
    assert "customer-token-9" not in text
    assert base64.b64encode(b"customer-token-9").decode() not in text
    with database_host(cast.space) as host:
        assert run_workflow(code, DEFAULT_CTX, host).status == "completed"


def test_missing_secret_names_the_secret(cast):
    code = 'export default async () => fastn.secrets.get("NOPE")'
    with database_host(cast.space) as host:
        result = run_workflow(code, DEFAULT_CTX, host)
    assert result.status == "failed" and "NOPE" in result.error["message"]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_tenant_database_round_trip_and_isolation(cast, settings, tmp_path, backend):
    if backend == "sqlite":
        settings.FASTN_TENANTDB_BACKEND = "sqlite"
        settings.VAR_DIR = tmp_path
    code = """export default async (ctx) => {
      await fastn.db.query("CREATE TABLE IF NOT EXISTS items (id integer, name text)");
      await fastn.db.query("INSERT INTO items VALUES ($1, $2)", [ctx.input.id, ctx.input.name]);
      return await fastn.db.query("SELECT id, name FROM items ORDER BY id");
    }"""
    ctx = {**DEFAULT_CTX, "input": {"id": 1, "name": "one"}}
    with database_host(cast.space) as host:
        first = run_workflow(code, ctx, host)
    assert first.output == {"rows": [{"id": 1, "name": "one"}], "rowCount": 1}, first.error
    with database_host(cast.other_space) as host:
        other = run_workflow(code, {**ctx, "input": {"id": 2, "name": "two"}}, host)
    assert other.output["rows"] == [{"id": 2, "name": "two"}]
    hostile = 'export default async () => fastn.db.query("SELECT * FROM spaces_space")'
    with database_host(cast.space) as host:
        refused = run_workflow(hostile, DEFAULT_CTX, host)
    assert refused.status == "failed"
    assert "spaces_space" not in json.dumps(refused.output or {})


def test_http_connector_reaches_a_loopback_server(cast):
    server = LoopbackServer()
    code = f"""export default async () => {{
      const r = await fastn.connector.http.request({{
        method: "POST", url: "http://127.0.0.1:{server.port}/echo", body: {{ hello: "world" }}
      }});
      return {{ status: r.status, method: r.body.method, echoed: JSON.parse(r.body.body) }};
    }}"""
    try:
        with database_host(cast.space) as host:
            result = run_workflow(code, DEFAULT_CTX, host, Limits(timeout_s=10))
    finally:
        server.close()
    assert result.status == "completed", result.error
    assert result.output == {"status": 200, "method": "POST", "echoed": {"hello": "world"}}
    assert result.steps[0]["name"] == "connector.http.request"


def test_state_scope_cannot_be_chosen_by_the_workflow(cast):
    with database_host(cast.other_space) as host:
        run_workflow('export default () => fastn.state.set("k", "theirs")', DEFAULT_CTX, host)
    with database_host(cast.space) as host:
        result = run_workflow('export default () => fastn.state.get("k")', DEFAULT_CTX, host)
    assert result.output is None
    assert state_get(StateScope(cast.space.id, None, "conformance", ""), "k") is None
