"""The host of a MOCK test case: connector actions and HTTP requests are answered from the
case's mocks and never leave the process; a call without a mock fails (and fails the case,
even when the code catches the error). `fastn.state` lives in memory for the one run (it
starts empty and is thrown away); secrets, configs and `fastn.db` behave as in a Test-tab
run of the draft (read through the real host, which the caller passes in).

Mock targets: "<slug>.<action>" as written in the code (`shopify.getOrders`), or an HTTP
pattern "[METHOD ]URL" where `*` matches any run of characters (`GET https://api.x.io/v1/*`,
or a URL alone for any method). The response is what the call answers; for HTTP a value
with "status" or "body" is the response itself ({status, headers, body}; status defaults to
200, headers to {}), anything else becomes the body of a 200. A response
`{"$error": {"code": "…", "message": "…", "retryable": false}}` makes the call fail instead."""

from __future__ import annotations

import copy
import fnmatch
import json
import time
from dataclasses import dataclass
from typing import Any

from apps.runtime import HostError

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MockError(ValueError):
    """Mocks that cannot be used (a bad target)."""


@dataclass(frozen=True)
class Mock:
    call: str
    response: Any

    @property
    def is_http(self) -> bool:
        head = self.call.split(" ", 1)[0]
        return head.upper() in HTTP_METHODS or "://" in self.call or self.call.startswith("*")

    def matches_http(self, method: str, url: str) -> bool:
        parts = self.call.split(" ", 1)
        if len(parts) == 2 and parts[0].upper() in HTTP_METHODS:
            wanted_method, pattern = parts[0].upper(), parts[1].strip()
        else:
            wanted_method, pattern = None, self.call.strip()
        if wanted_method and wanted_method != method:
            return False
        return fnmatch.fnmatchcase(url, pattern)


def validate_mocks(mocks: Any) -> list[dict]:
    """The mocks as [{"call", "response"}], checked; MockError naming the bad one."""
    if mocks in (None, ""):
        return []
    if not isinstance(mocks, list):
        raise MockError('mocks must be a list of {"call": …, "response": …}')
    cleaned, seen = [], set()
    for number, item in enumerate(mocks, 1):
        if not isinstance(item, dict) or not isinstance(item.get("call"), str):
            raise MockError(f'mock {number} must be an object {{"call": "…", "response": …}}')
        unknown = sorted(set(item) - {"call", "response"})
        if unknown:
            raise MockError(f"mock {number}: unknown field “{unknown[0]}”")
        call = item["call"].strip()
        mock = Mock(call, item.get("response"))
        if not call:
            raise MockError(f"mock {number}: the call is empty")
        if not mock.is_http and not _is_action(call):
            raise MockError(
                f"mock {number}: “{call}” is neither <slug>.<action> nor an HTTP pattern "
                "([METHOD ]https://…)"
            )
        if call in seen:
            raise MockError(f"mock {number}: “{call}” is mocked twice")
        seen.add(call)
        cleaned.append({"call": call, "response": item.get("response")})
    return cleaned


def _is_action(call: str) -> bool:
    parts = call.split(".")
    return len(parts) == 2 and all(
        p and p.replace("_", "a").replace("$", "a").isalnum() for p in parts
    )


def _url_of(params: Any) -> tuple[str, str]:
    params = params if isinstance(params, dict) else {}
    method = str(params.get("method") or "GET").upper()
    url = str(params.get("url") or "")
    return method, url


def _answer(response: Any, *, http: bool) -> Any:
    if isinstance(response, dict) and "$error" in response:
        error = response["$error"] if isinstance(response["$error"], dict) else {}
        raise HostError(
            str(error.get("code") or "MOCKED_ERROR"),
            str(error.get("message") or "Mocked failure"),
            permanent=not error.get("retryable", False),
        )
    response = copy.deepcopy(response)
    if not http:
        return response
    if isinstance(response, dict) and ("status" in response or "body" in response):
        return {"status": 200, "headers": {}, **response}
    return {"status": 200, "headers": {}, "body": response}


class MemoryState:
    """`fastn.state` for one MOCK run: the same operations, in a dict, with TTLs."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[Any, float | None]] = {}

    def _get(self, key: str, scope: str) -> Any:
        item = self.values.get((scope.upper(), key))
        if item is None or (item[1] is not None and item[1] <= time.monotonic()):
            self.values.pop((scope.upper(), key), None)
            return None
        return copy.deepcopy(item[0])

    def _put(self, key: str, value: Any, scope: str, ttl: int | None) -> None:
        expires = time.monotonic() + ttl if ttl else None
        self.values[(scope.upper(), key)] = (copy.deepcopy(value), expires)

    def state_get(self, key, *, scope):
        return self._get(key, scope)

    def state_set(self, key, value, *, scope, ttl):
        self._put(key, value, scope, ttl)

    def state_delete(self, key, *, scope):
        self.values.pop((scope.upper(), key), None)

    def state_incr(self, key, by, *, scope, ttl):
        current = self._get(key, scope)
        if current is None:
            current = 0
        elif isinstance(current, bool) or not isinstance(current, int | float):
            raise HostError("STATE_NOT_A_NUMBER", f"State key {key} does not hold a number")
        self._put(key, current + by, scope, ttl)
        return current + by

    def state_set_if_absent(self, key, value, *, scope, ttl):
        if self._get(key, scope) is not None:
            return False
        self._put(key, value, scope, ttl)
        return True

    def state_compare_and_set(self, key, expected, value, *, scope, ttl):
        current = self._get(key, scope)
        if json.dumps(current, sort_keys=True) != json.dumps(expected, sort_keys=True):
            return False
        self._put(key, value, scope, ttl)
        return True


class MockHost(MemoryState):
    """Mocks for connector and HTTP calls, memory for state, `real` for the rest."""

    def __init__(self, mocks: list[dict], real: Any) -> None:
        super().__init__()
        self.mocks = [Mock(m["call"], m.get("response")) for m in mocks]
        self.real = real
        self.unmocked: list[str] = []
        self.answered: list[str] = []

    def __enter__(self) -> MockHost:
        self.real.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self.real.__exit__(*exc_info)

    def connector_call(self, connector: str, action: str, params: Any) -> Any:
        if connector == "http" and action == "request":
            method, url = _url_of(params)
            for mock in self.mocks:
                if mock.is_http and mock.matches_http(method, url):
                    self.answered.append(mock.call)
                    return _answer(mock.response, http=True)
            return self._unmocked(f"fastn.connector.http.request {method} {url}")
        target = f"{connector}.{action}"
        for mock in self.mocks:
            if not mock.is_http and mock.call == target:
                self.answered.append(mock.call)
                return _answer(mock.response, http=False)
        return self._unmocked(f"fastn.connector.{target}")

    def _unmocked(self, call: str) -> Any:
        self.unmocked.append(call)
        raise HostError(
            "UNMOCKED_CALL",
            f"No mock for {call}: a MOCK test case never reaches the network. "
            "Add a mock for it, or make the case LIVE.",
        )

    def secret_get(self, name):
        return self.real.secret_get(name)

    def env_config_get(self, key):
        return self.real.env_config_get(key)

    def db_query(self, sql, params):
        return self.real.db_query(sql, params)

    def attach_redactor(self, redactor) -> None:
        attach = getattr(self.real, "attach_redactor", None)
        if callable(attach):
            attach(redactor)
