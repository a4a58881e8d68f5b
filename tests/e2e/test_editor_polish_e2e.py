"""The workflow editor, polished (issue 10): running a workflow that was never saved, tier and
timeout, Discard in place, confirming a deploy to a protected environment, release notes, the
environments of the Workflows table, and an API tab whose curl sample works when pasted.

Tests that execute code use the real runtime through a Celery worker (`celery_worker`)."""

from __future__ import annotations

import json
import re
import shlex
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from apps.environments.selectors import environment_by_slug
from apps.environments.services import environment_create
from apps.spaces.audit import Actor
from apps.workflows import services
from apps.workflows.models import DEFAULT_CODE, Workflow
from tests.e2e.helpers import browser_login
from tests.e2e.test_workflows_e2e import (
    editor_value,
    make,
    open_editor,
    publish,
    replace_code_by_typing,
    wait_for_monaco,
    workflow_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# --- Item 2: Run works on a new, never-saved workflow ---------------------------------------


def test_a_new_workflow_runs_from_the_test_tab_before_it_is_created(
    live_server, page, cast, celery_worker
):
    from apps.executions.models import Execution

    browser_login(page, live_server, "developer@example.com")
    page.goto(workflow_url(live_server, cast))
    page.click("[data-testid=create-workflow]")
    wait_for_monaco(page)
    tab = page.locator("#wf-tab-test")
    expect(tab.locator("[data-testid=test-banner]")).to_have_text(
        "Hit Run to execute without saving"
    )
    expect(tab).not_to_contain_text("Create the workflow first")

    page.fill("#wf-name", "Greeter draft")
    page.select_option("#wf-tier", "standard")
    page.fill("#wf-timeout", "30")
    code = (
        "export default async (ctx) => { console.log('tier', ctx.tier); "
        "return { hello: ctx.input.name, tier: ctx.tier }; };"
    )
    replace_code_by_typing(page, code)
    page.fill("[data-testid=ctx-input]", '{"name": "Ada"}')
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=run-result]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    expect(result.locator("[data-testid=run-output]")).to_contain_text('"hello": "Ada"')
    expect(result.locator("[data-testid=run-output]")).to_contain_text('"tier": "standard"')
    expect(result.locator("[data-testid=run-logs]")).to_contain_text("tier standard")

    # Nothing was created; the page is still the unsaved new workflow with its edits.
    expect(page).to_have_url(re.compile(r"/workflows/new/$"))
    expect(page.locator("[data-testid=dirty]")).to_be_visible()
    assert editor_value(page) == code
    assert not Workflow.objects.exists()
    execution = Execution.objects.get()
    assert execution.workflow_id is None and execution.workflow_name == "Greeter draft"
    assert (execution.tier, execution.timeout_seconds) == ("standard", 30)
    assert (execution.triggered_by, execution.environment) == ("manual", "DRAFT")
    assert (execution.version_number, execution.draft_code) == (None, code)
    assert execution.input == {"name": "Ada"}

    # A timeout outside the tier's range is refused next to the Run button, and nothing runs.
    page.select_option("#wf-tier", "instant")
    page.fill("#wf-timeout", "600")
    page.click("[data-testid=run]")
    expect(page.locator("[data-testid=run-invalid]")).to_contain_text(
        "Execution Timeout: Instant workflows time out between 1 s and 2 min"
    )
    assert Execution.objects.count() == 1

    # Ctrl+Enter in the editor runs too, with the instant tier now chosen.
    page.fill("#wf-timeout", "60")
    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+Enter")
    expect(result.locator("[data-testid=run-output]")).to_contain_text(
        '"tier": "instant"', timeout=30000
    )
    assert Execution.objects.count() == 2

    page.click("button:has-text('Create Workflow')")
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    workflow = Workflow.objects.get()
    assert workflow.draft_code == code and workflow.draft_code != DEFAULT_CODE


# --- Item 9: the API tab's curl sample works when pasted ------------------------------------


def curl_request(text: str, api_key: str) -> dict:
    """What the shell would send for the page's curl sample after `export FASTN_API_KEY=…`:
    the continuation lines joined, the variable expanded, the arguments split."""
    args = shlex.split(text.replace("\\\n", " ").replace("$FASTN_API_KEY", api_key))
    assert args[:3] == ["curl", "-X", "POST"], args
    request = {"url": args[3], "headers": {}, "content": b""}
    rest = iter(args[4:])
    for flag in rest:
        value = next(rest)
        if flag == "-H":
            name, _, header = value.partition(": ")
            request["headers"][name] = header
        elif flag == "-d":
            request["content"] = value.encode()
        else:
            raise AssertionError(f"unexpected curl option {flag}")
    return request


def create_key_through_the_page(page, mode: str) -> str:
    page.fill("input[name=name]", f"pasted {mode}")
    page.check(f"input[value={mode}]")
    page.click("button:has-text('Create key')")
    return page.locator("#new-key").input_value()


def api_sample(page) -> str:
    page.click("#tab-api")
    snippet = page.locator("[data-testid=api-snippet]")
    expect(snippet).to_be_visible()
    return snippet.inner_text()


def test_the_api_tab_curl_sample_works_when_pasted_with_a_real_key(
    live_server, page, cast, celery_worker
):
    workflow = make(
        cast,
        "Echo API",
        code="export default async (ctx) => ({ got: ctx.input, env: ctx.environment });\n",
    )
    browser_login(page, live_server, "owner@example.com")

    # Never published: DRAFT, with a Test key.
    open_editor(page, live_server, workflow)
    text = api_sample(page)
    assert "stage: DRAFT" in text and "/api/v1/echo-api" in text
    expect(page.locator("[data-testid=api-key-export]")).to_have_text(
        "export FASTN_API_KEY=fsk_test_…"
    )

    # Published: `stage: test`; the tab says where to get a key, and that key works.
    publish(workflow, cast)
    open_editor(page, live_server, workflow)
    text = api_sample(page)
    assert "stage: test" in text and str(cast.space.id) in text
    expect(page.locator("[data-testid=api-stage-note]")).to_contain_text("Published, not deployed")
    page.click("[data-testid=api-keys-link]")
    expect(page.get_by_role("heading", name="API Keys", exact=True)).to_be_visible()
    test_key = create_key_through_the_page(page, "test")
    request = curl_request(text, test_key)
    assert urlsplit(request["url"]).hostname in ("localhost", "127.0.0.1", "::1")
    response = httpx.post(**request, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"got": {}, "env": "test"}

    # Deployed to live (and staging): the sample calls live and asks for a Live key.
    live_version = publish(workflow, cast, code="export default async () => ({ v: 2 });\n")
    actor = Actor.for_user(cast.owner)
    staging = environment_create(cast.space, name="Staging", actor=actor)
    for environment in (environment_by_slug(cast.space, "live"), staging):
        services.workflow_deploy(
            workflow, version=live_version, environment=environment, actor=actor
        )
    open_editor(page, live_server, workflow)
    text = api_sample(page)
    assert "stage: live" in text
    expect(page.locator("[data-testid=api-stage-note]")).to_contain_text(
        "Also deployed to: staging"
    )
    expect(page.locator("[data-testid=api-key-export]")).to_have_text(
        "export FASTN_API_KEY=fsk_live_…"
    )
    refused = httpx.post(**curl_request(text, test_key), timeout=30)
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    page.click("[data-testid=api-keys-link]")
    live_key = create_key_through_the_page(page, "live")
    response = httpx.post(**curl_request(text, live_key), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"v": 2}


def test_the_api_tab_of_a_member_who_cannot_create_keys_says_whom_to_ask(live_server, page, cast):
    workflow = make(cast, "Echo API")
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    api_sample(page)
    hint = page.locator("[data-testid=api-key-hint]")
    expect(hint).to_contain_text("from an Owner or Admin of this Space")
    expect(hint.locator("a")).to_have_count(0)


# --- Item 7: editor details -----------------------------------------------------------------


def test_changing_the_tier_resets_a_default_or_out_of_range_timeout_only(live_server, page, cast):
    workflow = make(cast)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    timeout = page.locator("#wf-timeout")
    expect(timeout).to_have_value("60")  # Instant's default
    page.select_option("#wf-tier", "standard")
    expect(timeout).to_have_value("900")  # was the old default: the new default
    page.fill("#wf-timeout", "300")
    page.select_option("#wf-tier", "long")
    expect(timeout).to_have_value("300")  # chosen by hand and within 30 s – 6 h: kept
    expect(page.locator("#wf-timeout-label")).to_have_text("5 min")
    page.select_option("#wf-tier", "instant")
    expect(timeout).to_have_value("60")  # 300 s is over Instant's 2 min: the default
    page.fill("#wf-timeout", "90")
    page.select_option("#wf-tier", "standard")
    expect(timeout).to_have_value("90")
    page.keyboard.press("Control+s")
    expect(page.locator(".wf-toast")).to_contain_text("Draft saved.")
    workflow.refresh_from_db()
    assert (workflow.tier, workflow.timeout_seconds) == ("standard", 90)


def test_discard_restores_the_last_saved_code_and_configuration_without_leaving(
    live_server, page, cast
):
    workflow = make(cast, retry_enabled=False)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)
    saved_code = "export default async () => ({ saved: true });"
    replace_code_by_typing(page, saved_code)
    page.fill("#wf-name", "Echo saved")
    page.keyboard.press("Control+s")
    expect(page.locator(".wf-toast")).to_contain_text("Draft saved.")
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()
    url = page.url

    replace_code_by_typing(page, "export default async () => ({ scrapped: true });")
    page.fill("#wf-name", "Scrapped name")
    page.select_option("#wf-tier", "long")
    page.click("label:has(#wf-retry)")
    expect(page.locator("#wf-retry-fields")).to_be_visible()
    expect(page.locator("#wf-title")).to_have_text("Scrapped name")

    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("button:has-text('Discard')")
    page.wait_for_function(f"() => window.wfEditor.getValue() === {saved_code!r}")
    assert "Discard your unsaved changes?" in asked[0]
    assert page.url == url
    expect(page.locator("#wf-name")).to_have_value("Echo saved")
    expect(page.locator("#wf-title")).to_have_text("Echo saved")
    expect(page.locator("#wf-tier")).to_have_value("instant")
    expect(page.locator("#wf-timeout")).to_have_value("60")
    expect(page.locator("#wf-timeout-range")).to_have_attribute("max", "120")
    expect(page.locator("#wf-retry")).not_to_be_checked()
    expect(page.locator("#wf-retry-fields")).to_be_hidden()
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()
    expect(page.locator("[data-testid=code-footer]")).to_contain_text(f"{len(saved_code)} bytes")
    # The discarded code is one undo away, and then unsaved again.
    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+z")
    page.wait_for_function("() => window.wfEditor.getValue().includes('scrapped')")
    expect(page.locator("[data-testid=dirty]")).to_be_visible()
    workflow.refresh_from_db()
    assert (workflow.name, workflow.draft_code) == ("Echo saved", saved_code)


def test_discard_on_a_new_workflow_goes_back_to_the_template_in_place(live_server, page, cast):
    browser_login(page, live_server, "developer@example.com")
    page.goto(workflow_url(live_server, cast, "new/"))
    wait_for_monaco(page)
    page.fill("#wf-name", "Half done")
    replace_code_by_typing(page, "// half done")
    page.once("dialog", lambda d: d.accept())
    page.click("button:has-text('Discard')")
    page.wait_for_function(f"() => window.wfEditor.getValue() === {DEFAULT_CODE!r}")
    expect(page).to_have_url(re.compile(r"/workflows/new/$"))
    expect(page.locator("#wf-name")).to_have_value("")
    expect(page.locator("#wf-slug")).to_have_value("")
    expect(page.locator("#wf-title")).to_have_text("New workflow")
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()
    assert not Workflow.objects.exists()


def test_publish_takes_a_release_note_and_live_deploys_are_confirmed(live_server, page, cast):
    from apps.workflows.models import Deployment, WorkflowVersion

    workflow = make(cast)
    actor = Actor.for_user(cast.owner)
    environment_create(cast.space, name="Staging", actor=actor)
    browser_login(page, live_server, "developer@example.com")
    open_editor(page, live_server, workflow)

    # The note is optional, limited to 500 characters, and a longer one is refused clearly.
    page.click("[data-action=publish] >> nth=0")
    dialog = page.locator("[data-testid=publish-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Publish v1")
    note = dialog.locator("[data-testid=release-note]")
    expect(note).to_have_attribute("maxlength", "500")
    note.evaluate("(el) => { el.value = 'x'.repeat(501); }")  # as a script could
    dialog.locator("[data-testid=confirm-publish]").click()
    expect(dialog.locator("[data-testid=note-error]")).to_have_text(
        "Keep the release note to 500 characters (it has 501)."
    )
    expect(dialog).to_be_visible()
    assert not WorkflowVersion.objects.exists()
    note.fill("First cut: echoes the input.")
    expect(dialog.locator("#wf-note-count")).to_have_text("28")
    dialog.locator("[data-testid=confirm-publish]").click()
    expect(page.locator(".wf-toast").last).to_contain_text("Published v1.")
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-version='1'] [data-testid=version-note]")).to_have_text(
        "First cut: echoes the input."
    )

    replace_code_by_typing(page, "export default async () => ({ version: 2 });")
    page.click("button:has-text('Publish snapshot')")
    expect(dialog.locator("h2")).to_have_text("Publish v2")
    expect(note).to_have_value("")
    note.fill("Answers its version.")
    expect(dialog.locator("[data-testid=confirm-publish]")).to_have_text("Publish v2")
    note.press("Control+Enter")  # publishes (it runs the Test tab elsewhere)
    expect(page.locator("[data-testid=footer-version]")).to_have_text("Latest: v2")
    assert list(
        WorkflowVersion.objects.order_by("number").values_list("release_note", flat=True)
    ) == [
        "First cut: echoes the input.",
        "Answers its version.",
    ]
    page.click("[data-version='1'] >> text=Diff")
    page.select_option("[data-testid=diff-right]", "2")
    notes = page.locator("[data-testid=diff-notes]")
    expect(notes).to_contain_text("v1: First cut: echoes the input.")
    expect(notes).to_contain_text("v2: Answers its version.")
    page.locator("#wf-diff-dialog [data-close-dialog]").click()
    page.click("[data-version='1'] >> text=View")
    expect(page.locator("#wf-version-meta")).to_contain_text("First cut: echoes the input.")
    page.locator("#wf-version-dialog [data-close-dialog]").click()

    # Deploying to live (protected) asks in a dialog naming the version and the environment.
    deployments = page.locator("[data-testid=deployments]")
    page.select_option("[data-testid=deploy-version]", "1")
    page.select_option("[data-testid=deploy-environment]", label="live")
    page.click("button:has-text('Deploy to environment')")
    confirm = page.locator("[data-testid=deploy-confirm]")
    expect(confirm).to_be_visible()
    expect(confirm.locator("h2")).to_have_text("Deploy v1 to live?")
    expect(confirm.locator("[data-testid=deploy-confirm-message]")).to_contain_text(
        "live is protected"
    )
    confirm.locator("button:has-text('Cancel')").click()
    expect(confirm).to_be_hidden()
    expect(deployments.locator("[data-testid=env-version-live]")).to_have_text("—")
    assert not Deployment.objects.exists()
    page.click("button:has-text('Deploy to environment')")
    confirm.locator("button:has-text('Deploy v1 to live')").click()
    expect(deployments.locator("[data-testid=env-version-live]")).to_have_text("v1")

    page.select_option("[data-testid=deploy-version]", "2")
    page.select_option("[data-testid=deploy-environment]", label="live")
    page.click("button:has-text('Deploy to environment')")
    expect(confirm.locator("[data-testid=deploy-confirm-message]")).to_contain_text(
        "instead of v1 now"
    )
    confirm.locator("button:has-text('Cancel')").click()

    # A named environment is not protected: no question.
    page.select_option("[data-testid=deploy-environment]", label="staging")
    page.click("button:has-text('Deploy to environment')")
    expect(deployments.locator("[data-testid=env-version-staging]")).to_have_text("v2")
    expect(confirm).to_be_hidden()
    expect(deployments.locator("[data-testid=env-version-live]")).to_have_text("v1")


def test_the_table_status_names_every_environment_a_workflow_is_deployed_to(
    live_server, page, cast
):
    actor = Actor.for_user(cast.owner)
    live = environment_by_slug(cast.space, "live")
    staging = environment_create(cast.space, name="Staging", actor=actor)

    def deployed(name, *environments, **fields):
        workflow = make(cast, name, **fields)
        version = publish(workflow, cast)
        for environment in environments:
            services.workflow_deploy(
                workflow, version=version, environment=environment, actor=actor
            )
        return workflow

    deployed("Both", staging, live)
    deployed("Staging only", staging)
    deployed("Published only")
    deployed("Switched off", live, enabled=False)
    make(cast, "Never published")
    browser_login(page, live_server, "viewer@example.com")
    page.goto(workflow_url(live_server, cast))

    def status(slug):
        cell = page.locator(f"[data-testid=workflow-row][data-slug={slug}] td").nth(1)
        return cell.locator("[data-testid=status]"), cell.locator(
            "[data-testid=status-environments]"
        )

    for slug, badge, environments in [
        ("both", "active", "· live, staging"),
        ("staging-only", "active", "· staging"),
        ("published-only", "inactive", "on test only"),
        ("switched-off", "inactive", "disabled · deployed to live"),
        ("never-published", "inactive", "never published"),
    ]:
        badge_el, environments_el = status(slug)
        expect(badge_el).to_have_text(badge)
        expect(environments_el).to_have_text(environments)


def test_discard_after_open_in_editor_goes_back_to_the_saved_draft(live_server, page, cast):
    from apps.executions.services import execution_create

    workflow = make(cast)
    ran = "export default async (ctx) => ({ replayed: true });"
    execution = execution_create(
        workflow, version=None, code=ran, input={}, headers={}, triggered_by="manual", actor=None
    )
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{workflow_url(live_server, cast)}{workflow.id}/?execution={execution.id}")
    wait_for_monaco(page)
    assert editor_value(page) == ran
    expect(page.locator("[data-testid=dirty]")).to_be_visible()  # not the saved draft
    page.once("dialog", lambda d: d.accept())
    page.click("button:has-text('Discard')")
    page.wait_for_function(f"() => window.wfEditor.getValue() === {DEFAULT_CODE!r}")
    expect(page.locator("[data-testid=dirty]")).to_be_hidden()


def test_the_api_tab_samples_carry_the_test_tabs_input_and_the_response_shape(
    live_server, page, cast, celery_worker
):
    workflow = make(
        cast, "Echo input", code="export default async (ctx) => ({ got: ctx.input });\n"
    )
    publish(workflow, cast)
    browser_login(page, live_server, "owner@example.com")
    open_editor(page, live_server, workflow)
    typed = {"name": "O'Brien", "tags": ["a", "b"], "n": 3}
    page.fill("#wf-input", json.dumps(typed))

    text = api_sample(page)
    fetch_sample = page.locator("[data-testid=api-fetch]").inner_text()
    assert '"name": "O\'Brien"' in fetch_sample and "JSON.stringify" in fetch_sample
    assert str(cast.space.id) in fetch_sample and '"stage": "test"' in fetch_sample
    expect(page.locator("[data-testid=api-response-shape]")).to_contain_text("200 OK")
    for name in ("copy-api-curl", "copy-api-fetch", "copy-api-response"):
        expect(page.get_by_test_id(name)).to_be_visible()

    # The curl sample, pasted into a shell with a real key, sends exactly that input.
    page.click("[data-testid=api-keys-link]")
    key = create_key_through_the_page(page, "test")
    response = httpx.post(**curl_request(text, key), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"got": typed}

    # Input that is not JSON: the samples send {} and say why.
    open_editor(page, live_server, workflow)
    page.fill("#wf-input", "{oops")
    text = api_sample(page)
    expect(page.get_by_test_id("api-input-error")).to_contain_text("samples send {}")
    assert """-d '{"input":{}}'""" in text
