"""A workflow returning something JSON cannot hold fails, in the editor's Test tab, with a
message that says what and where — instead of completing with null."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.executions.models import Execution
from apps.spaces.audit import Actor
from apps.workflows import services
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_test_tab_shows_which_part_of_the_result_is_not_json(
    live_server, page, cast, celery_worker
):
    workflow = services.workflow_create(
        cast.space, name="Handlers", actor=Actor.for_user(cast.owner)
    )
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.evaluate(
        "(text) => window.wfEditor.setValue(text)",
        "export default async (ctx) => ({ ok: true, handler: () => ctx.input });\n",
    )
    page.click("[data-testid=run]")
    result = page.locator("[data-testid=run-result]")
    expect(result.locator("[data-testid=run-status]")).to_have_text("Failed", timeout=30000)
    expect(result.locator("[data-testid=run-error]")).to_contain_text("NOT_SERIALIZABLE")
    expect(result.locator("[data-testid=run-error]")).to_contain_text(
        "output.handler is a function, which is not JSON-serialisable"
    )
    expect(result.locator("[data-testid=run-output]")).to_have_count(0)

    page.evaluate(
        "(text) => window.wfEditor.setValue(text)", "export default async () => () => 1;\n"
    )
    page.click("[data-testid=run]")
    expect(result.locator("[data-testid=run-error]")).to_contain_text(
        "The workflow returned a function, which is not JSON-serialisable", timeout=30000
    )
    assert list(Execution.objects.values_list("status", "output")) == [
        ("failed", None),
        ("failed", None),
    ]
