"""GET /api/v1/tenants/{space}/workflows/{slug}/versions/{version}/graph: the step graph of a
version's code (apps/insight/stepgraph.py; its corpus is in tests/insight/stepgraph_corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from tests.api.conftest import publish
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db

CODE = """export default async function run(ctx, step) {
  const order = await step.do("load", { retries: { limit: 2, delay: "1 second" } }, async () => 1);
  await step.sleep("nap", "1 hour");
  const ev = await ctx.step.waitForEvent("approval", { type: "approved", timeout: "1 day" });
  return { order, ev };
}
"""


def get(client, space, path, key):
    return client.get(
        f"/api/v1/tenants/{space.id}/workflows/{path}",
        headers={"x-fastn-api-key": key, "x-fastn-space-id": str(space.id)},
    )


def test_the_graph_of_a_published_version(client, cast, live_key):
    workflow = make_workflow(cast.space, slug="approve", code=CODE, tier="standard")
    version = publish(workflow)
    response = get(client, cast.space, "approve/versions/1/graph", live_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(version.id) and body["workflow_id"] == str(workflow.id)
    assert body["graph"]["version"] == 1
    graph = body["graph"]["workflow"]
    assert graph["name"] == "run" and graph["type"] == "function_def"
    assert [(n["type"], n["name"]) for n in graph["nodes"]] == [
        ("step_do", "load"), ("step_sleep", "nap"), ("step_wait_for_event", "approval"),
    ]  # fmt: skip
    assert graph["nodes"][0]["config"] == {"retries": {"limit": 2, "delay": "1 second"}}
    assert graph["nodes"][2]["options"] == {"event_type": "approved", "timeout": "1 day"}
    draft = get(client, cast.space, "approve/versions/draft/graph", live_key).json()
    assert draft["graph"]["workflow"] == graph


def test_bad_versions_unknown_workflows_and_other_spaces(client, cast, live_key):
    workflow = make_workflow(cast.space, slug="approve", code=CODE, tier="standard")
    publish(workflow)
    assert get(client, cast.space, "approve/versions/7/graph", live_key).status_code == 404
    bad = get(client, cast.space, "approve/versions/latest/graph", live_key)
    assert bad.status_code == 400 and bad.json()["code"] == "BAD_REQUEST"
    assert get(client, cast.space, "nope/versions/1/graph", live_key).status_code == 404
    # A key of another Space cannot read this Space's graphs, whatever ids it names.
    other_key = apikey_create(cast.other_space, name="x", mode="live", actor=Actor.system())[1]
    assert get(client, cast.space, "approve/versions/1/graph", other_key).status_code in (401, 403)
    assert get(client, cast.other_space, "approve/versions/1/graph", other_key).status_code == 404


def test_code_that_does_not_parse_is_a_json_error_with_the_line(client, cast, live_key):
    broken = "export default async (ctx) => {\n  if (\n}"
    workflow = make_workflow(cast.space, slug="broken", code=broken)
    publish(workflow)
    response = get(client, cast.space, "broken/versions/1/graph", live_key)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "SYNTAX_ERROR" and body["line"] >= 2 and "Traceback" not in str(body)


CORPUS = Path(__file__).resolve().parents[1] / "insight" / "stepgraph_corpus"


@pytest.mark.parametrize("name", sorted(p.stem for p in CORPUS.glob("*.js")))
def test_the_endpoint_answers_each_corpus_workflows_expected_graph(client, cast, live_key, name):
    code = (CORPUS / f"{name}.js").read_text()
    workflow = make_workflow(cast.space, slug=name.replace("_", "-"), code=code, tier="standard")
    publish(workflow)
    response = get(client, cast.space, f"{workflow.slug}/versions/1/graph", live_key)
    assert response.status_code == 200, response.content
    expected = json.loads((CORPUS / f"{name}.json").read_text())
    assert response.json()["graph"]["workflow"] == expected
