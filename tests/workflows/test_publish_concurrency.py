"""Version numbers under concurrent publishes, on PostgreSQL: no gaps, no duplicates."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, transaction

from apps.spaces.audit import Actor
from apps.workflows import services
from apps.workflows.models import WorkflowVersion

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def run_in_threads(target, count: int) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(i: int):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # collected and re-checked by the test
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_concurrent_edit_and_publish_numbers_versions_without_gaps_or_duplicates(cast):
    assert connection.vendor == "postgresql"
    actor = Actor.for_user(cast.owner)
    workflow = services.workflow_create(cast.space, name="Race", actor=actor)

    def edit_and_publish(i: int):
        with transaction.atomic():
            services.workflow_update(
                workflow, expected_revision=None, actor=actor, code=f"// edit {i}\n"
            )
            services.workflow_publish(workflow, actor=actor)

    errors = run_in_threads(edit_and_publish, THREADS)
    assert errors == []
    numbers = list(
        WorkflowVersion.objects.filter(workflow=workflow).values_list("number", flat=True)
    )
    assert sorted(numbers) == list(range(1, THREADS + 1))
    codes = set(WorkflowVersion.objects.filter(workflow=workflow).values_list("code", flat=True))
    assert codes == {f"// edit {i}\n" for i in range(THREADS)}


def test_concurrent_publishes_of_one_draft_make_one_version(cast):
    actor = Actor.for_user(cast.owner)
    workflow = services.workflow_create(cast.space, name="Race", actor=actor)

    errors = run_in_threads(lambda i: services.workflow_publish(workflow, actor=actor), THREADS)
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, ValidationError) and "Nothing changed" in str(e) for e in errors)


def test_concurrent_publishes_of_different_workflows_number_each_from_one(cast):
    actor = Actor.for_user(cast.owner)
    workflows = [
        services.workflow_create(cast.space, name=f"W{i}", actor=actor) for i in range(THREADS)
    ]

    def publish_twice(i: int):
        services.workflow_publish(workflows[i], actor=actor)
        services.workflow_update(
            workflows[i], expected_revision=None, actor=actor, code=f"// {i}\n"
        )
        services.workflow_publish(workflows[i], actor=actor)

    assert run_in_threads(publish_twice, THREADS) == []
    for workflow in workflows:
        assert sorted(workflow.versions.values_list("number", flat=True)) == [1, 2]


def test_interleaved_saves_and_publishes_never_duplicate_a_number(cast):
    actor = Actor.for_user(cast.owner)
    workflow = services.workflow_create(cast.space, name="Race", actor=actor)

    def save_then_publish(i: int):
        for round_ in range(3):
            services.workflow_update(
                workflow, expected_revision=None, actor=actor, code=f"// {i}.{round_}\n"
            )
            try:
                services.workflow_publish(workflow, actor=actor)
            except ValidationError as exc:  # another thread published this very draft
                assert "Nothing changed" in str(exc)

    assert run_in_threads(save_then_publish, THREADS) == []
    numbers = sorted(workflow.versions.values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 1
