from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pytest

# Playwright's sync API runs an event loop in the test thread; without this, ORM calls in the
# body of a browser test raise SynchronousOnlyOperation.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


@dataclass
class Cast:
    """Two Spaces: `space` with one member of each role, and `other_space` owned by an
    outsider who is not a member of `space`."""

    space: object
    owner: object
    admin: object
    developer: object
    operator: object
    viewer: object
    other_space: object
    outsider: object

    def member(self, role: str):
        return getattr(self, role)


def make_user(email: str):
    from apps.spaces.services import user_create

    return user_create(email, PASSWORD)


@pytest.fixture
def cast(db) -> Cast:
    from apps.spaces.audit import Actor
    from apps.spaces.models import Membership
    from apps.spaces.services import space_create

    owner = make_user("owner@example.com")
    space = space_create("Acme", owner=owner, actor=Actor.for_user(owner))
    people = {}
    for role in ("admin", "developer", "operator", "viewer"):
        people[role] = make_user(f"{role}@example.com")
        Membership.objects.create(space=space, user=people[role], role=role)
    outsider = make_user("outsider@example.com")
    other_space = space_create("Globex", owner=outsider, actor=Actor.for_user(outsider))
    return Cast(space=space, owner=owner, other_space=other_space, outsider=outsider, **people)


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="module")
def celery_worker_module(django_db_setup, django_db_blocker):
    """A real Celery worker (threads pool) on the real Redis, serving all three queues, for
    one test module (a module that starts its own worker processes must not share queues with
    it). Tests that use it must be `django_db(transaction=True)`."""
    import celery.contrib.testing.tasks  # noqa: F401  registers celery.ping
    from celery.contrib.testing.worker import start_worker

    from fastn_console.celery import app

    with (
        django_db_blocker.unblock(),
        start_worker(
            app,
            pool="threads",
            concurrency=4,
            queues=["instant", "standard", "long"],
            perform_ping_check=False,
            shutdown_timeout=15,
        ) as worker,
    ):
        yield worker


@pytest.fixture
def celery_worker(celery_worker_module, transactional_db):
    yield celery_worker_module
    # A run the test started (a 202 it did not wait for) may still be going: let the worker
    # finish it before the database is flushed, or the flush's TRUNCATE and the run's reads can
    # deadlock. Bounded, for a test that leaves a long run behind on purpose.
    from celery.worker import state

    deadline = time.monotonic() + 10
    while (state.active_requests or state.reserved_requests) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def events_pipeline(transactional_db):
    """The event pipeline for real (apps/triggers/pipeline): the threads of `manage.py events`
    (publisher, two consumers, ticker) in this process, on the test database and the real
    Redis. With `celery_worker` too, a webhook or a test event runs its workflows end to end."""
    from apps.triggers.pipeline.process import EventsProcess

    process = EventsProcess(consumers=2)
    process.start()
    yield process
    process.shutdown()


@pytest.fixture(scope="session", autouse=True)
def release_test_database(request):
    """Close what outlives the tests — tenant-database sessions (their own login roles) and
    connections of finished worker threads — so the test database can be dropped."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    request.getfixturevalue("django_db_setup")
    blocker = request.getfixturevalue("django_db_blocker")
    yield
    from django.db import connection

    from apps.datastore.tenantdb import tenantdb_close_connections

    tenantdb_close_connections()
    if connection.vendor == "postgresql":
        with blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
