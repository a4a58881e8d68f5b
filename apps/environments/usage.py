"""What the Environments page shows of the workflows in each environment.

Deployments belong to the workflows app, which sits above this one (a Deployment points at an
Environment). So that this app imports nothing of it, workflows registers the reader at
start-up (`WorkflowsConfig.ready`); without one, every environment shows nothing deployed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.spaces.models import Space


@dataclass(frozen=True)
class EnvironmentUsage:
    # Environment id → the deployments serving it (each with `workflow`, `version` and
    # `deployed_at`), by workflow name.
    deployed: dict[Any, list] = field(default_factory=dict)
    # Workflows with a published version: what `test` serves.
    published_count: int = 0


UsageReader = Callable[[Space], EnvironmentUsage]

_reader: UsageReader | None = None


def register_usage_reader(reader: UsageReader) -> None:
    global _reader
    _reader = reader


def environment_usage(space: Space) -> EnvironmentUsage:
    return _reader(space) if _reader is not None else EnvironmentUsage()
