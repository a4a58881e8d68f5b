"""The Docs tab's Flow and Sequence views: the editor's code, syntax errors, triggers, caching,
which runs feed the statistics, and Space isolation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.executions.models import Execution
from apps.insight import render, services
from apps.triggers.models import Route, Trigger
from tests.conftest import login
from tests.insight.helpers import ORDER_CODE, make_workflow, post_tab, publish_and_deploy, tab_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    services.LOCAL.clear()
    yield
    services.LOCAL.clear()


def svg_of(body: str) -> str:
    match = re.search(r"<svg\b.*?</svg>", body, re.S)
    assert match, body[:2000]
    return match.group(0)


def test_flow_draws_the_saved_draft_by_default(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.viewer)
    response = client.get(tab_url(workflow), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    svg = svg_of(body)
    assert "state.get seen" in svg and "if n &gt; 5" in svg
    assert "API or manual run (no trigger attached)" in svg
    assert "no deployed version" in svg  # nothing published: no statistics yet
    assert "Saved draft" in body
    assert 'id="insight-nodes"' in body  # lines of each node, for the click → selection


def test_flow_draws_the_code_sent_from_the_editor(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.developer)
    code = "export default async (ctx) => {\n  await fastn.db.query('SELECT * FROM invoices');\n}\n"
    body = post_tab(client, workflow, code).content.decode()
    svg = svg_of(body)
    assert "SELECT invoices" in svg and "state.get" not in svg
    assert "Code in the editor" in body


def test_unparsable_code_shows_its_syntax_error_with_the_line(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.developer)
    code = "export default async (ctx) => {\n  const x = ;\n  return x;\n}\n"
    for view in ("flow", "sequence"):
        response = post_tab(client, workflow, code, view=view)
        assert response.status_code == 200
        body = response.content.decode()
        assert "The code does not parse" in body
        assert "at line 2, column" in body
        assert 'data-insight-lines="2-2"' in body
        assert "<svg" not in body


def test_sequence_lists_the_main_path_in_order_with_branches_collapsed(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.developer)
    body = post_tab(client, workflow, view="sequence").content.decode()
    assert 'data-view="sequence"' in body
    labels = re.findall(r'class="insight-seq-label[^"]*"[^>]*>([^<]+)<', body)
    assert labels[0].startswith("API or manual run")
    assert labels.index("state.get seen") < labels.index("if n &gt; 5") < labels.index("try")
    assert labels[-1] == "Done"
    assert "Collapsed:" in body


def test_attached_triggers_label_the_trigger_node(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    hook = Trigger.objects.create(space=cast.space, kind="webhook", name="Shop orders")
    Route.objects.create(trigger=hook, workflow=workflow, environment="live")
    nightly = Trigger.objects.create(
        space=cast.space, kind="scheduler", name="Nightly",
        schedule={"preset": "daily", "time": "02:00", "timezone": "UTC"},
    )  # fmt: skip
    Route.objects.create(trigger=nightly, workflow=workflow, environment="live")
    login(client, cast.developer)
    svg = svg_of(post_tab(client, workflow).content.decode())
    assert "Schedule: Nightly" in svg and "Webhook: Shop orders" in svg


def test_a_cached_flow_is_not_drawn_again(client, cast, monkeypatch):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.developer)
    first = svg_of(post_tab(client, workflow, ORDER_CODE).content.decode())

    def no_dot(source):
        raise AssertionError("dot ran again for the same code")

    monkeypatch.setattr(render, "run_dot", no_dot)
    services.LOCAL.clear()  # the shared cache (Redis) still has it
    assert svg_of(post_tab(client, workflow, ORDER_CODE).content.decode()) == first
    changed = ORDER_CODE.replace("big", "large")
    with pytest.raises(AssertionError, match="dot ran again"):
        post_tab(client, workflow, changed)


def test_graphviz_failing_is_said_plainly(client, cast, monkeypatch):
    workflow = make_workflow(cast.space, cast.owner)

    def broken(source):
        raise render.RenderError("Graphviz could not draw the flow: boom")

    monkeypatch.setattr(render, "run_dot", broken)
    login(client, cast.developer)
    body = post_tab(client, workflow, "export default () => 1;\n// unique\n").content.decode()
    assert "Graphviz could not draw the flow: boom" in body


def test_statistics_come_from_finished_runs_of_the_deployed_version(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    v1 = publish_and_deploy(workflow, cast.owner)
    now = timezone.now()

    def record(status, *, version=v1, environment="live", minutes=1, steps=()):
        return Execution.objects.create(
            space=cast.space, workflow=workflow, workflow_name=workflow.name,
            version=version, version_number=version.number if version else None,
            environment=environment, tier="instant", timeout_seconds=60,
            triggered_by="api", status=status, duration_ms=12.0,
            queued_at=now - timedelta(minutes=minutes), steps=list(steps),
        )  # fmt: skip

    get_seen = {"kind": "state", "name": "state.get", "line": 4, "durationMs": 2.0,
                "startedAt": "2026-01-01T00:00:00.000Z", "error": None}  # fmt: skip
    record("completed", steps=[get_seen])
    record("failed", minutes=2, steps=[get_seen])
    record("running", minutes=0, steps=[get_seen])  # not finished: left out
    record("completed", environment="test", steps=[get_seen])  # another environment
    record("completed", version=None, environment="DRAFT", steps=[get_seen])  # a draft run
    login(client, cast.developer)
    svg = svg_of(post_tab(client, workflow).content.decode())
    assert "2 runs · 50.0% failed · p95 12 ms" in svg  # the trigger
    assert "2 runs · 0% failed · p95 2.0 ms" in svg  # state.get on line 4
    body = post_tab(client, workflow, runs=50).content.decode()
    assert "2 finished runs of live v1 (all there are)" in body
    assert "last 50" in body


def test_other_spaces_runs_never_count(client, cast):
    mine = make_workflow(cast.space, cast.owner)
    publish_and_deploy(mine, cast.owner)
    theirs = make_workflow(cast.other_space, cast.outsider)
    v1 = publish_and_deploy(theirs, cast.outsider)
    Execution.objects.create(
        space=cast.other_space, workflow=theirs, workflow_name="x", version=v1,
        version_number=1, environment="live", tier="instant", timeout_seconds=60,
        triggered_by="api", status="completed", duration_ms=1.0,
    )  # fmt: skip
    login(client, cast.developer)
    body = post_tab(client, mine).content.decode()
    assert "No finished runs of live v1 yet" in body


def test_environment_and_run_count_options_are_validated_not_trusted(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    publish_and_deploy(workflow, cast.owner, environment="test")
    login(client, cast.developer)
    response = post_tab(client, workflow, environment="nope'<x>", runs="999999")
    assert response.status_code == 200
    body = response.content.decode()
    assert "No finished runs of test v1 yet" in body  # the one environment serving a version


def test_another_spaces_workflow_is_not_found(client, cast):
    theirs = make_workflow(cast.other_space, cast.outsider)
    login(client, cast.developer)
    assert client.get(tab_url(theirs), HTTP_HX_REQUEST="true").status_code == 404
    assert post_tab(client, theirs, "export default () => 1").status_code == 404
    for name in ("insight_docs_generate",):
        assert client.post(tab_url(theirs, name)).status_code == 404
    assert client.get(tab_url(theirs, "insight_docs_markdown")).status_code == 404


def test_code_over_the_limit_is_refused_with_a_message(client, cast, settings):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.developer)
    response = post_tab(client, workflow, "//" + "x" * 1_100_000)
    assert response.status_code == 400
    assert "the limit is" in response.content.decode()
