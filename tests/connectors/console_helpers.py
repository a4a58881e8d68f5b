"""Shared by the Connectors page's tests (services, views, command, browser): a small built-in
catalog that does not depend on the real one, and custom connectors made through the
services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.connectors import catalog
from apps.connectors.services.connectors import connector_create
from apps.spaces.audit import Actor

SYSTEM = Actor.system("test")
SPECS = Path(__file__).parent / "specs"

# Two built-ins as files in the catalog's format: an HTTP-like generic one and a payments API.
BUILTINS = {
    "web-hook-relay": {
        "slug": "web-hook-relay", "name": "Relay", "category": "Developer tools",
        "description": "Relays requests to any URL.", "version": "1.0", "protocol": "generic",
        "baseUrl": "https://relay.example.test", "auth": {"methods": [{"type": "NO_AUTH"}]},
        "actions": [{"name": "request", "method": "POST", "path": "/"}],
    },
    "payments-demo": {
        "slug": "payments-demo", "name": "Paydemo", "category": "Payments",
        "description": "Charges and refunds for the demo shop.", "version": "2.1",
        "baseUrl": "https://api.paydemo.example.test", "docsUrl": "https://docs.paydemo.test",
        "auth": {"default": "API_KEY", "methods": [
            {"type": "API_KEY", "in": "header", "name": "X-Pay-Key"}, {"type": "BEARER"}]},
        "actions": [
            {"name": "listCharges", "title": "List charges", "method": "GET", "path": "/v1/charges",
             "parameters": [{"name": "limit", "in": "query", "type": "integer"}]},
            {"name": "refundCharge", "method": "POST", "path": "/v1/charges/{charge}/refunds",
             "parameters": [{"name": "charge", "in": "path", "type": "string", "required": True}],
             "body": {"encoding": "form", "schema": {"type": "object"}}},
        ],
        "events": [{"name": "charge.refunded", "path": "charge/refunded",
                    "payloadSchema": {"type": "object", "properties": {"id": {"type": "string"}}}}],
    },
}  # fmt: skip


@pytest.fixture
def builtins(tmp_path, monkeypatch):
    """The built-in catalog replaced by BUILTINS for one test."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    for slug, data in BUILTINS.items():
        (folder / f"{slug}.json").write_text(json.dumps(data))
    monkeypatch.setattr(catalog, "CATALOG_DIR", folder)
    catalog.builtin_connectors.cache_clear()
    yield catalog.builtin_connectors()
    catalog.builtin_connectors.cache_clear()


def definition(slug="crm", name="Acme CRM", **extra) -> dict:
    data = {
        "slug": slug, "name": name, "description": "Contacts and deals.", "category": "CRM",
        "baseUrl": "https://crm.example.test/api",
        "auth": {"default": "BEARER", "methods": [{"type": "BEARER"}]},
        "actions": [{"name": "listContacts", "method": "GET", "path": "/contacts",
                     "parameters": [{"name": "q", "in": "query", "type": "string"}]}],
    }  # fmt: skip
    data.update(extra)
    return data


def make_connector(space, slug="crm", name="Acme CRM", **extra):
    return connector_create(space, definition=definition(slug, name, **extra), actor=SYSTEM)
