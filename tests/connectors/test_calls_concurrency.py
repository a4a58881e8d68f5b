"""Two runs refreshing the same OAuth connection at once spend its rotating refresh token
once: the second waits on the row lock and uses the first's new token."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection as db_connection

from apps.connectors.calls import ConnectorRun
from apps.connectors.credentials import seal
from apps.connectors.models import OAuthApp
from tests.connectors.calls_support import connect, make_acme
from tests.connectors.fakes import FakeService

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service():
    running = FakeService()
    yield running
    running.close()


def test_concurrent_refreshes_spend_the_refresh_token_once(cast, service):
    make_acme(cast.space, service)
    app = OAuthApp(space=cast.space, connector_slug="acme", client_id="client-1")
    seal(app, {"clientSecret": "client-secret-0001"})
    app.save()
    service.require = ("oauth",)
    service.grant_access("at-old-0001", 5)
    service.issue_refresh("rt-old-0001")
    service.token_delay = 0.5  # both runs are inside the refresh at the same time
    connect(
        cast.space,
        "OAUTH_2",
        {"accessToken": "at-old-0001", "refreshToken": "rt-old-0001", "expiresAt": time.time() + 5},
    )
    results: list = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            connector_run = ConnectorRun(
                cast.space, customer=None, environment="draft", deadline=time.monotonic() + 20
            )
            barrier.wait()
            results.append(connector_run.call("acme", "getThing", {"id": "1"})["status"])
        except Exception as exc:  # reported below
            results.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200, 200]
    assert [c["form"]["grant_type"] for c in service.token_calls] == ["refresh_token"]
