"""Settings → Environments: built-in test and live, named ones, and who may change them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.environments.models import Environment
from apps.environments.selectors import environment_by_slug
from apps.environments.services import environment_create, environment_delete, environment_rename
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.workflows import services as workflow_services
from tests.conftest import login


def env_url(name, space, environment=None):
    kwargs = {"space_slug": space.slug}
    if environment is not None:
        kwargs["environment_id"] = environment.id
    return reverse(name, kwargs=kwargs)


@pytest.fixture
def actor(cast):
    return Actor.for_user(cast.owner)


def test_every_space_lists_builtin_test_and_live(client, cast):
    login(client, cast.viewer)
    response = client.get(env_url("environments", cast.space))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-env="test"' in body and 'data-env="live"' in body
    assert "Protected" in body and "latest published version" in body
    assert "New environment" not in body  # a viewer cannot create


def test_create_a_named_environment(client, cast):
    login(client, cast.admin)
    response = client.post(env_url("environments", cast.space), {"name": "Staging EU", "slug": ""})
    assert response.status_code == 302
    env = Environment.objects.get(space=cast.space, builtin=False)
    assert (env.name, env.slug) == ("Staging EU", "staging-eu")
    assert AuditEvent.objects.get(action="environment.create").resource_id == str(env.id)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "slug": ""}, "Give the environment a name."),
        ({"name": "Live", "slug": "live"}, "reserved"),
        ({"name": "Draft", "slug": "draft"}, "reserved"),
        ({"name": "Bad", "slug": "Bad Slug"}, "lowercase letters"),
        ({"name": "x" * 61, "slug": "x"}, "60 characters"),
    ],
)
def test_bad_environment_input_is_refused(client, cast, data, message):
    login(client, cast.owner)
    response = client.post(env_url("environments", cast.space), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Environment.objects.filter(space=cast.space, builtin=False).exists()


def test_duplicate_slug_is_refused(cast, actor):
    environment_create(cast.space, name="Staging", actor=actor)
    with pytest.raises(ValidationError, match="already exists"):
        environment_create(cast.space, name="Staging", actor=actor)
    assert environment_create(cast.other_space, name="Staging", actor=actor).slug == "staging"


def test_rename_a_named_environment_keeps_its_slug(client, cast, actor):
    env = environment_create(cast.space, name="Staging", actor=actor)
    login(client, cast.owner)
    assert client.get(env_url("environment_edit", cast.space, env)).status_code == 200
    response = client.post(env_url("environment_edit", cast.space, env), {"name": "Pre-prod"})
    assert response.status_code == 302
    env.refresh_from_db()
    assert (env.name, env.slug) == ("Pre-prod", "staging")
    assert AuditEvent.objects.get(action="environment.rename").detail == {
        "from": "Staging",
        "to": "Pre-prod",
    }


def test_builtin_environments_cannot_be_renamed_or_deleted(client, cast, actor):
    live = environment_by_slug(cast.space, "live")
    with pytest.raises(ValidationError):
        environment_rename(live, name="Prod", actor=actor)
    with pytest.raises(ValidationError):
        environment_delete(live, actor=actor)
    login(client, cast.owner)
    client.post(env_url("environment_delete", cast.space, live))
    assert Environment.objects.filter(pk=live.pk).exists()


def test_delete_is_refused_while_workflows_are_deployed(client, cast, actor):
    env = environment_create(cast.space, name="Staging", actor=actor)
    workflow = workflow_services.workflow_create(cast.space, name="Echo", actor=actor)
    version = workflow_services.workflow_publish(workflow, actor=actor)
    workflow_services.workflow_deploy(workflow, version=version, environment=env, actor=actor)
    login(client, cast.owner)
    response = client.post(env_url("environment_delete", cast.space, env), follow=True)
    assert "1 workflow is deployed to staging" in response.content.decode()
    assert Environment.objects.filter(pk=env.pk).exists()
    body = client.get(env_url("environments", cast.space)).content.decode()
    assert "1 workflow deployed" in body and "Echo" in body


def test_delete_an_unused_environment(client, cast, actor):
    env = environment_create(cast.space, name="Staging", actor=actor)
    login(client, cast.owner)
    client.post(env_url("environment_delete", cast.space, env))
    assert not Environment.objects.filter(pk=env.pk).exists()
    assert AuditEvent.objects.get(action="environment.delete").detail == {"slug": "staging"}


@pytest.mark.parametrize("role", ["developer", "operator", "viewer"])
def test_roles_without_manage_space_cannot_change_environments(client, cast, actor, role):
    env = environment_create(cast.space, name="Staging", actor=actor)
    login(client, cast.member(role))
    assert client.post(env_url("environments", cast.space), {"name": "X"}).status_code == 403
    assert (
        client.post(env_url("environment_edit", cast.space, env), {"name": "Y"}).status_code == 403
    )
    assert client.post(env_url("environment_delete", cast.space, env)).status_code == 403
    env.refresh_from_db()
    assert env.name == "Staging"
    assert Environment.objects.filter(space=cast.space).count() == 3


def test_outsiders_get_404(client, cast, actor):
    env = environment_create(cast.space, name="Staging", actor=actor)
    login(client, cast.outsider)
    assert client.get(env_url("environments", cast.space)).status_code == 404
    assert client.post(env_url("environment_delete", cast.space, env)).status_code == 404
    mine = env_url("environment_delete", cast.other_space, env)  # their Space, my env id
    assert client.post(mine).status_code == 404
    assert Environment.objects.filter(pk=env.pk).exists()
