"""Workflows as files, so teams can keep them in git: `<slug>.js` holds the draft code and
`<slug>.json` the configuration. The format:

    {
      "name": "Echo",
      "description": "Answers with its input.",
      "tier": "instant",
      "timeout_seconds": 60,
      "retry": {"enabled": true, "max_attempts": 3, "initial_interval_ms": 5000,
                "backoff_coefficient": 2.0, "max_interval_ms": 60000},
      "status": "enabled"
    }

Only `name` is required; a missing field takes its default (the tier's default timeout)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils.text import slugify

from apps.workflows.models import SLUG_MAX, TIER_LIMITS, Workflow

if TYPE_CHECKING:
    from apps.workflows.services import WorkflowFields

TOP_KEYS = ("name", "description", "tier", "timeout_seconds", "retry", "status")
RETRY_KEYS = (
    "enabled",
    "max_attempts",
    "initial_interval_ms",
    "backoff_coefficient",
    "max_interval_ms",
)
# Model/service field → its name in the file, to name the field in error messages.
FILE_FIELD = {
    "name": "name",
    "slug": "file name",
    "description": "description",
    "tier": "tier",
    "timeout_seconds": "timeout_seconds",
    "retry_enabled": "retry.enabled",
    "retry_max_attempts": "retry.max_attempts",
    "retry_initial_interval_ms": "retry.initial_interval_ms",
    "retry_backoff_coefficient": "retry.backoff_coefficient",
    "retry_max_interval_ms": "retry.max_interval_ms",
    "enabled": "status",
    "code": "code",
}


TESTS = ".tests.json"


class WorkflowFileError(Exception):
    """A file that cannot be imported; the message names the file and the field."""


@dataclass(frozen=True)
class WorkflowFile:
    slug: str
    config: dict[str, Any]
    code: str
    source: str = ""

    def fields(self) -> WorkflowFields:
        """The configuration as service fields, with defaults for what the file leaves out."""
        blank = Workflow()
        defaults = {
            "tier": blank.tier,
            "timeout_seconds": blank.timeout_seconds,
            "retry_enabled": blank.retry_enabled,
            "retry_max_attempts": blank.retry_max_attempts,
            "retry_initial_interval_ms": blank.retry_initial_interval_ms,
            "retry_backoff_coefficient": blank.retry_backoff_coefficient,
            "retry_max_interval_ms": blank.retry_max_interval_ms,
        }
        config, retry = self.config, self.config.get("retry", {})
        tier = config.get("tier", defaults["tier"])
        fields: dict[str, Any] = {
            "name": config["name"],
            "slug": self.slug,
            "description": config.get("description", ""),
            "tier": tier,
            "timeout_seconds": config.get(
                "timeout_seconds",
                TIER_LIMITS[tier][2] if tier in TIER_LIMITS else defaults["timeout_seconds"],
            ),
            "retry_enabled": retry.get("enabled", defaults["retry_enabled"]),
            "retry_max_attempts": retry.get("max_attempts", defaults["retry_max_attempts"]),
            "retry_initial_interval_ms": retry.get(
                "initial_interval_ms", defaults["retry_initial_interval_ms"]
            ),
            "retry_backoff_coefficient": retry.get(
                "backoff_coefficient", defaults["retry_backoff_coefficient"]
            ),
            "retry_max_interval_ms": retry.get(
                "max_interval_ms", defaults["retry_max_interval_ms"]
            ),
            "enabled": config.get("status", "enabled") == "enabled",
            "code": self.code,
        }
        return fields  # type: ignore[return-value]


def export_config(workflow: Workflow) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "description": workflow.description,
        "tier": workflow.tier,
        "timeout_seconds": workflow.timeout_seconds,
        "retry": {
            "enabled": workflow.retry_enabled,
            "max_attempts": workflow.retry_max_attempts,
            "initial_interval_ms": workflow.retry_initial_interval_ms,
            "backoff_coefficient": float(workflow.retry_backoff_coefficient),
            "max_interval_ms": workflow.retry_max_interval_ms,
        },
        "status": "enabled" if workflow.enabled else "disabled",
    }


def config_text(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def write_files(workflow: Workflow, directory: Path) -> tuple[Path, Path]:
    """Write `<slug>.js` and `<slug>.json`; byte-identical output for an unchanged workflow."""
    directory.mkdir(parents=True, exist_ok=True)
    js = directory / f"{workflow.slug}.js"
    meta = directory / f"{workflow.slug}.json"
    js.write_bytes(workflow.draft_code.encode("utf-8"))
    meta.write_bytes(config_text(export_config(workflow)).encode("utf-8"))
    return js, meta


# --- Reading --------------------------------------------------------------------------------


def _check_config(path: Path, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WorkflowFileError(f"{path}: the configuration must be a JSON object.")
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise WorkflowFileError(
            f"{path}: unknown field “{unknown[0]}” (expected {', '.join(TOP_KEYS)})."
        )
    if "name" not in data:
        raise WorkflowFileError(f"{path}: field “name” is required.")
    for key in ("name", "description", "tier"):
        if key in data and not isinstance(data[key], str):
            raise WorkflowFileError(f"{path}: field “{key}” must be a string.")
    if "status" in data and data["status"] not in ("enabled", "disabled"):
        raise WorkflowFileError(f"{path}: field “status” must be “enabled” or “disabled”.")
    retry = data.get("retry", {})
    if not isinstance(retry, dict):
        raise WorkflowFileError(f"{path}: field “retry” must be an object.")
    unknown = sorted(set(retry) - set(RETRY_KEYS))
    if unknown:
        raise WorkflowFileError(
            f"{path}: unknown field “retry.{unknown[0]}” (expected {', '.join(RETRY_KEYS)})."
        )
    if "enabled" in retry and not isinstance(retry["enabled"], bool):
        raise WorkflowFileError(f"{path}: field “retry.enabled” must be true or false.")
    return data


def read_pair(meta: Path) -> WorkflowFile:
    """Read `<slug>.json` and the `<slug>.js` beside it."""
    slug = meta.stem
    if slug != slugify(slug) or "_" in slug or len(slug) > SLUG_MAX:
        raise WorkflowFileError(
            f"{meta}: the file name is the slug; use lowercase letters, digits and hyphens "
            f"(at most {SLUG_MAX})."
        )
    code_path = meta.with_suffix(".js")
    if not code_path.is_file():
        raise WorkflowFileError(f"{meta}: the code file {code_path.name} is missing beside it.")
    try:
        data = json.loads(meta.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise WorkflowFileError(f"{meta}: not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise WorkflowFileError(
            f"{meta}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    try:
        code = code_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise WorkflowFileError(f"{code_path}: not UTF-8 text.") from None
    return WorkflowFile(slug=slug, config=_check_config(meta, data), code=code, source=str(meta))


def collect(paths: list[str]) -> list[WorkflowFile]:
    """Every workflow named by `paths`: directories (each `*.json` in them), `.json` files or
    `.js` files (their `.json` beside them). A slug given twice is refused."""
    metas: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # `<slug>.tests.json` holds the workflow's test cases (apps/testcases/files.py).
            metas.extend(sorted(p for p in path.glob("*.json") if not p.name.endswith(TESTS)))
        elif path.name.endswith(TESTS):
            metas.append(path.with_name(path.name.removesuffix(TESTS) + ".json"))
        elif path.suffix in (".json", ".js"):
            meta = path.with_suffix(".json")
            if not meta.is_file():
                raise WorkflowFileError(f"{path}: no such file ({meta.name} is needed).")
            metas.append(meta)
        elif not path.exists():
            raise WorkflowFileError(f"{path}: no such file or directory.")
        else:
            raise WorkflowFileError(f"{path}: expected a directory, a .json or a .js file.")
    files, seen = [], {}
    for meta in dict.fromkeys(m.resolve() for m in metas):
        item = read_pair(meta)
        if item.slug in seen:
            raise WorkflowFileError(f"{meta}: the slug “{item.slug}” is also in {seen[item.slug]}.")
        seen[item.slug] = meta
        files.append(item)
    if not files:
        raise WorkflowFileError("No workflow files found (expected <slug>.json + <slug>.js).")
    return files
