from __future__ import annotations

import json

import pytest

from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from apps.workflows.models import Deployment, WorkflowVersion
from tests.executions.factories import make_workflow


def publish(workflow):
    """Publish the draft as v1 and deploy it to live."""
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=1, code=workflow.draft_code, config={}
    )
    live = environment_by_slug(workflow.space, "live")
    Deployment.objects.update_or_create(
        workflow=workflow, environment=live, defaults={"version": version}
    )
    return version


@pytest.fixture
def standard_echo(cast):
    """A standard-tier workflow deployed to live: a valid call answers 202 without waiting for
    a worker (outside a transactional test the dispatch, on commit, never happens)."""
    workflow = make_workflow(cast.space, tier="standard", timeout=30)
    publish(workflow)
    return workflow


@pytest.fixture
def api_key(cast) -> str:
    _, raw = apikey_create(cast.space, name="live", mode="live", actor=Actor.system())
    return raw


@pytest.fixture
def api(client, cast, api_key):
    """POST a raw body (bytes or str) or a JSON-able value to /api/v1/{slug} with the key."""

    def call(slug, *, raw=None, body=None, **headers):
        payload = raw if raw is not None else json.dumps(body)
        return client.post(
            f"/api/v1/{slug}",
            payload,
            content_type="application/json",
            headers={"x-fastn-api-key": api_key, "x-fastn-space-id": str(cast.space.id), **headers},
        )

    return call
