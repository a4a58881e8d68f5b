"""Reads: which connectors a Space sees, and which definition a run calls."""

from __future__ import annotations

from dataclasses import dataclass

from apps.connectors.catalog import builtin_connector, builtin_connectors
from apps.connectors.definition import ConnectorDefinition, code_name, parse_definition
from apps.connectors.models import Connector, ConnectorVersion
from apps.spaces.models import Space

LIVE = "live"


@dataclass(frozen=True)
class ResolvedConnector:
    definition: ConnectorDefinition
    managed: bool  # a built-in (MANAGED) rather than the Space's own (PERSONAL)
    version_label: str  # "1.0" for a built-in, "v3" for a Space's version
    connector: Connector | None = None


def version_definition(version: ConnectorVersion) -> ConnectorDefinition:
    return parse_definition(version.definition)


def resolve_connector(space: Space, slug: str, *, environment: str) -> ResolvedConnector | None:
    """The definition a run in `environment` calls: a built-in's file, or the Space's own
    connector at its live version for `live` (its latest until it is first published) and at
    its latest version everywhere else (DRAFT, test, named environments). `slug` may be the
    connector's slug or its camelCase code name (`hubspotCrm`)."""
    builtin = builtin_connector(slug) or next(
        (d for d in builtin_connectors().values() if d.code_name == slug), None
    )
    if builtin is not None:
        return ResolvedConnector(builtin, managed=True, version_label=builtin.version)
    connector = (
        Connector.objects.select_related("latest_version", "live_version")
        .filter(space=space, slug__in={slug, _slug_from_code_name(slug)})
        .first()
    )
    if connector is None:
        return None
    version = connector.latest_version
    if environment == LIVE and connector.live_version is not None:
        version = connector.live_version
    if version is None:
        return None
    return ResolvedConnector(
        version_definition(version),
        managed=False,
        version_label=f"v{version.number}",
        connector=connector,
    )


def _slug_from_code_name(name: str) -> str:
    out = []
    for char in name:
        if char.isupper():
            out.append("-" + char.lower())
        else:
            out.append(char)
    return "".join(out)


def space_connector_names(space: Space) -> list[tuple[str, str]]:
    """(slug, code name) of every connector the Space can call: built-ins, then its own."""
    names = [(d.slug, d.code_name) for d in builtin_connectors().values()]
    own = Connector.objects.filter(space=space).values_list("slug", flat=True)
    return names + [(slug, code_name(slug)) for slug in own]
