"""Reads for Integrations → Connections and Settings → OAuth Apps: which connectors a Space
can connect, its connections (filtered, without their ciphertext), its OAuth apps."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.connectors.catalog import builtin_connectors
from apps.connectors.definition import ConnectorDefinition
from apps.connectors.models import Connection, Connector, OAuthApp
from apps.connectors.selectors import version_definition
from apps.spaces.models import Space

SPACE_SCOPE = "space"  # the customer filter's value for Space-wide connections


@dataclass(frozen=True)
class ConnectorChoice:
    slug: str
    name: str
    definition: ConnectorDefinition
    managed: bool  # built in (MANAGED) rather than the Space's own (PERSONAL)


def space_connectors(space: Space) -> list[ConnectorChoice]:
    """Every connector the Space can connect, by name: the built-ins and its own connectors
    at their latest version (a connector without a version yet has nothing to connect)."""
    choices = [
        ConnectorChoice(d.slug, d.name, d, managed=True) for d in builtin_connectors().values()
    ]
    own = Connector.objects.filter(space=space, latest_version__isnull=False).select_related(
        "latest_version"
    )
    taken = {c.slug for c in choices}
    for connector in own:
        if connector.slug not in taken:
            definition = version_definition(connector.latest_version)
            choices.append(ConnectorChoice(connector.slug, connector.name, definition, False))
    return sorted(choices, key=lambda c: c.name.lower())


def connector_names(space: Space) -> dict[str, str]:
    """Slug → name of every connector the Space sees (no definition parsed)."""
    names = {d.slug: d.name for d in builtin_connectors().values()}
    for slug, name in Connector.objects.filter(space=space).values_list("slug", "name"):
        names.setdefault(slug, name)
    return names


def connection_definition(space: Space, slug: str) -> ConnectorDefinition | None:
    """The definition a connection of `slug` is made with: a built-in's, else the Space's own
    connector's latest version."""
    builtin = builtin_connectors().get(slug)
    if builtin is not None:
        return builtin
    connector = (
        Connector.objects.select_related("latest_version")
        .filter(space=space, slug=slug, latest_version__isnull=False)
        .first()
    )
    return version_definition(connector.latest_version) if connector else None


def space_connections(
    space: Space, *, connector: str = "", customer: str = "", status: str = ""
) -> QuerySet[Connection]:
    """For listing: newest first, the credential left in the database. `customer` is a
    customer's id, SPACE_SCOPE for Space-wide connections, or "" for all."""
    rows = (
        Connection.objects.filter(space=space)
        .select_related("customer")
        .defer("ciphertext", "nonce")
        .order_by("-created_at", "-id")
    )
    if connector:
        rows = rows.filter(connector_slug=connector)
    if customer == SPACE_SCOPE:
        rows = rows.filter(customer__isnull=True)
    elif customer:
        rows = rows.filter(customer_id=customer)
    if status:
        rows = rows.filter(status=status)
    return rows


def used_connector_slugs(space: Space) -> list[str]:
    return list(
        Connection.objects.filter(space=space)
        .order_by("connector_slug")
        .values_list("connector_slug", flat=True)
        .distinct()
    )


def get_connection_for_member(request, connection_id) -> Connection:
    """A connection of the current Space, or 404: another Space's id looks like a missing one."""
    return get_object_or_404(
        Connection.objects.select_related("space", "customer", "data_key", "created_by"),
        space=request.space,
        id=connection_id,
    )


def space_oauth_apps(space: Space) -> dict[str, OAuthApp]:
    return {
        app.connector_slug: app
        for app in OAuthApp.objects.filter(space=space).defer("ciphertext", "nonce")
    }


def get_oauth_app_for_member(request, app_id) -> OAuthApp:
    return get_object_or_404(
        OAuthApp.objects.select_related("space"), space=request.space, id=app_id
    )
