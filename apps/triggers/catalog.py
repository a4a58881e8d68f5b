"""The app events a trigger can listen to, by connector.

A stand-in until the connectors issue lands its catalog: only the generic HTTP connector, whose
"Inbound webhook" event needs no connection (the sender posts to the trigger's inbound URL).
The connectors work replaces `CONNECTORS` with the real catalog; forms and services only use
`connector_by_key` and the fields below."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppEvent:
    key: str
    name: str
    path: str  # the reference shows it beside the name ("Sale/Created")
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
    key="http",
    name="HTTP",
    needs_connection=False,
    events=(AppEvent("inbound-webhook", "Inbound webhook", "HTTP/Inbound"),),
)

CONNECTORS: tuple[Connector, ...] = (HTTP,)


def connector_by_key(key: str) -> Connector | None:
    return next((c for c in CONNECTORS if c.key == key), None)
