from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import get_object_or_404

from apps.configs.models import ConfigKey
from apps.environments.models import Environment
from apps.environments.selectors import space_environments
from apps.spaces.models import Space


@dataclass(frozen=True)
class ConfigRow:
    config: ConfigKey
    # One entry per environment, in the order of the table's columns; None = unset.
    values: list[str | None]


def config_table(space: Space) -> tuple[list[Environment], list[ConfigRow]]:
    environments = list(space_environments(space))
    rows = []
    for config in ConfigKey.objects.filter(space=space).prefetch_related("values"):
        by_env = {v.environment_id: v.value for v in config.values.all()}
        rows.append(ConfigRow(config, [by_env.get(env.id) for env in environments]))
    return environments, rows


def get_config_for_member(request, config_id) -> ConfigKey:
    """A config key of the current Space, or 404."""
    return get_object_or_404(
        ConfigKey.objects.select_related("space"), space=request.space, id=config_id
    )
