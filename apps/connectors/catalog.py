"""The built-in (MANAGED) connectors: one definition file each in `apps/connectors/catalog/`,
read once per process. A file that does not parse is a bug in the repository, so loading
raises (tests/connectors/test_catalog.py loads every file)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from apps.connectors.definition import ConnectorDefinition, parse_definition

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"


@functools.cache
def builtin_connectors() -> dict[str, ConnectorDefinition]:
    """Built-in definitions by slug, in name order."""
    definitions = []
    for path in sorted(CATALOG_DIR.glob("*.json")):
        definition = parse_definition(json.loads(path.read_text()))
        if definition.slug != path.stem:
            raise ValueError(f"{path.name}: the slug must be the file's name ({definition.slug})")
        definitions.append(definition)
    return {d.slug: d for d in sorted(definitions, key=lambda d: d.name.lower())}


def builtin_connector(slug: str) -> ConnectorDefinition | None:
    return builtin_connectors().get(slug)
