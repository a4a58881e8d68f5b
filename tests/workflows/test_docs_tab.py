"""The editor's Docs tab: Flow, Sequence and Docs load into it (apps/insight, tested in
tests/insight), and a collapsible Runtime reference lists everything a workflow can use, the
atomic state operations and `fastn.retryable` included."""

from __future__ import annotations

import html
import re
from pathlib import Path

from django.urls import reverse

from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]


def docs_panel(body: str) -> str:
    panel = r'<div class="wf-tabpanel"[^>]*id="wf-tab-docs".*?\n      </div>\n'
    match = re.search(panel, body, re.S)
    assert match, "no Docs panel"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(0)))


def test_docs_tab_lists_the_whole_runtime_api(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.developer)
    body = client.get(
        reverse(
            "workflow_editor",
            kwargs={"space_slug": cast.space.slug, "workflow_id": workflow.id},
        )
    ).content.decode()
    text = docs_panel(body)
    assert "not available yet" not in text
    insight = reverse(
        "insight_tab", kwargs={"space_slug": cast.space.slug, "workflow_id": workflow.id}
    )
    assert f'hx-post="{insight}"' in body  # Flow, Sequence and Docs load when the tab opens
    assert re.search(r'<details class="wf-ref-details"[^>]*>\s*<summary>Runtime reference', body)
    for entry in (
        "ctx.input",
        "ctx.headers",
        "ctx.execution",
        "ctx.tenant",
        "fastn.connector.http.request({method, url, headers, query, body, timeout})",
        "fastn.state.get / set / delete(key, {scope, ttl})",
        "fastn.state.incr(key, by = 1, {scope, ttl})",
        "fastn.state.setIfAbsent(key, value, {scope, ttl})",
        "fastn.state.compareAndSet(key, expected, value, {scope, ttl})",
        "STATE_NOT_A_NUMBER",
        "fastn.db.query(sql, params)",
        "fastn.secrets.get(NAME)",
        "fastn.envConfig.get(key)",
        "throw fastn.retryable(err)",
        "if (status === 429 || status >= 500) {",
    ):
        assert entry in text, entry


def test_a_new_workflow_explains_when_its_docs_appear(client, cast):
    login(client, cast.developer)
    body = client.get(
        reverse("workflow_create", kwargs={"space_slug": cast.space.slug})
    ).content.decode()
    text = docs_panel(body)
    assert "create it, then its flowchart, timeline and generated reference appear here" in text
    assert "fastn.db.query(sql, params)" in text  # the runtime reference is there already


def test_monaco_typings_declare_the_new_methods():
    typings = (ROOT / "static/js/workflow_types.js").read_text()
    for declaration in (
        "incr(key: string, by?: number, opts?: FastnStateOptions): Promise<number>;",
        "setIfAbsent(key: string, value: any, opts?: FastnStateOptions): Promise<boolean>;",
        "compareAndSet(key: string, expected: any, value: any, opts?: FastnStateOptions): "
        "Promise<boolean>;",
        "retryable(err: Error | string): FastnRetryableError;",
        "interface FastnRetryableError extends Error {",
    ):
        assert declaration in typings, declaration
