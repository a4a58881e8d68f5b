"""The workflow editor, polished (issue 10): running a workflow that was never saved, tier and
timeout, Discard in place, confirming a deploy to a protected environment, release notes, the
environments of the Workflows table, and an API tab whose curl sample works when pasted.

Tests that execute code use the real runtime through a Celery worker (`celery_worker`)."""

from __future__ import annotations

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
