from __future__ import annotations

import pytest

from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.workflows import services


@pytest.fixture
def actor(cast):
    return Actor.for_user(cast.owner)


@pytest.fixture
def make_workflow(cast, actor):
    def make(name="Echo", space=None, **fields):
        return services.workflow_create(space or cast.space, name=name, actor=actor, **fields)

    return make


@pytest.fixture
def live(cast):
    return environment_by_slug(cast.space, "live")


def edit_and_publish(workflow, actor, code: str):
    services.workflow_update(workflow, expected_revision=None, actor=actor, code=code)
    return services.workflow_publish(workflow, actor=actor)
