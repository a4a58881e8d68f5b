from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from apps.spaces.audit import Actor
from apps.testcases import services as cases
from apps.workflows import services


@pytest.fixture
def actor(cast):
    return Actor.for_user(cast.owner)


@pytest.fixture
def make_workflow(cast, actor):
    def make(name="Orders", space=None, code=None, **fields):
        if code is not None:
            fields["code"] = code
        return services.workflow_create(space or cast.space, name=name, actor=actor, **fields)

    return make


@pytest.fixture
def make_case(actor):
    def make(workflow, name="Case", **data):
        return cases.case_create(workflow, data={"name": name, **data}, actor=actor)

    return make


class Listener:
    """A loopback TCP server that counts the connections it accepts (and answers HTTP 200)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.stopping:
                conn.close()
                return
            self.accepted += 1
            try:
                conn.settimeout(2)
                conn.recv(65536)
                body = b'{"real": true}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.stopping = True
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()
