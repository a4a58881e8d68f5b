"""Run statistics from real runs: a Celery worker runs the deployed version in real sandboxes,
the runtime records each step with its line, and the Flow counts them per node."""

from __future__ import annotations

import html
import re

import pytest

from apps.executions.models import TriggeredBy
from apps.executions.services import execution_run_sync
from apps.insight import services
from tests.conftest import login
from tests.insight.helpers import make_workflow, post_tab, publish_and_deploy

pytestmark = pytest.mark.django_db(transaction=True)


def node_texts(body: str) -> dict[str, str]:
    """Each node's last text line (its statistics) by node id: the texts of a node's group, up
    to the next node's or edge's group."""
    out = {}
    for match in re.finditer(r'<g id="wfn_(\w+)" class="node[^"]*">', body):
        following = re.compile(r'<g id="(?!a_)').search(body, match.end())
        chunk = body[match.end() : following.start() if following else len(body)]
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", chunk)
        out[match.group(1)] = html.unescape(texts[-1]) if texts else ""
    return out


def test_each_node_shows_how_the_deployed_versions_runs_went_through_it(
    celery_worker, client, cast
):
    workflow = make_workflow(cast.space, cast.owner)
    version = publish_and_deploy(workflow, cast.owner)
    for n in (1, 2, 7, 8, 9, 0):
        execution = execution_run_sync(
            workflow, version=version, environment="live", input={"n": n}, headers={},
            triggered_by=TriggeredBy.API,
        )  # fmt: skip
        assert execution.status == ("failed" if n == 0 else "completed"), execution.error
        lines = [step["line"] for step in execution.steps]
        assert lines[0] == 4 and all(isinstance(line, int) for line in lines)
    services.LOCAL.clear()
    login(client, cast.viewer)
    body = post_tab(client, workflow).content.decode()
    assert "6 finished runs of live v1" in body
    stats = node_texts(body)
    graph = services.flow_build(cast.space, workflow.draft_code, trigger_label="").graph
    by_line = {(node.kind, node.start_line): node.id for node in graph.nodes}
    assert stats["trigger"].startswith("6 runs · 16.7% failed · p95 ")
    assert stats[by_line[("READ", 4)]].startswith("6 runs · 0% failed · p95 ")  # state.get
    assert stats[by_line[("DECISION", 5)]].startswith("6 runs · 16.7% failed")  # n > 5
    assert stats[by_line[("WRITE", 6)]].startswith("3 runs · 0% failed")  # big: state.set
    assert stats[by_line[("READ", 8)]].startswith("3 runs · 0% failed")  # small: envConfig
    # state.incr fails (caught) where the big branch left a string under the key.
    assert stats[by_line[("WRITE", 14)]].startswith("5 runs · 60.0% failed")
    assert stats[by_line[("TRY", 13)]].startswith("5 runs · 0% failed")
    assert stats["done"] == "5 runs (83.3%)"
    assert stats["failed"] == "1 run (16.7%)"
    # The catch ran where the call whose errors lead to it failed.
    assert stats[by_line[("CATCH", 15)]] == "~3 runs (inferred)"
    # A run can fail anywhere: the throw that leads to Failed records nothing of its own.
    assert stats[by_line[("THROW", 11)]] == "no evidence in these runs"
