"""Reads of Integrations → Connectors: the cards (built-ins and the Space's own, with their
connection counts), one connector's page, and the access helpers that 404 another Space's
connector exactly like a missing one."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count
from django.http import Http404

from apps.connectors.catalog import builtin_connector, builtin_connectors
from apps.connectors.definition import ConnectorDefinition, parse_definition
from apps.connectors.models import Connection, Connector, ConnectorVersion

MANAGED, PERSONAL = "managed", "personal"


@dataclass(frozen=True)
class ConnectorCard:
    slug: str
    name: str
    description: str
    category: str
    managed: bool
    actions: int
    events: int
    connections: int
    version_label: str  # "1.0" (a built-in's) or "v3" (the latest of a Space's own)
    live_label: str = ""  # "v2" when a Space's connector has a live version
    visibility: str = ""
    icon_url: str = ""
    auth_types: tuple[str, ...] = field(default_factory=tuple)

    @property
    def initial(self) -> str:
        return (self.name[:1] or "?").upper()


def connection_counts(space) -> dict[str, int]:
    rows = (
        Connection.objects.filter(space=space)
        .values("connector_slug")
        .annotate(n=Count("id"))
        .values_list("connector_slug", "n")
    )
    return dict(rows)


def _builtin_card(definition: ConnectorDefinition, counts: dict[str, int]) -> ConnectorCard:
    return ConnectorCard(
        slug=definition.slug, name=definition.name, description=definition.description,
        category=definition.category, managed=True, actions=len(definition.actions),
        events=len(definition.events), connections=counts.get(definition.slug, 0),
        version_label=definition.version, icon_url=definition.icon_url,
        auth_types=tuple(a.type for a in definition.auth_methods),
    )  # fmt: skip


def _own_card(connector: Connector, counts: dict[str, int]) -> ConnectorCard:
    latest, live = connector.latest_version, connector.live_version
    return ConnectorCard(
        slug=connector.slug, name=connector.name, description=connector.description,
        category=connector.category, managed=False,
        actions=latest.action_count if latest else 0,
        events=latest.event_count if latest else 0,
        connections=counts.get(connector.slug, 0),
        version_label=f"v{latest.number}" if latest else "",
        live_label=f"v{live.number}" if live else "", visibility=connector.visibility,
        icon_url=connector.icon_url,
    )  # fmt: skip


def connector_cards(space, *, q: str = "", category: str = "", kind: str = "") -> dict:
    """{"cards": the matching cards (built-ins first, then the Space's own, each by name),
    "counts": {"all", "managed", "personal"} of the cards matching q and category,
    "categories": every category of the unfiltered list}."""
    counts = connection_counts(space)
    own = (
        Connector.objects.filter(space=space)
        .select_related("latest_version", "live_version")
        .defer("latest_version__definition", "live_version__definition",
               "latest_version__import_report", "live_version__import_report")
        .order_by("name")
    )  # fmt: skip
    cards = [_builtin_card(d, counts) for d in builtin_connectors().values()]
    cards += [_own_card(c, counts) for c in own]
    categories = sorted({c.category for c in cards if c.category}, key=str.lower)
    needle = q.strip().lower()
    matching = [
        c
        for c in cards
        if (not needle or needle in f"{c.name}\n{c.slug}\n{c.description}".lower())
        and (not category or c.category == category)
    ]
    tally = {
        "all": len(matching),
        MANAGED: sum(c.managed for c in matching),
        PERSONAL: sum(not c.managed for c in matching),
    }
    if kind == MANAGED:
        matching = [c for c in matching if c.managed]
    elif kind == PERSONAL:
        matching = [c for c in matching if not c.managed]
    return {"cards": matching, "counts": tally, "categories": categories}


@dataclass
class ConnectorPage:
    """What a connector's page shows: its definition at the shown version and, for the
    Space's own, the connector row and its versions."""

    definition: ConnectorDefinition
    managed: bool
    connector: Connector | None = None
    version: ConnectorVersion | None = None  # the one shown (the latest unless asked)

    @property
    def slug(self) -> str:
        return self.definition.slug


def get_connector_for_member(request, slug: str) -> Connector:
    """The current Space's own connector `slug`, else 404 (another Space's is a 404 too)."""
    connector = (
        Connector.objects.select_related("latest_version", "live_version")
        .filter(space=request.space, slug=slug)
        .first()
    )
    if connector is None:
        raise Http404("No such connector.")
    return connector


def get_connector_page(request, slug: str, *, number: int | None = None) -> ConnectorPage:
    """A built-in, or the Space's own connector at version `number` (default: latest)."""
    builtin = builtin_connector(slug)
    if builtin is not None:
        return ConnectorPage(definition=builtin, managed=True)
    connector = get_connector_for_member(request, slug)
    version = connector.latest_version
    if number is not None:
        version = connector.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    return ConnectorPage(
        definition=parse_definition(version.definition),
        managed=False,
        connector=connector,
        version=version,
    )


def get_version_for_member(connector: Connector, number: int) -> ConnectorVersion:
    version = connector.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version


def connector_versions(connector: Connector) -> list[ConnectorVersion]:
    return list(
        connector.versions.defer("definition", "import_report")
        .select_related("created_by")
        .order_by("-number")[:50]
    )


def connector_connections(space, slug: str) -> list[Connection]:
    """The Space's connections and its customers' for one connector (credentials deferred:
    this page never needs them)."""
    return list(
        Connection.objects.filter(space=space, connector_slug=slug)
        .select_related("customer")
        .defer("ciphertext", "nonce")
        .order_by("customer__name", "name")
    )
