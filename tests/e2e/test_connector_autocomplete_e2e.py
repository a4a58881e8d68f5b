"""Monaco's autocomplete of connectors in the workflow editor, in a real browser: the editor
loads the Space's declarations (GET …/connectors/typings/fastn-connectors.d.ts) and a person
typing `fastn.connector.` is offered the Space's connector, then its actions with their docs,
then an action's parameters. A connector whose description tries to close the comment and
declare a global declares nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.connectors.models import Connector, ConnectorVersion
from apps.spaces.audit import Actor
from apps.workflows import services
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

INVENTORY = {
    "slug": "inventory-hub",
    "name": "Inventory Hub",
    "description": "Inventory, sales and purchasing.",
    "baseUrl": "https://inventory.example.com/api",
    "actions": [
        {"name": "listProducts", "title": "List products",
         "description": "One page of products, newest first.", "method": "GET",
         "path": "/products",
         "parameters": [
             {"name": "pageNumber", "in": "query", "type": "integer",
              "description": "Which page to read, from 1."},
             {"name": "status", "in": "query", "type": "string", "enum": ["Active", "Deprecated"]},
         ]},
        {"name": "getSale", "title": "Get a sale", "method": "GET", "path": "/sale/{id}",
         "parameters": [{"name": "id", "in": "path", "type": "string"}]},
    ],
}  # fmt: skip
# An action description written to close its comment, the interface and the namespace around
# it, declare a global, and reopen both, so that the file would still parse.
BREAKOUT = (
    "*/ } } declare const pwnedGlobal: number; "
    "declare namespace FastnConnectorTypes { interface Evil { /**"
)
EVIL = {
    "slug": "evil",
    "name": "Evil",
    "description": BREAKOUT,
    "baseUrl": "https://evil.example.com",
    "actions": [{"name": "run", "method": "GET", "path": "/", "description": BREAKOUT}],
}  # fmt: skip

# Global completions in a scratch model, straight from the TypeScript worker (the extra libs
# are shared by every JavaScript model).
GLOBALS = """async () => {
  const ts = monaco.typescript && monaco.typescript.javascriptDefaults
    ? monaco.typescript : monaco.languages.typescript;
  const model = monaco.editor.createModel("\\n", "javascript", monaco.Uri.parse("file:///probe.js"));
  const worker = await (await ts.getJavaScriptWorker())(model.uri);
  const info = await worker.getCompletionsAtPosition(model.uri.toString(), 0);
  model.dispose();
  return info ? info.entries.map((entry) => entry.name) : [];
}"""


# TypeScript's own verdict on the generated declarations: syntax and types.
DIAGNOSTICS = """async () => {
  const ts = monaco.typescript && monaco.typescript.javascriptDefaults
    ? monaco.typescript : monaco.languages.typescript;
  const model = window.wfEditor.getModel();
  const worker = await (await ts.getJavaScriptWorker())(model.uri);
  const file = "file:///fastn-connectors.d.ts";
  const found = (await worker.getSyntacticDiagnostics(file))
    .concat(await worker.getSemanticDiagnostics(file));
  return found.map((d) => (typeof d.messageText === "string" ? d.messageText
    : d.messageText.messageText) + " @" + d.start);
}"""


def own_connector(space, definition):
    connector = Connector.objects.create(
        space=space, slug=definition["slug"], name=definition["name"]
    )
    connector.latest_version = ConnectorVersion.objects.create(
        connector=connector, number=1, definition=definition
    )
    connector.save(update_fields=["latest_version"])


def test_monaco_offers_connectors_actions_and_parameters(live_server, page, cast):
    own_connector(cast.space, INVENTORY)
    own_connector(cast.space, EVIL)
    own_connector(cast.other_space, {**INVENTORY, "slug": "globex-erp", "name": "Globex ERP"})
    workflow = services.workflow_create(cast.space, name="Stock", actor=Actor.for_user(cast.owner))
    browser_login(page, live_server, "developer@example.com")
    page.goto(f"{live_server.url}/s/{cast.space.slug}/workflows/{workflow.id}/")
    page.wait_for_selector("#wf-monaco[data-ready=true]", timeout=20000)
    page.wait_for_selector("#wf-monaco[data-connector-types=loaded]", timeout=20000)

    page.click("#wf-monaco .view-lines")
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    suggest = page.locator(".suggest-widget")
    details = page.locator(".suggest-details")

    # fastn.connector. → the Space's connectors by code name (and the generic http).
    page.keyboard.type("fastn.connector.")
    expect(suggest).to_be_visible()
    expect(suggest).to_contain_text("inventoryHub")
    expect(suggest).to_contain_text("http")
    for builtin in ("cin7Core", "github", "hubspot"):  # the catalog's, by code name
        expect(suggest).to_contain_text(builtin)
    expect(suggest).not_to_contain_text("globexErp")
    page.keyboard.type("inventoryH")
    expect(suggest.locator(".monaco-list-row.focused")).to_contain_text("inventoryHub")
    page.keyboard.press("Enter")

    # . → its actions, with their titles and descriptions.
    page.keyboard.type(".")
    expect(suggest).to_contain_text("listProducts")
    expect(suggest).to_contain_text("getSale")
    page.keyboard.type("listP")
    expect(suggest.locator(".monaco-list-row.focused")).to_contain_text("listProducts")
    expect(suggest.locator(".monaco-list-row.focused .can-expand-details")).to_be_attached()
    page.keyboard.press("Control+Space")
    expect(details).to_contain_text("List products")
    expect(details).to_contain_text("One page of products, newest first.")
    page.keyboard.press("Enter")

    # Its parameters, inside the object passed to it, with types and descriptions.
    page.keyboard.type("({ ")
    page.keyboard.press("Control+Space")
    expect(suggest).to_contain_text("pageNumber")
    expect(suggest).to_contain_text("status")
    page.keyboard.type("pageN")
    focused = suggest.locator(".monaco-list-row.focused")
    expect(focused).to_contain_text("pageNumber")
    expect(focused.locator(".can-expand-details")).to_be_attached()
    expect(details).to_contain_text("Which page to read, from 1.")
    expect(details).to_contain_text("listProductsParams.pageNumber?: number")
    expect(details).to_contain_text("(integer, in query; optional)")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")

    # The alias offers the same connectors.
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("fastn.connectors.")
    expect(suggest).to_contain_text("inventoryHub")
    page.keyboard.press("Escape")

    # The declarations are valid TypeScript, built-ins and the Space's own (hostile one too).
    assert page.evaluate(DIAGNOSTICS) == []

    # The hostile description declared no global; `fastn` is one (the check can see globals).
    names = page.evaluate(GLOBALS)
    assert "fastn" in names and "Fastn" in names
    assert not [name for name in names if "pwned" in name.lower()]

    # The next time the editor opens, the browser revalidates its copy: a 304, nothing resent.
    set_code = "(text) => window.wfEditor.getModel().setValue(text)"
    page.evaluate(set_code, workflow.draft_code)  # nothing unsaved: leaving asks nothing
    with page.expect_response(lambda r: r.url.endswith("/fastn-connectors.d.ts")) as answer:
        page.reload()
    # (Chromium reports the cached 200 it served; what crossed the wire was the 304.)
    assert answer.value.request.all_headers()["if-none-match"].endswith('"')
    assert answer.value.all_headers()["content-length"] == "0"
    page.wait_for_selector("#wf-monaco[data-connector-types=loaded]", timeout=20000)
