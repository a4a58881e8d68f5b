"""Shared pieces of the connector call tests: a definition exercising every parameter
location and auth method, pointed at a FakeService."""

from __future__ import annotations

from apps.connectors.services.connections import create_connection
from apps.spaces.audit import Actor
from tests.connectors.factories import definition, make_connector


def acme_definition(base_url: str, slug: str = "acme", **extra) -> dict:
    return definition(
        slug,
        base_url=base_url,
        name=extra.pop("name", "Acme"),
        auth=extra.pop(
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
                        "type": "OAUTH_2",
                        "grantTypes": ["authorization_code", "client_credentials"],
                        "authorizationUrl": base_url + "/authorize",
                        "tokenUrl": base_url + "/token",
                        "scopes": ["things.read"],
                    },
                    {
                        "type": "INPUT",
                        "fields": [{"name": "token", "label": "Token", "secret": True}],
                        "headers": {"X-Token": "{{credential.token}}"},
                        "query": {"sig": "{{secrets.SIGNING_KEY}}"},
                    },
                ],
            },
        ),
        actions=extra.pop(
            "actions",
            [
                {
                    "name": "getThing",
                    "method": "GET",
                    "path": "/things/{id}",
                    "parameters": [
                        {"name": "id", "in": "path", "type": "string"},
                        {"name": "limit", "in": "query", "type": "integer"},
                        {"name": "verbose", "in": "query", "type": "boolean"},
                        {"name": "tags", "in": "query", "type": "array"},
                        {"name": "X-Trace", "in": "header", "type": "string"},
                        {"name": "order", "in": "query", "enum": ["asc", "desc"]},
                    ],
                },
                {
                    "name": "createThing",
                    "method": "POST",
                    "path": "/echo/things",
                    "parameters": [
                        {"name": "name", "in": "body", "type": "string", "required": True},
                        {"name": "size", "in": "body", "type": "number"},
                    ],
                    "body": {"encoding": "json"},
                },
                {
                    "name": "formThing",
                    "method": "POST",
                    "path": "/echo/form",
                    "body": {"encoding": "form", "required": True},
                },
                {
                    "name": "fail",
                    "method": "GET",
                    "path": "/status/{code}",
                    "parameters": [{"name": "code", "in": "path", "type": "integer"}],
                },
                {"name": "limited", "method": "GET", "path": "/limited"},
            ],
        ),
        test=extra.pop("test", {"action": "getThing", "params": {"id": "ping"}}),
        **extra,
    )


def make_acme(space, service, **extra):
    return make_connector(space, acme_definition(service.base, **extra))


def connect(space, auth_method, credential, *, name="Main", customer=None, config=None,
            slug="acme", actor=None):  # fmt: skip
    return create_connection(
        space,
        connector_slug=slug,
        name=name,
        auth_method=auth_method,
        credential=credential,
        config=config,
        customer=customer,
        actor=actor or Actor.system("test"),
    )
