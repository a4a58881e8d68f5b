"""Shared by the console's trigger tests (views, services, browser): a master key, a Space
with a published workflow, and triggers made through the services."""

from __future__ import annotations

import pytest

from apps.secrets.crypto import new_master_key_entry
from apps.spaces.audit import Actor
from apps.triggers import services
from apps.triggers.models import Kind
from apps.triggers.services import RouteSpec
from apps.workflows.services import workflow_create, workflow_publish

CODE = "export default async function (ctx) {\n  return { got: ctx.input };\n}\n"
SYSTEM = Actor.system("test")


@pytest.fixture
def master_key(settings) -> str:
    settings.FASTN_MASTER_KEY = new_master_key_entry("triggers")
    return settings.FASTN_MASTER_KEY


def make_workflow(space, name="Echo", slug="echo", *, publish=True):
    workflow = workflow_create(space, actor=SYSTEM, name=name, slug=slug, code=CODE)
    if publish:
        workflow_publish(workflow, actor=SYSTEM)
    return workflow


def route(workflow, *, environment="test", headers=None, filters=None, payload=None):
    return RouteSpec(
        workflow=workflow,
        environment=environment,
        headers=headers or {},
        filters=filters or [],
        payload=payload,
    )


def make_webhook(space, workflow, name="Orders", **fields):
    return services.trigger_create(
        space,
        kind=Kind.WEBHOOK,
        fields={"name": name, **fields},
        routes=[route(workflow)],
        actor=SYSTEM,
    )


def make_scheduler(space, workflow, name="Nightly", schedule=None, **fields):
    schedule = schedule or {"preset": "interval", "every": 5, "unit": "minutes",
                            "timezone": "Europe/Paris"}  # fmt: skip
    return services.trigger_create(
        space,
        kind=Kind.SCHEDULER,
        fields={"name": name, "schedule": schedule, **fields},
        routes=[route(workflow, payload={"report": "daily"})],
        actor=SYSTEM,
    )


def make_app_event(space, workflow, name="Inbound"):
    return services.trigger_create(
        space,
        kind=Kind.APP_EVENT,
        fields={"name": name, "connector": "http", "event_name": "inbound-webhook"},
        routes=[route(workflow)],
        actor=SYSTEM,
    )


def make_connection(space, name="Acme shop", *, slug="shopify", customer=None, status="active"):
    """A connection of a built-in connector with events (Shopify by default: OAuth 2.0 with a
    stored token, its shop as the connection field). Needs `master_key` (the credential is
    sealed)."""
    from apps.connectors.services.connections import create_connection

    config = {"shop": "acme"} if slug == "shopify" else None
    return create_connection(
        space, connector_slug=slug, name=name, auth_method="OAUTH_2",
        credential={"accessToken": "tok-not-shown", "tokenType": "Bearer"}, config=config,
        customer=customer, status=status, actor=SYSTEM,
    )  # fmt: skip


def make_shopify_event(space, workflow, connection, name="Orders created", **fields):
    return services.trigger_create(
        space,
        kind=Kind.APP_EVENT,
        fields={"name": name, "connector": "shopify", "connection": connection,
                "event_name": "orders/create", **fields},
        routes=[route(workflow)],
        actor=SYSTEM,
    )  # fmt: skip
