"""The app events a trigger can listen to in a Space, by connector.

The generic HTTP connector's "Inbound webhook" needs no connection: the sender posts straight
to the trigger's inbound URL. Every other entry is a connector of the Space's catalog
(apps/connectors: the built-ins and the Space's own connectors at their latest version) that
declares `events`; those need a connection, since the provider sends events for an account.
Forms, files, services and pages read only `app_event_connectors` / `connector_by_key` and the
fields below."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.connectors.connection_selectors import connection_definition, space_connectors
from apps.connectors.definition import ConnectorDefinition
from apps.spaces.models import Space

HTTP_KEY = "http"


@dataclass(frozen=True)
class AppEvent:
    key: str  # the definition's event name ("orders/create"), stored on the trigger
    name: str  # its title ("Order created")
    path: str  # shown beside the name ("orders/create")
    description: str = ""
    payload_schema: dict = field(default_factory=dict, compare=False)
    delivery: str = "WEBHOOK"


@dataclass(frozen=True)
class Connector:
    key: str
    name: str
    # False when events reach the trigger's inbound URL directly, without an account.
    needs_connection: bool
    events: tuple[AppEvent, ...]

    def event(self, key: str) -> AppEvent | None:
        return next((event for event in self.events if event.key == key), None)


HTTP = Connector(
    key=HTTP_KEY,
    name="HTTP",
    needs_connection=False,
    events=(AppEvent("inbound-webhook", "Inbound webhook", "HTTP/Inbound"),),
)


def from_definition(definition: ConnectorDefinition) -> Connector:
    events = tuple(
        AppEvent(
            key=e.name,
            name=e.title or e.name,
            path=e.path or e.name,
            description=e.description,
            payload_schema=e.payload_schema,
        )
        for e in definition.events
    )
    return Connector(definition.slug, definition.name, needs_connection=True, events=events)


def app_event_connectors(space: Space) -> tuple[Connector, ...]:
    """HTTP first, then the Space's connectors that have events, by name."""
    found = [from_definition(c.definition) for c in space_connectors(space) if c.definition.events]
    return (HTTP, *(c for c in found if c.key != HTTP_KEY))


def connector_by_key(space: Space, key: str) -> Connector | None:
    """One connector of `app_event_connectors(space)`, parsing at most its own definition."""
    if key == HTTP_KEY:
        return HTTP
    if not key:
        return None
    definition = connection_definition(space, key)
    if definition is None or not definition.events:
        return None
    return from_definition(definition)


def catalog_lookup(connectors: tuple[Connector, ...], key: str) -> Connector | None:
    return next((c for c in connectors if c.key == key), None)
