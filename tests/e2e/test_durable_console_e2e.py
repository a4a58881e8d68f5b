"""Durable runs in the console, in a real browser: the steps timeline of a waiting run, its
Pause / Resume / Restart buttons, "Send event" (a bad payload is a form error), the timeline
following the run without a reload, Monaco's completions of `fastn.step` / `ctx.step`, and a
real run that waits for an event sent from its page and then completes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.executions.models import Execution, ExecutionStep, InstanceEvent
from apps.executions.services import execution_create, execution_dispatch
from apps.spaces.audit import Actor
from apps.workflows import services
from tests.e2e.helpers import browser_login
from tests.executions.factories import make_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

APPROVAL = """export default async function (ctx) {
  const order = await ctx.step.do("load order", async () => ({ id: ctx.input.id }));
  const ev = await ctx.step.waitForEvent("approval", { type: "approved", timeout: "1 hour" });
  return { order, approvedBy: ev.payload.by };
}
"""


def waiting_run(space) -> Execution:
    """A durable run as the runtime leaves it between attempts: one step done, one waiting."""
    workflow = make_workflow(space, slug="approve", tier="standard", code=APPROVAL)
    execution = execution_create(
        workflow, version=None, code=None, input={"id": 7}, headers={}, triggered_by="api",
        actor=None,
    )  # fmt: skip
    now = timezone.now()
    ExecutionStep.objects.create(
        execution=execution, name="load order", kind="do", status="complete", position=0,
        line=2, output={"id": 7}, started_at=now - timedelta(seconds=3),
        finished_at=now - timedelta(seconds=2),
        attempts=[{"start": (now - timedelta(seconds=3)).isoformat(),
                   "end": (now - timedelta(seconds=2)).isoformat(), "success": True,
                   "error": None}],
    )  # fmt: skip
    ExecutionStep.objects.create(
        execution=execution, name="approval", kind="waitForEvent", status="waiting", position=1,
        line=3, event_type="approved", config={"type": "approved", "timeout": 3_600_000},
        started_at=now - timedelta(seconds=2), wake_at=now + timedelta(hours=1),
    )  # fmt: skip
    Execution.objects.filter(pk=execution.pk).update(
        status="waiting", attempts=1, started_at=now - timedelta(seconds=3),
        due_at=now + timedelta(hours=1),
    )  # fmt: skip
    return execution


def detail_url(live_server, execution) -> str:
    return f"{live_server.url}/s/{execution.space.slug}/activity/executions/{execution.id}/"


def test_an_operator_pauses_resumes_and_sends_events_to_a_waiting_run(live_server, page, cast):
    execution = waiting_run(cast.space)
    browser_login(page, live_server, "operator@example.com")
    page.goto(detail_url(live_server, execution))
    status = page.locator("[data-testid=exec-status]")
    timeline = page.locator("[data-testid=exec-timeline]")

    expect(status).to_have_text("Waiting")
    approval = timeline.locator("[data-step=approval]")
    expect(approval).to_contain_text("Waiting for event approved since")
    expect(approval).to_contain_text("times out at")
    expect(timeline.locator("[data-step='load order']")).to_contain_text("Done in 1s · 1 attempt")
    expect(page.locator("[data-testid=exec-cancel]")).to_have_count(0)  # Terminate instead

    page.click("[data-testid=exec-pause]")
    expect(status).to_have_text("Paused")
    expect(page.locator(".flash-success")).to_contain_text("Paused.")
    expect(page.locator("[data-testid=exec-pause]")).to_have_count(0)

    page.click("[data-testid=exec-resume]")
    expect(status).not_to_have_text("Paused")
    expect(page.locator(".flash-success")).to_contain_text("Resumed")
    assert Execution.objects.get(pk=execution.pk).status != "paused"

    # A payload that is not JSON: an error under the field, what was typed kept, nothing sent.
    form = page.locator("[data-testid=send-event]")
    form.locator("input[name=type]").fill("approved")
    form.locator("textarea[name=payload]").fill("{by: 'ada'}")
    form.locator("[data-testid=send-event-submit]").click()
    expect(page.locator("[data-testid=event-error]")).to_contain_text("not valid JSON")
    expect(form.locator("textarea[name=payload]")).to_have_value("{by: 'ada'}")
    assert not InstanceEvent.objects.exists()

    form = page.locator("[data-testid=send-event]")
    form.locator("textarea[name=payload]").fill('{"by": "ada"}')
    form.locator("[data-testid=send-event-submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Event 'approved' sent.")
    expect(page.locator("[data-testid=exec-events]")).to_contain_text("approved")
    assert InstanceEvent.objects.get(execution=execution).payload == {"by": "ada"}

    # Restart asks first, then starts over without the stored steps.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("[data-testid=exec-restart]")
    expect(page.locator(".flash-success")).to_contain_text("Restarted from the beginning")
    assert "stored step results are discarded" in dialogs[0]
    assert not ExecutionStep.objects.filter(execution=execution).exists()


def test_a_viewer_sees_the_timeline_but_no_controls(live_server, page, cast):
    execution = waiting_run(cast.space)
    browser_login(page, live_server, "viewer@example.com")
    page.goto(detail_url(live_server, execution))
    expect(page.locator("[data-testid=exec-timeline]")).to_contain_text("Waiting for event")
    for control in ("pause", "resume", "terminate", "restart", "cancel"):
        expect(page.locator(f"[data-testid=exec-{control}]")).to_have_count(0)
    expect(page.locator("[data-testid=send-event]")).to_have_count(0)


def test_the_timeline_follows_the_run_without_a_reload(live_server, page, cast):
    execution = waiting_run(cast.space)
    browser_login(page, live_server, "viewer@example.com")
    page.goto(detail_url(live_server, execution))
    page.evaluate("window.sameDocument = true")
    timeline = page.locator("[data-testid=exec-timeline]")
    status = page.locator("[data-testid=exec-status]")

    # A step the reader expanded stays expanded when the timeline is redrawn.
    timeline.locator("[data-step='load order'] summary").click()
    expect(timeline.locator("[data-step='load order'] details[open]")).to_have_count(1)

    # The event is taken: the step completes while the run is still waiting.
    now = timezone.now()
    ExecutionStep.objects.filter(execution=execution, name="approval").update(
        status="complete", finished_at=now, output={"type": "approved", "payload": {"by": "ada"}}
    )
    approval = timeline.locator("[data-step=approval]")
    expect(approval).to_contain_text("Received approved after", timeout=10_000)
    expect(timeline.locator("[data-step='load order'] details[open]")).to_have_count(1)
    expect(status).to_have_text("Waiting")

    Execution.objects.filter(pk=execution.pk).update(
        status="completed", finished_at=now, duration_ms=12, output={"approvedBy": "ada"},
        replays=1,
    )  # fmt: skip
    expect(status).to_have_text("Completed", timeout=10_000)
    expect(page.locator("[data-testid=exec-replays]")).to_have_text("1")
    expect(page.locator("[data-testid=exec-output]")).to_contain_text('"approvedBy": "ada"')
    assert page.evaluate("window.sameDocument === true")


# The declarations Monaco was given, checked by its own TypeScript worker.
RUNTIME_DIAGNOSTICS = """async () => {
  const ts = monaco.typescript && monaco.typescript.javascriptDefaults
    ? monaco.typescript : monaco.languages.typescript;
  const model = window.wfEditor.getModel();
  const worker = await (await ts.getJavaScriptWorker())(model.uri);
  const file = "file:///fastn-runtime.d.ts";
  const found = (await worker.getSyntacticDiagnostics(file))
    .concat(await worker.getSemanticDiagnostics(file));
  return found.map((d) => (typeof d.messageText === "string" ? d.messageText
    : d.messageText.messageText) + " @" + d.start);
}"""

# What the TypeScript worker infers for a value of the workflow's code.
QUICK_INFO = """async (needle) => {
  const ts = monaco.typescript && monaco.typescript.javascriptDefaults
    ? monaco.typescript : monaco.languages.typescript;
  const model = window.wfEditor.getModel();
  const worker = await (await ts.getJavaScriptWorker())(model.uri);
  const offset = model.getValue().indexOf(needle);
  const info = await worker.getQuickInfoAtPosition(model.uri.toString(), offset);
  return info ? info.displayParts.map((p) => p.text).join("") : "";
}"""


def test_monaco_completes_fastn_step_and_ctx_step(live_server, page, cast):
    workflow = services.workflow_create(
        cast.space, name="Durable", actor=Actor.for_user(cast.owner)
    )
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    suggest = page.locator(".suggest-widget")
    details = page.locator(".suggest-details")

    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    page.keyboard.press("Enter")

    page.keyboard.type("fastn.")
    expect(suggest).to_be_visible()
    page.keyboard.type("ste")
    expect(suggest.locator(".monaco-list-row.focused")).to_contain_text("step")
    page.keyboard.press("Enter")
    page.keyboard.type(".")
    for method in ("do", "sleep", "sleepUntil", "waitForEvent"):
        expect(suggest).to_contain_text(method)
    page.keyboard.type("waitF")
    expect(suggest.locator(".monaco-list-row.focused")).to_contain_text("waitForEvent")
    # Its documentation, once the TypeScript worker has resolved the focused entry.
    expect(suggest.locator(".monaco-list-row.focused .can-expand-details")).to_be_attached()
    page.keyboard.press("Control+Space")
    expect(details).to_contain_text("EVENT_TIMEOUT")
    expect(details).to_contain_text("{ type, payload, timestamp }")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")

    # ctx.step has no declared type in plain JavaScript: the schema completes it.
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("ctx.st")
    expect(suggest.locator(".monaco-list-row.focused")).to_contain_text("step")
    page.keyboard.press("Enter")
    page.keyboard.type(".")
    for method in ("do", "sleep", "sleepUntil", "waitForEvent"):
        expect(suggest).to_contain_text(method)
    page.keyboard.press("Escape")

    assert page.evaluate(RUNTIME_DIAGNOSTICS) == []
    # A step's result is typed from its callback; an event carries its payload.
    page.evaluate(
        """window.wfEditor.setValue('const loaded = await fastn.step.do("load", async () => '
        + '({ id: 1 }));\\nconst ev = await fastn.step.waitForEvent("a", { type: "ok" });\\n')"""
    )
    assert re.search(r"loaded: \{\s*id: number;?\s*\}", page.evaluate(QUICK_INFO, "loaded"))
    assert "FastnStepEvent<any>" in page.evaluate(QUICK_INFO, "ev ")


def test_a_real_run_waits_for_the_event_sent_from_its_page_and_completes(
    live_server, page, cast, celery_worker
):
    workflow = make_workflow(cast.space, slug="approve", tier="standard", code=APPROVAL)
    execution = execution_create(
        workflow, version=None, code=None, input={"id": 7}, headers={}, triggered_by="api",
        actor=None,
    )  # fmt: skip
    execution_dispatch(execution)
    browser_login(page, live_server, "operator@example.com")
    page.goto(detail_url(live_server, execution))
    status = page.locator("[data-testid=exec-status]")
    timeline = page.locator("[data-testid=exec-timeline]")

    # The first attempt stores "load order" and suspends in the wait: the page follows.
    expect(status).to_have_text("Waiting", timeout=20_000)
    expect(timeline.locator("[data-step=approval]")).to_contain_text(
        "Waiting for event approved", timeout=10_000
    )
    expect(timeline.locator("[data-step='load order']")).to_contain_text('{"id": 7}')

    form = page.locator("[data-testid=send-event]")
    form.locator("input[name=type]").fill("approved")
    form.locator("textarea[name=payload]").fill('{"by": "ada@example.com"}')
    form.locator("[data-testid=send-event-submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Event 'approved' sent.")
    page.evaluate("window.sameDocument = true")

    # Woken by the event, the next attempt replays "load order" and takes the event.
    expect(status).to_have_text("Completed", timeout=20_000)
    expect(page.locator("[data-testid=exec-output]")).to_contain_text(
        '"approvedBy": "ada@example.com"'
    )
    expect(timeline.locator("[data-step=approval]")).to_contain_text("Received approved")
    expect(page.locator("[data-testid=exec-events]")).to_contain_text("approval")
    expect(page.locator("[data-testid=exec-replays]")).to_have_text("1")
    expect(page.locator("[data-testid=send-event]")).to_have_count(0)
    assert page.evaluate("window.sameDocument === true")
    execution.refresh_from_db()
    assert execution.output == {"order": {"id": 7}, "approvedBy": "ada@example.com"}
    load = ExecutionStep.objects.get(execution=execution, name="load order")
    assert len(load.attempts) == 1  # replayed from the stored result, not run again
