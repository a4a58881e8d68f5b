"""The editor's Docs tab in a browser (issue 14): Flow with zoom, pan and node → code selection,
run statistics of the deployed version with their options, Sequence, the generated Docs (out of
date after typing, Markdown download) and the syntax error of code that does not parse."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.executions.models import Execution
from tests.e2e.helpers import browser_login
from tests.e2e.test_workflows_e2e import editor_value, focus_code, open_editor
from tests.insight.helpers import make_workflow, publish_and_deploy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_docs_tab(page, live_server, workflow, email="developer@example.com"):
    browser_login(page, live_server, email)
    open_editor(page, live_server, workflow)
    page.click("#tab-docs")
    expect(page.locator("[data-testid=insight-canvas] svg")).to_be_visible(timeout=20000)


def selection(page) -> dict:
    return page.evaluate(
        "(() => { const s = window.wfEditor.getSelection();"
        " return {start: s.startLineNumber, end: s.endLineNumber, column: s.startColumn,"
        " text: window.wfEditor.getModel().getValueInRange(s)}; })()"
    )


def view_box(page) -> list[float]:
    box = page.get_attribute("[data-testid=insight-canvas] svg", "viewBox")
    return [float(v) for v in box.split()]


def type_at_the_end(page, text: str) -> None:
    focus_code(page)
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(text, delay=5)


def test_clicking_a_flow_node_selects_its_lines_in_the_editor(live_server, page, cast):
    workflow = make_workflow(cast.space, cast.owner)
    open_docs_tab(page, live_server, workflow)
    try_block = page.locator("g#wfn_n8")  # try { … } catch (err) { … }: lines 13-17
    expect(try_block).to_contain_text("TRY · lines 13–17")
    try_block.click()
    expect(try_block).to_have_class(re.compile(r"\bis-selected\b"))
    picked = selection(page)
    assert (picked["start"], picked["end"]) == (13, 17)
    assert picked["text"].startswith("try {") and picked["text"].endswith("}")

    decision = page.locator("g#wfn_n3")  # if (n > 5) {: line 5
    expect(decision).to_contain_text("if n > 5")
    decision.click()
    assert selection(page)["text"] == "if (n > 5) {"

    read = page.locator("g#wfn_n2")
    read.click()
    picked = selection(page)
    assert (picked["start"], picked["end"]) == (4, 4)
    assert picked["text"] == 'const seen = await fastn.state.get("seen");'
    expect(decision).not_to_have_class(re.compile(r"\bis-selected\b"))
    expect(try_block).not_to_have_class(re.compile(r"\bis-selected\b"))


def test_the_flow_zooms_and_pans_and_fits_again(live_server, page, cast):
    workflow = make_workflow(cast.space, cast.owner)
    open_docs_tab(page, live_server, workflow)
    start = view_box(page)
    page.click("[data-insight-zoom=fit]")
    whole = view_box(page)
    assert whole[3] >= start[3]  # the whole drawing: at least as tall as the readable start

    page.click("[data-insight-zoom=in]")
    zoomed = view_box(page)
    assert zoomed[2] < whole[2] and zoomed[3] < whole[3]

    canvas = page.locator("[data-testid=insight-canvas]").bounding_box()
    x, y = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        "(w) => parseFloat(document.querySelector('[data-testid=insight-canvas] svg')"
        ".getAttribute('viewBox').split(' ')[2]) < w",
        arg=zoomed[2],
    )
    before = view_box(page)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y - 80, steps=6)
    page.mouse.up()
    after = view_box(page)
    assert after[0] > before[0] and after[1] > before[1]  # dragged left and up: the view moved
    assert after[2] == before[2]  # panning keeps the zoom
    # The click that ends a drag selects nothing.
    assert page.locator("g.node.is-selected").count() == 0

    page.click("[data-insight-zoom=fit]")
    assert view_box(page) == whole


def test_each_node_shows_the_deployed_versions_runs_with_a_choice_of_how_many(
    live_server, page, cast
):
    workflow = make_workflow(cast.space, cast.owner)
    version = publish_and_deploy(workflow, cast.owner)
    now = timezone.now()
    get_seen = {"kind": "state", "name": "state.get", "line": 4, "durationMs": 3.0,
                "startedAt": "2026-01-01T00:00:00.000Z", "error": None}  # fmt: skip
    for i in range(60):
        Execution.objects.create(
            space=cast.space, workflow=workflow, workflow_name=workflow.name, version=version,
            version_number=1, environment="live", tier="instant", timeout_seconds=60,
            triggered_by="api", status="failed" if i % 10 == 0 else "completed",
            duration_ms=20.0 + i, queued_at=now - timedelta(seconds=i), steps=[get_seen],
        )  # fmt: skip
    open_docs_tab(page, live_server, workflow)
    count = page.locator("[data-testid=insight-run-count]")
    expect(count).to_have_text("60 finished runs of live v1 (all there are)")
    trigger = page.locator("g#wfn_trigger")
    expect(trigger).to_contain_text("60 runs · 10.0% failed · p95 ")
    expect(page.locator("g#wfn_n2")).to_contain_text("60 runs · 0% failed · p95 3.0 ms")

    page.select_option("[data-testid=insight-runs]", "50")
    expect(count).to_have_text("50 finished runs of live v1")
    expect(trigger).to_contain_text("50 runs · 10.0% failed")
    # The choice survives a reload of the tab (showing it again).
    page.click("#tab-test")
    page.click("#tab-docs")
    expect(page.locator("[data-testid=insight-runs]")).to_have_value("50")
    expect(trigger).to_contain_text("50 runs")


def test_sequence_lists_the_main_path_and_selects_a_step(live_server, page, cast):
    workflow = make_workflow(cast.space, cast.owner)
    open_docs_tab(page, live_server, workflow)
    page.click("[data-testid=insight-nav-sequence]")
    rows = page.locator("[data-testid=insight-sequence] > li")
    expect(rows.first).to_contain_text("API or manual run (no trigger attached)")
    expect(rows.last).to_contain_text("DONE")
    expect(page.locator("[data-testid=insight-sequence]")).to_contain_text(
        "Collapsed: yes → state.set label, no → envConfig.get MODE"
    )
    page.locator("[data-testid=insight-sequence]").get_by_role(
        "button", name="state.incr label"
    ).click()
    picked = selection(page)
    assert (picked["start"], picked["end"]) == (14, 14)
    assert picked["text"].startswith("await fastn.state.incr(")


def test_docs_are_generated_downloaded_and_marked_out_of_date_after_typing(
    live_server, page, cast, tmp_path
):
    workflow = make_workflow(cast.space, cast.owner)
    open_docs_tab(page, live_server, workflow)
    page.click("[data-testid=insight-nav-docs]")
    docs = page.locator("[data-testid=insight-docs]")
    expect(docs).to_contain_text("Preview of the code in the editor: not saved yet.")
    expect(docs).to_contain_text("Files big orders and counts small ones.")
    expect(page.locator("[data-testid=insight-docs-inputs]")).to_contain_text("n")
    page.click("[data-testid=insight-generate]")
    expect(page.locator("[data-testid=insight-docs-meta]")).to_contain_text(
        "from draft by developer@example.com"
    )
    with page.expect_download() as info:
        page.click("[data-testid=insight-download]")
    download = info.value
    assert download.suggested_filename == "orders.md"
    saved = tmp_path / "orders.md"
    download.save_as(saved)
    text = Path(saved).read_text()
    assert text.startswith("# Orders") and "## Inputs (`ctx.input`)" in text

    type_at_the_end(page, "// changed")
    stale = page.locator("[data-testid=insight-docs-stale]")
    expect(stale).to_contain_text("Out of date", timeout=10000)
    page.click("[data-testid=insight-generate]")
    expect(stale).to_have_count(0)
    expect(page.locator("[data-testid=insight-docs-meta]")).to_contain_text("unsaved edits")


def test_code_that_does_not_parse_shows_its_error_and_line(live_server, page, cast):
    workflow = make_workflow(cast.space, cast.owner)
    open_docs_tab(page, live_server, workflow)
    type_at_the_end(page, "const = 1;")
    error = page.locator("[data-testid=insight-syntax-error]")
    expect(error).to_contain_text("The code does not parse", timeout=10000)
    expect(error).to_contain_text("at line 21")
    page.click("[data-testid=insight-goto-error]")
    assert page.evaluate("window.wfEditor.getPosition().lineNumber") == 21
    # Fixing it brings the flow back.
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("export default async () => { await fastn.state.get('k'); }", delay=5)
    expect(page.locator("g.node").filter(has_text="state.get")).to_have_count(1, timeout=10000)
    assert "fastn.state.get" in editor_value(page)


STEP_ALIAS_CODE = """\
export default async function run(event, s) {
  const order = await s.do("load order", async () => event.input);
  const { step: durable } = event;
  await durable.sleep("cool down", "1 minute");
  return order;
}
"""


def test_the_flow_draws_durable_steps_under_any_name(live_server, page, cast):
    # `run(event, s)`: the step object is the second parameter; `{ step: durable }` is taken
    # out of the first. Both draw as steps (not plain code) and select their lines.
    workflow = make_workflow(cast.space, cast.owner, code=STEP_ALIAS_CODE)
    open_docs_tab(page, live_server, workflow)
    load = page.locator("g.node").filter(has_text="step load order")
    expect(load).to_have_count(1)
    expect(page.locator("g.node").filter(has_text="sleep cool down (1 minute)")).to_have_count(1)
    load.click()
    picked = selection(page)
    assert (picked["start"], picked["end"]) == (2, 2)
    assert picked["text"].startswith("const order = await s.do(")
