"""A connector action called from the editor's Test tab: the answer through the Space's
connection, and a service error in the reference's format — never the credential."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.spaces.audit import Actor
from apps.workflows import services
from tests.connectors.calls_support import connect, make_acme
from tests.connectors.fakes import FakeService
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN = "e2e-bearer-token-0001"


@pytest.fixture
def service():
    running = FakeService()
    yield running
    running.close()


def test_test_tab_calls_a_connector_action_through_the_connection(
    live_server, page, cast, celery_worker, service
):
    make_acme(cast.space, service)
    connect(cast.space, "BEARER", {"token": TOKEN})
    service.require = ("bearer", TOKEN)
    workflow = services.workflow_create(cast.space, name="Things", actor=Actor.for_user(cast.owner))
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.evaluate(
        "(text) => window.wfEditor.setValue(text)",
        "export default async () => {\n"
        "  const r = await fastn.connector.acme.getThing({id: 'w-1', limit: 3});\n"
        "  return {status: r.status, path: r.body.path, sent: r.body.headers.authorization};\n"
        "}\n",
    )
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=run-result]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Completed", timeout=30000)
    output = result.locator("[data-testid=run-output]")
    expect(output).to_contain_text("/things/w-1")
    expect(output).to_contain_text("Bearer [REDACTED]")

    page.evaluate(
        "(text) => window.wfEditor.setValue(text)",
        "export default async () => fastn.connector.acme.fail({code: 404});\n",
    )
    page.click("[data-testid=run]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Failed", timeout=30000)
    expect(result.locator("[data-testid=run-error]")).to_contain_text(
        "acme.fail failed: Acme answered HTTP 404: thing_not_found"
    )
    assert TOKEN not in page.content()
