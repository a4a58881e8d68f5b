"""The default cache: Redis, failing open.

The cache's one user is allauth's login rate limiter. If Redis is down, a cache that raises turns
the login page into a 500; one that misses lets people log in, unthrottled until Redis is back.
We prefer the latter: the password check still runs, and an outage of the cache is not a reason to
lock every operator out of the console. So connection errors become misses:

- reads answer the default (`get`, `get_many`, `has_key`), `incr` answers "no such key";
- writes are dropped; `add` answers True, as if stored, because the rate limiter takes a lock
  with `add` and would otherwise wait for it and refuse the login;
- the first failure logs one warning; for `RETRY_AFTER_SECONDS` after a failure the cache does
  not try Redis at all (a login makes a dozen cache calls, each would wait for the connect
  timeout), then the next call tries again. Recovery is logged once too.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


class _Outage:
    """Whether one Redis location is known to be down; shared by every thread's cache object."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.down = False
        self.lock = threading.Lock()

    def skip(self) -> bool:
        return self.down and time.monotonic() < self.down_until

    def failed(self, location: str, exc: Exception) -> None:
        with self.lock:
            first = not self.down
            self.down = True
            self.down_until = time.monotonic() + RETRY_AFTER_SECONDS
        if first:
            logger.warning(
                "Cache (Redis at %s) unavailable, serving without it (login rate limits are "
                "not enforced until it is back): %s",
                location,
                exc,
            )

    def succeeded(self, location: str) -> None:
        if self.down:
            with self.lock:
                was_down, self.down = self.down, False
            if was_down:
                logger.info("Cache (Redis at %s) reachable again", location)


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(location: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(location, _Outage())


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._location = ",".join(self._servers)
        self._outage = _outage_for(self._location)

    def _call(self, fallback: Any, method, *args, **kwargs) -> Any:
        if self._outage.skip():
            return fallback
        try:
            result = method(*args, **kwargs)
        except UNAVAILABLE as exc:
            self._outage.failed(self._location, exc)
            return fallback
        self._outage.succeeded(self._location)
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(True, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call(default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._call(False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._call({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call(False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        missing = object()
        result = self._call(missing, super().incr, key, delta, version)
        if result is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # The contract: the keys that could not be stored.
        return self._call(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call(None, super().delete_many, keys, version)

    def clear(self):
        return self._call(False, super().clear)
