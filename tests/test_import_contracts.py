"""The README's "dependencies point one way" is checked by import-linter (contracts in
pyproject.toml, run by `make test`): the tree keeps them, and a copy of it given one upward
import — at module level, inside a function or under TYPE_CHECKING — breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-logo", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_apps_keep_their_import_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "added", "broken"),
    [
        (
            "apps/spaces/services.py",
            "\n\ndef upward():\n    from apps.workflows.models import Workflow\n\n"
            "    return Workflow\n",
            "apps.spaces is not allowed to import apps.workflows",
        ),
        (
            "apps/workflows/views.py",
            "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
            "    from apps.executions.models import Execution\n",
            "apps.workflows is not allowed to import apps.executions",
        ),
        (
            "apps/environments/selectors.py",
            "\nfrom apps.configs.models import ConfigKey\n",
            "apps.environments is not allowed to import apps.configs",
        ),
        (
            "apps/secrets/services.py",
            "\nfrom apps.configs.models import ConfigKey\n",
            "apps.secrets is not allowed to import apps.configs",
        ),
        (
            "apps/runtime/api.py",
            "\nfrom django.conf import settings\n",
            "apps.runtime is not allowed to import django",
        ),
        (
            "fastn_console/strictjson.py",
            "\nfrom apps.spaces.models import Space\n",
            "fastn_console.strictjson is not allowed to import apps",
        ),
    ],
    ids=["function-local", "type-checking", "downward-layer", "sibling", "runtime-leaf", "helper"],
)
def test_a_forbidden_import_breaks_the_contracts(tmp_path, module, added, broken):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in ("apps", "fastn_console"):
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.html"),
        )
    with (tmp_path / module).open("a") as source:
        source.write(added)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout


def test_no_app_looks_up_another_apps_models_by_name():
    """`apps.get_model("workflows", …)` is an import that import-linter cannot see: an app that
    needs something of an app above it offers a hook instead (see pyproject.toml)."""
    lookups = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "apps").rglob("*.py"))
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "get_model(" in line or "is_installed(" in line
    ]
    assert lookups == []
