"""The configuration half of the editor's Compare dialog: the settings a version freezes
(`Workflow.config()`) side by side for two versions, or a version and the draft, each row
marked changed or not.

Values are compared as values (2 and 2.0 are the same coefficient) and shown as a person
reads them ("15 min", "Enabled"). A draft's values come from the Configuration panel as typed,
so a half-typed field is shown as it is rather than refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.workflows.models import Tier

EMPTY = "—"


def _seconds(value: Any) -> str:
    seconds = int(value)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"


def _millis(value: Any) -> str:
    ms = int(value)
    return f"{ms:,} ms" if ms < 1000 or ms % 1000 else _seconds(ms // 1000)


def _coefficient(value: Any) -> str:
    return f"{float(value):g}"


def _switch(on: str, off: str) -> Callable[[Any], str]:
    return lambda value: on if value else off


@dataclass(frozen=True)
class Setting:
    key: str  # the flat name: the editor form's field
    label: str
    path: tuple[str, ...]  # where it sits in a version's config
    show: Callable[[Any], str] = str


SETTINGS = (
    Setting("name", "Name", ("name",)),
    Setting("description", "Description", ("description",)),
    Setting("tier", "Tier", ("tier",), lambda v: Tier(v).label if v in Tier.values else str(v)),
    Setting("timeout_seconds", "Timeout", ("timeout_seconds",), _seconds),
    Setting("enabled", "Status", ("enabled",), _switch("Enabled", "Disabled")),
    Setting("retry_enabled", "Retry policy", ("retry", "enabled"), _switch("On", "Off")),
    Setting("retry_max_attempts", "Max attempts", ("retry", "max_attempts")),
    Setting("retry_initial_interval_ms", "Initial interval", ("retry", "initial_interval_ms"),
            _millis),
    Setting("retry_backoff_coefficient", "Backoff coefficient", ("retry", "backoff_coefficient"),
            _coefficient),
    Setting("retry_max_interval_ms", "Max interval", ("retry", "max_interval_ms"), _millis),
)  # fmt: skip
CONFIG_FIELDS = tuple(setting.key for setting in SETTINGS)
SWITCHES = frozenset({"enabled", "retry_enabled"})


@dataclass(frozen=True)
class ConfigRow:
    key: str
    label: str
    old: str
    new: str
    changed: bool


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """A version's nested config as {form field: value}; a key an old version lacks is None."""
    flat = {}
    for setting in SETTINGS:
        value: Any = config
        for part in setting.path:
            value = value.get(part) if isinstance(value, dict) else None
        flat[setting.key] = value
    return flat


def _display(setting: Setting, value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    try:
        return setting.show(value)
    except (TypeError, ValueError):
        return str(value)  # as typed in the panel: "12x" seconds stays "12x"


def _same(setting: Setting, old: Any, new: Any) -> bool:
    if setting.key == "retry_backoff_coefficient":
        try:
            return float(old) == float(new)
        except (TypeError, ValueError):
            pass
    return old == new


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[ConfigRow]:
    """One row per setting, in the Configuration panel's order, from two flat configs."""
    return [
        ConfigRow(
            key=setting.key,
            label=setting.label,
            old=_display(setting, old.get(setting.key)),
            new=_display(setting, new.get(setting.key)),
            changed=not _same(setting, old.get(setting.key), new.get(setting.key)),
        )
        for setting in SETTINGS
    ]
