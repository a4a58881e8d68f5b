"""Errors whose message is meant for the author of a workflow: precise, and free of internals."""

from __future__ import annotations


class StateError(Exception):
    """A `fastn.state` call was refused (bad key, scope, ttl or value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TenantDbError(Exception):
    """A `fastn.db.query` call was refused or failed; the message is safe to show the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
