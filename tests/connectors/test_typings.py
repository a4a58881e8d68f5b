"""The TypeScript declarations of a Space's connectors (Monaco's autocomplete in the workflow
editor): what they declare, that a hostile definition cannot inject declarations, tenancy, and
the ETag that lets the editor's browser keep its copy."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.connectors import typings
from apps.connectors.definition import parse_definition
from apps.connectors.models import Connector, ConnectorVersion
from apps.connectors.typings import doc_text, property_name, type_name
from tests.conftest import login

pytestmark = pytest.mark.django_db

INVENTORY = {
    "slug": "inventory-hub",
    "name": "Inventory Hub",
    "description": "Inventory and orders.",
    "baseUrl": "https://inventory.example.com/api",
    "actions": [
        {
            "name": "listProducts",
            "title": "List products",
            "description": "One page of products, newest first.",
            "method": "GET",
            "path": "/products",
            "parameters": [
                {"name": "page", "in": "query", "type": "integer", "default": 1,
                 "description": "Page number, from 1."},
                {"name": "status", "in": "query", "type": "string",
                 "enum": ["Active", "Deprecated"]},
                {"name": "X-Trace-Id", "in": "header", "type": "string"},
                {"name": "IncludeDeprecated", "in": "query", "type": "boolean"},
            ],
        },
        {
            "name": "getSale",
            "method": "GET",
            "path": "/sale/{id}",
            "parameters": [{"name": "id", "in": "path", "type": "string",
                            "description": "The sale's id."}],
        },
        {
            "name": "createSale",
            "method": "POST",
            "path": "/sale",
            "body": {"required": True, "schema": {
                "type": "object", "required": ["Customer"],
                "properties": {"Customer": {"type": "string", "description": "Who buys."},
                               "Lines": {"type": "array", "items": {"type": "object",
                                         "properties": {"SKU": {"type": "string"},
                                                        "Quantity": {"type": "number"}}}}}}},
        },
    ],
}  # fmt: skip


def own_connector(space, definition, *, versions=1):
    connector = Connector.objects.create(
        space=space, slug=definition["slug"], name=definition["name"]
    )
    for number in range(1, versions + 1):
        version = ConnectorVersion.objects.create(
            connector=connector, number=number, definition=definition
        )
    connector.latest_version = version
    connector.save(update_fields=["latest_version"])
    return connector


def url(space):
    return reverse("connector_typings", args=[space.slug])


def fetch(client, space, **headers):
    response = client.get(url(space), headers=headers)
    return response, response.content.decode() if response.status_code == 200 else ""


def code_only(text: str) -> str:
    """The declarations without their comments and string literals: what TypeScript runs as
    declarations. Comments are cut at their first `*/`, exactly as a parser does."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)


def test_a_custom_connector_appears_with_its_actions_and_parameter_types(client, cast):
    own_connector(cast.space, INVENTORY)
    login(client, cast.viewer)
    response, text = fetch(client, cast.space)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/typescript")
    # fastn.connector.inventoryHub (and fastn.connectors.inventoryHub: the same interface).
    assert "interface FastnConnectors {" in text
    assert "  inventoryHub: FastnConnectorTypes.InventoryHub;" in text
    # Its actions, each with its title and description, resolving to {status, headers, body}.
    returns = "Promise<FastnConnectorResponse>;"
    assert f"listProducts(params?: InventoryHub.listProductsParams): {returns}" in text
    assert "getSale(params: InventoryHub.getSaleParams): Promise<FastnConnectorResponse>;" in text
    assert "createSale(params: InventoryHub.createSaleParams)" in text
    assert "List products" in text and "One page of products, newest first." in text
    assert "`GET /products` (read) on Inventory Hub" in text
    response_shape = re.search(r"interface FastnConnectorResponse<T = any> \{(.*?)\n\}", text, re.S)
    assert response_shape and re.findall(r"^  (\w+): (.+);$", response_shape.group(1), re.M) == [
        ("status", "number"),
        ("headers", "Record<string, string>"),
        ("body", "T"),
    ]
    # Parameters with their types, required flags and descriptions.
    assert "      page?: number;" in text and "Page number, from 1." in text
    assert "(integer, in query; optional; default 1)" in text
    assert '      status?: "Active" | "Deprecated";' in text
    assert '      "X-Trace-Id"?: string;' in text
    assert "      IncludeDeprecated?: boolean;" in text
    assert "      id: string;" in text and "(string, in path; required)" in text
    # The request body's schema, as a type.
    assert "      body: {" in text and "        Customer: string;" in text
    assert "        Lines?: Array<{" in text and "          Quantity?: number;" in text


def test_builtins_come_first_and_a_space_connector_cannot_shadow_one(client, cast, monkeypatch):
    builtins = {
        d["slug"]: parse_definition(d)
        for d in (
            {"slug": "http", "name": "HTTP", "baseUrl": "https://x.test", "protocol": "generic",
             "actions": [{"name": "request", "method": "GET", "path": "/"}]},
            {"slug": "hubspot", "name": "HubSpot", "baseUrl": "https://api.hubapi.com",
             "actions": [{"name": "listContacts", "method": "GET", "path": "/crm/v3/contacts",
                          "parameters": [{"name": "limit", "type": "integer"}]}]},
        )
    }  # fmt: skip
    monkeypatch.setattr(typings, "builtin_connectors", lambda: builtins)
    typings.builtin_blocks.cache_clear()
    try:
        own_connector(cast.space, {**INVENTORY, "slug": "hubspot", "name": "My HubSpot"})
        own_connector(cast.space, INVENTORY)
        login(client, cast.viewer)
        _, text = fetch(client, cast.space)
    finally:
        typings.builtin_blocks.cache_clear()
    members = re.findall(r"^  (\w+): FastnConnectorTypes\.(\w+);$", text, re.M)
    assert members == [("hubspot", "Hubspot"), ("inventoryHub", "InventoryHub")]
    assert "listContacts(params?: Hubspot.listContactsParams)" in text
    assert "My HubSpot" not in text  # the built-in wins, as at run time
    assert "request(" not in text  # http is declared by the editor's own runtime types


def test_another_spaces_connectors_are_not_declared(client, cast):
    own_connector(cast.other_space, {**INVENTORY, "slug": "globex-erp", "name": "Globex ERP"})
    own_connector(cast.space, INVENTORY)
    login(client, cast.viewer)
    _, text = fetch(client, cast.space)
    assert "inventoryHub" in text and "globex" not in text.lower()
    login(client, cast.outsider)
    assert client.get(url(cast.space)).status_code == 404
    _, theirs = fetch(client, cast.other_space)
    assert "globexErp" in theirs and "inventoryHub" not in theirs


HOSTILE = "*/ declare const pwned: number; /*"


def test_hostile_names_and_descriptions_cannot_inject_declarations(client, cast):
    definition = {
        "slug": "evil",
        "name": f"Evil {HOSTILE}",
        "description": f"{HOSTILE}\n@deprecated\u2028*/ declare const pwned2: 1; //",
        "baseUrl": "https://evil.example.com",
        "actions": [{
            "name": "run",
            "title": f"Run {HOSTILE}",
            "description": "</script><script>alert(1)</script> */ var pwned3;",
            "method": "POST",
            "path": "/run/*/x",
            "parameters": [
                {"name": 'a"; declare const pwned4: 1; "', "type": "string",
                 "description": HOSTILE},
                {"name": "b\u2028declare const pwned5: 1;", "type": "string"},
                {"name": "mode", "type": "string",
                 "enum": ['x" | pwned6 | "', "ok"], "default": HOSTILE},
                {"name": "level", "type": "number", "enum": [1, "2", {"pwned7": 1}]},
            ],
            "body": {"schema": {"type": "object", "properties": {
                "*/ pwned8": {"type": "string", "description": HOSTILE},
                "n": {"enum": ["*/ pwned9"]}}}},
        }],
    }  # fmt: skip
    own_connector(cast.space, definition)
    login(client, cast.viewer)
    response, text = fetch(client, cast.space)
    assert response.status_code == 200
    code = code_only(text)
    assert "pwned" not in code, code
    assert "alert" not in code and "<script" not in code
    # Every comment ends where the generator ended it: "*/" only closes a comment of its own.
    # (A declaration line's string literals may hold "*/": a name, an enum value.)
    lines = [
        line if re.match(r"\s*(/\*\*|\*)", line) else re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
        for line in text.split("\n")
    ]
    closing = [line for line in lines if "*/" in line]
    assert all(re.fullmatch(r"\s*\*/|\s*/\*\* [^*]*\*/", line) for line in closing), closing
    assert "\u2028" not in text and "\u2029" not in text
    assert "*\\/ declare const pwned: number;" in text  # shown, harmlessly, in the docs
    assert "\\@deprecated" in text  # not a tag that would strike the name through
    # Names that are not identifiers are string literals; the action is still callable.
    assert '"a\\"; declare const pwned4: 1; \\""?: string;' in text
    assert '"b\\u2028declare const pwned5: 1;"?: string;' in text
    assert 'mode?: "x\\" | pwned6 | \\"" | "ok";' in text
    assert "level?: number;" in text  # an enum holding an object: the plain type
    assert "run(params?: Evil.runParams): Promise<FastnConnectorResponse>;" in text


def test_a_definition_that_no_longer_parses_is_left_out_not_an_error(client, cast):
    connector = own_connector(cast.space, INVENTORY)
    broken = ConnectorVersion.objects.create(
        connector=connector, number=2, definition={"slug": "inventory-hub", "actions": "nope"}
    )
    connector.latest_version = broken
    connector.save(update_fields=["latest_version"])
    weird = Connector.objects.create(space=cast.space, slug="under_score", name="Odd")
    weird.latest_version = ConnectorVersion.objects.create(
        connector=weird, number=1, definition={**INVENTORY, "slug": "under_score"}
    )
    weird.save(update_fields=["latest_version"])
    login(client, cast.viewer)
    response, text = fetch(client, cast.space)
    assert response.status_code == 200
    assert "inventoryHub" not in text and "under_score" not in text
    assert "interface FastnConnectors {" in text


def test_the_etag_answers_304_until_a_connector_changes(client, cast):
    connector = own_connector(cast.space, INVENTORY)
    login(client, cast.developer)
    first = client.get(url(cast.space))
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    assert "no-cache" in first["Cache-Control"] and "private" in first["Cache-Control"]
    again = client.get(url(cast.space), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert "Accept-Encoding" in again["Vary"]
    # A new version (an action added) changes the declarations, and so the ETag.
    changed = json.loads(json.dumps(INVENTORY))
    changed["actions"].append({"name": "deleteSale", "method": "DELETE", "path": "/sale"})
    version = ConnectorVersion.objects.create(connector=connector, number=2, definition=changed)
    connector.latest_version = version
    connector.save(update_fields=["latest_version"])
    fresh = client.get(url(cast.space), headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    assert "deleteSale(" in fresh.content.decode()
    # Compressed for browsers, whose weak ETag comes back and still matches.
    gzipped = client.get(url(cast.space), headers={"Accept-Encoding": "gzip"})
    assert gzipped["Content-Encoding"] == "gzip" and gzipped["ETag"].startswith('W/"')
    revalidated = client.get(
        url(cast.space), headers={"Accept-Encoding": "gzip", "If-None-Match": gzipped["ETag"]}
    )
    assert revalidated.status_code == 304 and revalidated["ETag"] == gzipped["ETag"]


def test_definitions_are_read_once_per_version(client, cast):
    for n in range(3):
        own_connector(cast.space, {**INVENTORY, "slug": f"shop-{n}", "name": f"Shop {n}"})
    login(client, cast.viewer)
    client.get(url(cast.space))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(cast.space)).status_code == 200
    assert not any("definition" in q["sql"] for q in queries), [q["sql"] for q in queries]


def test_a_post_is_refused_and_the_editor_knows_the_url(client, cast):
    login(client, cast.viewer)
    assert client.post(url(cast.space)).status_code == 405
    from apps.workflows.models import Workflow

    workflow = Workflow.objects.create(space=cast.space, name="W", slug="w", draft_code="")
    page = client.get(reverse("workflow_editor", args=[cast.space.slug, workflow.id]))
    config = page.context["editor_config"]
    assert config["connectorTypesUrl"] == url(cast.space)


def test_escaping_helpers():
    assert doc_text("a */ b") == "a *\\/ b"
    assert doc_text("x\r\ny\u2028z\x00") == "x\ny\nz"
    assert doc_text("@param x\n  @returns y") == "\\@param x\n  \\@returns y"
    assert doc_text("a" * 5000).endswith("…") and len(doc_text("a" * 5000)) == 1500
    assert property_name("limit") == "limit"
    assert property_name("page[size]") == '"page[size]"'
    assert property_name("é") == '"\\u00e9"'
    assert type_name("inventoryHub") == "InventoryHub"
    assert type_name("7shifts") == "_7shifts"
    with pytest.raises(ValueError):
        type_name("a-b")
