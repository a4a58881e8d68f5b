from __future__ import annotations

import json

import pytest

from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create
from apps.workflows.models import Deployment, WorkflowVersion


def publish(workflow, number=1):
    """Publish the draft as version `number` and deploy it to live."""
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=number, code=workflow.draft_code, config={}
    )
    live = environment_by_slug(workflow.space, "live")
    Deployment.objects.update_or_create(
        workflow=workflow, environment=live, defaults={"version": version}
    )
    return version


@pytest.fixture
def live_key(cast) -> str:
    return apikey_create(cast.space, name="live", mode="live", actor=Actor.system())[1]


@pytest.fixture
def api(client, cast, live_key):
    """POST /api/v1/{slug} with the live key of the cast's Space."""

    def call(slug, body=None, *, key=live_key, http=client, **headers):
        return http.post(
            f"/api/v1/{slug}",
            json.dumps(body if body is not None else {"input": {}}),
            content_type="application/json",
            headers={"x-fastn-api-key": key, "x-fastn-space-id": str(cast.space.id), **headers},
        )

    return call
