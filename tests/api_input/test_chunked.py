"""A body sent with Transfer-Encoding: chunked (no Content-Length) through the real web server
(gunicorn, as the Procfile runs it) is read, under the same size cap."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.executions.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BODY_CAP = 4096


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def web(django_db_setup):
    """gunicorn on loopback, on the test database, with a 4 KB body cap."""
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "FASTN_MAX_BODY_BYTES": str(BODY_CAP),
    }
    bind = f"127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "fastn_console.wsgi", "--bind", bind,
               "--workers", "1", "--threads", "2", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert process.poll() is None, "gunicorn exited"
            time.sleep(0.1)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def post_chunked(port: int, headers: dict, chunks: list[bytes]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST", "/api/v1/echo", body=iter(chunks), headers=headers, encode_chunked=True
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def headers(cast, api_key) -> dict:
    return {
        "x-fastn-api-key": api_key,
        "x-fastn-space-id": str(cast.space.id),
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }


def test_a_chunked_body_is_read(web, headers, standard_echo):
    status, body = post_chunked(web, headers, [b'{"input": ', b'{"n": 4', b"2}}"])
    assert status == 202, body
    assert Execution.objects.get(id=body["executionId"]).input == {"n": 42}


def test_a_chunked_body_is_parsed_strictly(web, headers, standard_echo):
    status, body = post_chunked(web, headers, [b'{"input": ', b"NaN}"])
    assert status == 400 and "non-standard JSON value NaN" in body["message"]


def test_a_broken_chunked_body_is_400(web, cast, api_key, standard_echo):
    with socket.create_connection(("127.0.0.1", web), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\nx-fastn-api-key: " + api_key.encode()
            + b"\r\nx-fastn-space-id: " + str(cast.space.id).encode()
            + b"\r\n\r\n5\r\n{\"inp\r\nzz\r\n"
        )  # fmt: skip
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert response.status == 400 and body["code"] == "BAD_REQUEST"
    assert "chunked body is malformed" in body["message"]


def test_a_chunked_body_over_the_cap_is_413(web, headers, standard_echo):
    chunk = b" " * 1024
    status, body = post_chunked(web, headers, [b'{"input": "', *[chunk] * 8, b'"}'])
    assert status == 413 and body["code"] == "PAYLOAD_TOO_LARGE"
    assert not Execution.objects.exists()
