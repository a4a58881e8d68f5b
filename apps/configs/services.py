"""Writes of configs, atomic and audited, and `config_get` for the runtime host.

Config values are not secret (the console shows them), but the audit log still records only
which environments changed, not the values."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.configs.models import KEY_MAX_LENGTH, ConfigKey, ConfigValue, key_validator
from apps.environments.models import Environment
from apps.environments.selectors import space_environments
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Space

MAX_VALUE_CHARS = 16 * 1024


def validate_key(key: str) -> None:
    if not key or len(key) > KEY_MAX_LENGTH:
        raise ValidationError({"key": f"A key has 1 to {KEY_MAX_LENGTH} characters."})
    try:
        key_validator(key)
    except ValidationError as exc:
        raise ValidationError({"key": exc.messages}) from None


def environments_for(space: Space, values: Mapping[str, str]) -> dict[Environment, str]:
    """Map environment slugs to this Space's environments; an unknown slug is an error."""
    by_slug = {env.slug: env for env in space_environments(space)}
    unknown = sorted(set(values) - set(by_slug))
    if unknown:
        raise ValidationError(f"No environment {', '.join(unknown)} in this Space.")
    for slug, value in values.items():
        if len(value) > MAX_VALUE_CHARS:
            raise ValidationError(
                f"The value for {slug} has more than {MAX_VALUE_CHARS} characters."
            )
    return {by_slug[slug]: value for slug, value in values.items()}


def apply_values(config: ConfigKey, values: dict[Environment, str]) -> dict[str, list[str]]:
    """Set, change or unset (blank) each given environment's value; answer what changed."""
    now = timezone.now()
    current = {v.environment_id: v for v in ConfigValue.objects.filter(config_key=config)}
    changes: dict[str, list[str]] = {"set": [], "unset": []}
    for env, value in values.items():
        row = current.get(env.id)
        if value.strip() == "":
            if row is not None:
                row.delete()
                changes["unset"].append(env.slug)
        elif row is None:
            ConfigValue.objects.create(config_key=config, environment=env, value=value)
            changes["set"].append(env.slug)
        elif row.value != value:
            ConfigValue.objects.filter(pk=row.pk).update(value=value, updated_at=now)
            changes["set"].append(env.slug)
    return {k: v for k, v in changes.items() if v}


@transaction.atomic
def config_create(
    space: Space,
    *,
    key: str,
    description: str = "",
    values: Mapping[str, str],
    actor: Actor,
    request=None,
) -> ConfigKey:
    """`values` maps environment slugs to values; blank means unset."""
    validate_key(key)
    env_values = environments_for(space, values)
    duplicate = ValidationError({"key": f"The key {key} already exists in this Space."})
    if ConfigKey.objects.filter(space=space, key=key).exists():
        raise duplicate
    try:
        with transaction.atomic():
            config = ConfigKey.objects.create(space=space, key=key, description=description.strip())
    except IntegrityError:  # created concurrently
        raise duplicate from None
    changes = apply_values(config, env_values)
    audit_record(
        space=space, actor=actor, action="config.create", resource=config, request=request,
        detail=changes,
    )  # fmt: skip
    return config


@transaction.atomic
def config_update(
    config: ConfigKey, *, description: str, values: Mapping[str, str], actor: Actor, request=None
) -> ConfigKey:
    """Environments missing from `values` keep their value; a blank value unsets it."""
    env_values = environments_for(config.space, values)
    changes = apply_values(config, env_values)
    description = description.strip()
    if description != config.description:
        changes["description"] = True
        config.description = description
    config.updated_at = timezone.now()
    config.save(update_fields=["description", "updated_at"])
    audit_record(
        space=config.space, actor=actor, action="config.update", resource=config, request=request,
        detail=changes,
    )  # fmt: skip
    return config


@transaction.atomic
def config_delete(config: ConfigKey, *, actor: Actor, request=None) -> None:
    audit_record(
        space=config.space, actor=actor, action="config.delete", resource=config, request=request
    )
    config.delete()


def config_get(space: Space, *, environment_slug: str, key: str) -> str | None:
    """The value of `key` in the environment, or None when the key or its value is unset.
    For the runtime host (`fastn.envConfig.get`)."""
    return (
        ConfigValue.objects.filter(
            config_key__space=space, config_key__key=key, environment__slug=environment_slug
        )
        .values_list("value", flat=True)
        .first()
    )
