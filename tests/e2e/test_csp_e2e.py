"""The Content-Security-Policy in a real browser: the console and the Monaco editor work under it
(the editor renders, takes typing, and its TypeScript worker squiggles a syntax error) and
nothing is refused — no `securitypolicyviolation` event, no "Refused to …" console message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.spaces.audit import Actor
from apps.workflows import services
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs before any page script (Playwright injects it outside the page's CSP) and records every
# violation the document reports, whichever frame or element caused it.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""


def watch(page) -> tuple[list[str], list[str]]:
    """Collect console errors mentioning a policy, from the page and from its workers."""
    refused: list[str] = []
    workers: list[str] = []

    def on_console(message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            refused.append(text)

    page.on("console", on_console)
    page.on("worker", lambda worker: (workers.append(worker.url), worker.on("console", on_console)))
    page.add_init_script(RECORD_VIOLATIONS)
    return refused, workers


def test_console_and_monaco_work_under_the_policy_without_violations(live_server, page, cast):
    workflow = services.workflow_create(cast.space, name="Echo", actor=Actor.for_user(cast.owner))
    refused, workers = watch(page)

    response = page.goto(f"{live_server.url}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/")
    response = page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    assert "content-security-policy" in response.headers

    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("export default async (ctx) => { const = ; }", delay=5)
    page.keyboard.press("Escape")
    assert "const = ;" in page.evaluate("window.wfEditor.getValue()")
    # The squiggle comes from Monaco's TypeScript worker: the worker started and answered.
    expect(page.locator("#wf-monaco .squiggly-error").first).to_be_visible(timeout=15000)
    # Completions (a suggest widget styled by Monaco's injected rules) render too.
    page.keyboard.press("End")
    page.keyboard.type("\nctx.", delay=5)
    expect(page.locator("#wf-monaco .suggest-widget")).to_be_visible(timeout=10000)

    assert workers, "Monaco started no web worker"
    assert page.evaluate("window.__cspViolations") == []
    assert refused == []


def test_changing_a_role_submits_without_an_inline_handler(live_server, page, cast):
    """The People page's role menu submits on change through console.js (it used an inline
    `onchange`, which the policy refuses)."""
    from apps.spaces.models import Membership

    refused, _ = watch(page)
    browser_login(page, live_server, "owner@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/settings/people/")
    viewer = Membership.objects.get(space=cast.space, user=cast.viewer)
    with page.expect_navigation():
        page.select_option(f"#role-{viewer.id}", "operator")
    expect(page.locator(f"#role-{viewer.id}")).to_have_value("operator")
    viewer.refresh_from_db()
    assert viewer.role == "operator"
    assert page.evaluate("window.__cspViolations") == []
    assert refused == []
