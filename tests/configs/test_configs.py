"""Settings → Configs: per-environment values, readable by everyone, changed by Owner/Admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.configs.models import ConfigKey, ConfigValue
from apps.configs.services import config_create, config_delete, config_get, config_update
from apps.environments.models import Environment
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from tests.conftest import login

ACTOR = Actor.system("test")


def make_config(space, key="api.base-url", **values):
    return config_create(space, key=key, description="Where to call", values=values, actor=ACTOR)


def test_values_per_environment_and_blank_means_unset(cast):
    make_config(cast.space, test="https://sandbox.example.com", live="https://example.com")
    make_config(cast.space, key="FEATURE_X", test="on", live="  ")
    assert config_get(cast.space, environment_slug="test", key="api.base-url") == (
        "https://sandbox.example.com"
    )
    assert config_get(cast.space, environment_slug="live", key="api.base-url") == (
        "https://example.com"
    )
    assert config_get(cast.space, environment_slug="live", key="FEATURE_X") is None
    assert config_get(cast.space, environment_slug="staging", key="FEATURE_X") is None
    assert config_get(cast.space, environment_slug="test", key="missing") is None
    assert config_get(cast.other_space, environment_slug="test", key="FEATURE_X") is None


def test_update_sets_changes_and_unsets_and_is_audited(cast):
    config = make_config(cast.space, test="a", live="b")
    config_update(config, description="New", values={"test": "", "live": "c"}, actor=ACTOR)
    assert config_get(cast.space, environment_slug="test", key=config.key) is None
    assert config_get(cast.space, environment_slug="live", key=config.key) == "c"
    assert ConfigValue.objects.filter(config_key=config).count() == 1
    events = AuditEvent.objects.filter(space=cast.space, action__startswith="config.")
    assert list(events.order_by("id").values_list("action", "detail")) == [
        ("config.create", {"set": ["test", "live"]}),
        ("config.update", {"set": ["live"], "unset": ["test"], "description": True}),
    ]
    config_delete(config, actor=ACTOR)
    assert not ConfigKey.objects.exists() and not ConfigValue.objects.exists()
    assert events.filter(action="config.delete").count() == 1


def test_named_environments_get_their_own_values(cast):
    Environment.objects.create(space=cast.space, name="Staging", slug="staging")
    make_config(cast.space, staging="s")
    assert config_get(cast.space, environment_slug="staging", key="api.base-url") == "s"


@pytest.mark.parametrize("key", ["1abc", "has space", "semi;colon", "", "a" * 129, "_x"])
def test_keys_are_validated(cast, key):
    with pytest.raises(ValidationError):
        make_config(cast.space, key=key)


def test_duplicate_keys_and_unknown_environments_are_refused(cast):
    make_config(cast.space, key="K")
    with pytest.raises(ValidationError, match="already exists"):
        make_config(cast.space, key="K")
    with pytest.raises(ValidationError, match="No environment nope"):
        make_config(cast.space, key="OTHER", nope="x")
    make_config(cast.other_space, key="K")


@pytest.mark.parametrize("role", ["owner", "admin", "developer", "operator", "viewer"])
def test_every_member_sees_configs_with_their_values(client, cast, role):
    make_config(cast.space, test="https://sandbox.example.com")
    login(client, cast.member(role))
    response = client.get(reverse("configs", args=[cast.space.slug]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "api.base-url" in content and "https://sandbox.example.com" in content
    assert ("Add config" in content) == (role in ("owner", "admin"))


def mutating_requests(space, config):
    s = space.slug
    return [
        ("get", reverse("config_create", args=[s]), {}),
        ("post", reverse("config_create", args=[s]), {"key": "NEW", "env_test": "x"}),
        ("get", reverse("config_edit", args=[s, config.id]), {}),
        ("post", reverse("config_edit", args=[s, config.id]), {"env_test": "changed"}),
        ("post", reverse("config_delete", args=[s, config.id]), {}),
    ]


def snapshot(space):
    return (
        list(ConfigKey.objects.filter(space=space).values_list("id", "key", "description")),
        list(ConfigValue.objects.filter(config_key__space=space).values_list("id", "value")),
    )


@pytest.mark.parametrize("role", ["developer", "operator", "viewer"])
def test_roles_without_manage_space_get_403_on_changes(client, cast, role):
    config = make_config(cast.space, test="a")
    before = snapshot(cast.space)
    login(client, cast.member(role))
    for method, url, data in mutating_requests(cast.space, config):
        assert getattr(client, method)(url, data).status_code == 403, (role, method, url)
    assert snapshot(cast.space) == before


def test_outsider_gets_404_for_another_spaces_config(client, cast):
    config = make_config(cast.space, test="a")
    before = snapshot(cast.space)
    login(client, cast.outsider)
    for slug in (cast.other_space.slug, cast.space.slug):
        assert client.get(reverse("config_edit", args=[slug, config.id])).status_code == 404
        edit = client.post(reverse("config_edit", args=[slug, config.id]), {"env_test": "x"})
        assert edit.status_code == 404
        assert client.post(reverse("config_delete", args=[slug, config.id])).status_code == 404
    assert snapshot(cast.space) == before


def test_admin_creates_edits_and_deletes_through_the_pages(client, cast):
    login(client, cast.admin)
    s = cast.space.slug
    response = client.post(
        reverse("config_create", args=[s]),
        {"key": "api.url", "description": "Base URL", "env_test": "t", "env_live": ""},
    )
    assert response.status_code == 302
    config = ConfigKey.objects.get(space=cast.space, key="api.url")
    edit_page = client.get(reverse("config_edit", args=[s, config.id])).content.decode()
    assert 'value="t"' in edit_page and 'name="key"' not in edit_page
    response = client.post(
        reverse("config_edit", args=[s, config.id]),
        {"description": "Base URL", "env_test": "t2", "env_live": "l"},
    )
    assert response.status_code == 302
    assert config_get(cast.space, environment_slug="live", key="api.url") == "l"
    assert config_get(cast.space, environment_slug="test", key="api.url") == "t2"
    assert client.post(reverse("config_delete", args=[s, config.id])).status_code == 302
    assert not ConfigKey.objects.filter(space=cast.space).exists()
    actions = AuditEvent.objects.filter(space=cast.space, action__startswith="config.")
    assert sorted(actions.values_list("action", flat=True)) == [
        "config.create",
        "config.delete",
        "config.update",
    ]


def test_an_invalid_key_is_a_field_error(client, cast):
    login(client, cast.owner)
    response = client.post(reverse("config_create", args=[cast.space.slug]), {"key": "9lives"})
    assert response.status_code == 200 and response.context["form"].errors["key"]
    assert not ConfigKey.objects.exists()
