"""A Space's own connector built from a definition, for tests that need actions and auth
methods without depending on the built-in catalog's files."""

from __future__ import annotations

from typing import Any

from apps.connectors.definition import parse_definition
from apps.connectors.models import Connector, ConnectorVersion


def definition(slug: str = "acme", base_url: str = "http://127.0.0.1:1", **extra: Any) -> dict:
    data: dict[str, Any] = {
        "slug": slug,
        "name": extra.pop("name", slug.title()),
        "baseUrl": base_url,
        "auth": extra.pop(
            "auth",
            {
                "default": "BEARER",
                "methods": [
                    {"type": "NO_AUTH"},
                    {"type": "BASIC"},
                    {"type": "DIGEST"},
                    {"type": "BEARER"},
                    {"type": "API_KEY", "in": "header", "name": "X-API-Key"},
                    {
                        "type": "INPUT",
                        "fields": [{"name": "token", "label": "Token", "secret": True}],
                        "headers": {"X-Token": "{{credential.token}}"},
                    },
                ],
            },
        ),
        "actions": extra.pop(
            "actions",
            [
                {
                    "name": "getThing",
                    "method": "GET",
                    "path": "/things/{id}",
                    "parameters": [{"name": "id", "in": "path", "type": "string"}],
                }
            ],
        ),
    }
    data.update(extra)
    parse_definition(data)  # a broken test definition should fail here, loudly
    return data


def make_connector(space, data: dict | None = None, *, live: bool = False) -> Connector:
    data = data or definition()
    connector = Connector.objects.create(space=space, slug=data["slug"], name=data["name"])
    version = ConnectorVersion.objects.create(connector=connector, number=1, definition=data)
    connector.latest_version = version
    if live:
        connector.live_version = version
    connector.save()
    return connector


def add_version(connector: Connector, data: dict) -> ConnectorVersion:
    number = connector.versions.count() + 1
    version = ConnectorVersion.objects.create(connector=connector, number=number, definition=data)
    connector.latest_version = version
    connector.save(update_fields=["latest_version"])
    return version
