"""The console's login with Redis down: the cache (allauth's rate limiter) fails open with one
warning, so the login page answers 200/302, never a 500. Uses its own Redis server, started on a
free loopback port and stopped here; the suite's shared Redis is never touched."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.test import Client

from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        self.client = client

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path, settings) -> Iterator[RedisServer]:
    """The default cache on a Redis of this test's own, with the production login limits."""
    server = RedisServer(tmp_path)
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    settings.ACCOUNT_RATE_LIMITS = settings.FASTN_LOGIN_RATE_LIMITS
    try:
        yield server
    finally:
        server.stop()


def post_login(client, password: str):
    started = time.monotonic()
    response = client.post(LOGIN, {"login": "owner@example.com", "password": password})
    return response, time.monotonic() - started


def test_login_works_with_redis_down_and_warns_once(own_redis, cast, caplog):
    client = Client(raise_request_exception=False)
    # Redis up: the limiter keeps its counts there.
    response, _ = post_login(client, "not-the-password")
    assert response.status_code == 200
    assert any(b"allauth" in key for key in own_redis.client.keys("*"))

    own_redis.stop()
    caplog.set_level(logging.WARNING, logger="fastn_console.cache")

    assert client.get(LOGIN).status_code == 200
    response, elapsed = post_login(client, "not-the-password")
    assert response.status_code == 200
    assert b"password you specified are not correct" in response.content
    assert elapsed < 5
    response, elapsed = post_login(client, PASSWORD)
    assert response.status_code == 302
    assert elapsed < 5
    # The pages after the login don't need Redis either.
    assert client.get(response["Location"], follow=True).status_code == 200

    warnings = [r for r in caplog.records if r.name == "fastn_console.cache"]
    assert len(warnings) == 1
    assert "unavailable" in warnings[0].getMessage()
    assert warnings[0].exc_info is None  # one line, no traceback


def test_the_cache_is_used_again_once_redis_is_back(own_redis, tmp_path, monkeypatch, caplog):
    from django.core.cache import cache

    from fastn_console import cache as failopen

    monkeypatch.setattr(failopen, "RETRY_AFTER_SECONDS", 0.2)
    caplog.set_level(logging.INFO, logger="fastn_console.cache")
    cache.set("k", "v")
    own_redis.stop()
    assert cache.get("k", "missing") == "missing"
    assert cache.add("lock", 1) is True  # as if stored: a lock taker must not wait for Redis
    assert cache.get_many(["k"]) == {}

    revived = RedisServer(tmp_path, port=own_redis.port)
    try:
        time.sleep(0.3)
        cache.set("k", "again")
        assert cache.get("k") == "again"
        assert revived.client.exists(cache.make_key("k")) == 1
    finally:
        revived.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "fastn_console.cache"]
    assert len(messages) == 2
    assert "unavailable" in messages[0]
    assert "reachable again" in messages[1]
