"""The editor's Docs tab: honest that Flow/Sequence/Docs are not built, and a cheat sheet of
everything a workflow can use, the atomic state operations and `fastn.retryable` included."""

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
    assert "Flow, Sequence and Docs are not available yet" in text
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
