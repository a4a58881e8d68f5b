"""Fixtures for the runtime's leaf tests: an honest in-memory Host and pool hygiene.

These tests need no database and no Django settings; they run with or without
`-p no:django`.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.runtime import HostError, shutdown_pool
from tests.runtime.cases import HostError_, HostSetup

SCOPES = ("ORG", "INVOCATION")


class InMemoryHost:
    """A Host backed by dictionaries, behaving like the real one where it matters.

    - state: per scope, with expiry for `ttl`; INVOCATION entries live until
      `end_invocation()` (the real host clears them when the run ends);
    - secrets: name -> (type, raw value); unknown names raise SECRET_NOT_FOUND;
    - env config: a plain dict; db: answers configured per SQL text, else no rows;
    - connectors: "slug.action" -> a JSON answer, a HostError to raise, or a callable.
    Every call is appended to `calls` so tests can check what reached the host.
    """

    def __init__(
        self,
        *,
        secrets: dict[str, tuple[str, str]] | None = None,
        config: dict[str, str] | None = None,
        state: dict[tuple[str, str], Any] | None = None,
        db: dict[str, dict[str, Any]] | None = None,
        connectors: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.secrets = dict(secrets or {})
        self.config = dict(config or {})
        self.db = dict(db or {})
        self.connectors = dict(connectors or {})
        self.state: dict[tuple[str, str], tuple[Any, float | None]] = {}
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.lock = threading.Lock()
        for (scope, key), value in (state or {}).items():
            self.state[(scope, key)] = (copy.deepcopy(value), None)

    def _check_scope(self, scope: str) -> None:
        if scope not in SCOPES:
            raise HostError("INVALID_SCOPE", f"unknown scope {scope!r}")

    def state_get(self, key: str, *, scope: str) -> Any:
        self.calls.append(("state_get", (key,), {"scope": scope}))
        self._check_scope(scope)
        entry = self.state.get((scope, key))
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and self.clock() >= expires_at:
            del self.state[(scope, key)]
            return None
        return copy.deepcopy(value)

    def state_set(self, key: str, value: Any, *, scope: str, ttl: int | None) -> None:
        self.calls.append(("state_set", (key, value), {"scope": scope, "ttl": ttl}))
        self._check_scope(scope)
        expires_at = self.clock() + ttl if ttl else None
        self.state[(scope, key)] = (copy.deepcopy(value), expires_at)

    def state_delete(self, key: str, *, scope: str) -> None:
        self.calls.append(("state_delete", (key,), {"scope": scope}))
        self._check_scope(scope)
        self.state.pop((scope, key), None)

    # The conditional writes hold a lock for their read-modify-write, like the real host's
    # row lock, so the in-memory host is atomic under concurrent runs too.
    def _live(self, scope: str, key: str) -> tuple[bool, Any, float | None]:
        entry = self.state.get((scope, key))
        if entry is None:
            return False, None, None
        value, expires_at = entry
        if expires_at is not None and self.clock() >= expires_at:
            return False, None, None
        return True, value, expires_at

    def state_incr(self, key: str, by: int | float, *, scope: str, ttl: int | None) -> int | float:
        self.calls.append(("state_incr", (key, by), {"scope": scope, "ttl": ttl}))
        self._check_scope(scope)
        with self.lock:
            present, current, expires_at = self._live(scope, key)
            if not present:
                current, expires_at = 0, self.clock() + ttl if ttl else None
            elif isinstance(current, bool) or not isinstance(current, int | float):
                raise HostError("STATE_NOT_A_NUMBER", f"State key {key!r} is not a number")
            self.state[(scope, key)] = (current + by, expires_at)
            return current + by

    def state_set_if_absent(self, key: str, value: Any, *, scope: str, ttl: int | None) -> bool:
        self.calls.append(("state_set_if_absent", (key, value), {"scope": scope, "ttl": ttl}))
        self._check_scope(scope)
        with self.lock:
            if self._live(scope, key)[0]:
                return False
            self.state[(scope, key)] = (copy.deepcopy(value), self.clock() + ttl if ttl else None)
            return True

    def state_compare_and_set(
        self, key: str, expected: Any, value: Any, *, scope: str, ttl: int | None
    ) -> bool:
        self.calls.append(
            ("state_compare_and_set", (key, expected, value), {"scope": scope, "ttl": ttl})
        )
        self._check_scope(scope)
        with self.lock:
            present, current, _ = self._live(scope, key)
            if not _same_json(current if present else None, expected):
                return False
            self.state[(scope, key)] = (copy.deepcopy(value), self.clock() + ttl if ttl else None)
            return True

    def end_invocation(self) -> None:
        for scope, key in list(self.state):
            if scope == "INVOCATION":
                del self.state[(scope, key)]

    def secret_get(self, name: str) -> tuple[str, str]:
        self.calls.append(("secret_get", (name,), {}))
        if name not in self.secrets:
            raise HostError("SECRET_NOT_FOUND", f"Secret {name} does not exist")
        return self.secrets[name]

    def env_config_get(self, key: str) -> str | None:
        self.calls.append(("env_config_get", (key,), {}))
        return self.config.get(key)

    def db_query(self, sql: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(("db_query", (sql, params), {}))
        answer = self.db.get(sql)
        if answer is None:
            return {"rows": [], "rowCount": 0}
        if isinstance(answer, HostError):
            raise answer
        return copy.deepcopy(answer)

    def connector_call(self, connector: str, action: str, params: Any) -> Any:
        self.calls.append(("connector_call", (connector, action, params), {}))
        answer = self.connectors.get(f"{connector}.{action}")
        if answer is None:
            raise HostError("CONNECTOR_NOT_FOUND", f"No connection for connector {connector}")
        if isinstance(answer, HostError):
            raise answer
        if callable(answer):
            return answer(params)
        return copy.deepcopy(answer)


def _same_json(a: Any, b: Any) -> bool:
    """JSON equality: key order does not matter, 1 equals 1.0, true is not 1."""
    return json.dumps(_doubles(a), sort_keys=True) == json.dumps(_doubles(b), sort_keys=True)


def _doubles(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_doubles(item) for item in value]
    return {key: _doubles(item) for key, item in value.items()}


def host_from_setup(setup: HostSetup) -> InMemoryHost:
    """An InMemoryHost holding a conformance case's data."""

    def answer(value: Any) -> Any:
        if isinstance(value, HostError_):
            return HostError(value.code, value.message, permanent=value.permanent)
        return value

    return InMemoryHost(
        secrets=setup.secrets,
        config=setup.config,
        state=setup.state,
        db={sql: answer(value) for sql, value in setup.db.items()},
        connectors={name: answer(value) for name, value in setup.connectors.items()},
    )


def sandbox_pids() -> set[int]:
    """Live (non-zombie) sandbox processes started by this process."""
    import psutil

    found = set()
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "sandbox.py" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def _sandboxes_end_with_the_session() -> Iterator[None]:
    yield
    shutdown_pool()
    import psutil

    me = psutil.Process(os.getpid())
    deadline = time.monotonic() + 5
    left: list[Any] = []
    while time.monotonic() < deadline:
        left = [child for child in me.children(recursive=True) if _is_sandbox_or_zombie(child)]
        if not left:
            break
        time.sleep(0.05)
    assert not left, f"sandbox processes left behind: {left}"


def _is_sandbox_or_zombie(process: Any) -> bool:
    import psutil

    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        return "sandbox.py" in " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
