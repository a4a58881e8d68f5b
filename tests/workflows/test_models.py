"""Row-local behaviour of workflows and the immutability of published versions."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import RestrictedError
from django.db.utils import DatabaseError

from apps.workflows import services
from apps.workflows.models import Deployment, Workflow, WorkflowVersion
from tests.workflows.conftest import edit_and_publish


def test_retry_delays_follow_the_backoff_and_stop_at_the_max_interval():
    workflow = Workflow(retry_enabled=True, retry_max_attempts=3)
    assert workflow.retry_delays_ms() == [5000, 10000]
    workflow.retry_max_attempts = 6
    assert workflow.retry_delays_ms() == [5000, 10000, 20000, 40000, 60000]
    workflow.retry_enabled = False
    assert workflow.retry_delays_ms() == []


def test_retry_delays_with_one_attempt_are_empty():
    assert Workflow(retry_enabled=True, retry_max_attempts=1).retry_delays_ms() == []


def test_config_round_trips_through_apply_config():
    source = Workflow(
        name="A",
        description="d",
        tier="long",
        timeout_seconds=3600,
        retry_max_attempts=5,
        retry_backoff_coefficient=1.5,
        enabled=False,
    )
    target = Workflow()
    target.apply_config(source.config())
    assert target.config() == source.config()


def test_a_published_version_cannot_be_saved_again(make_workflow, actor):
    version = services.workflow_publish(make_workflow(), actor=actor)
    version.code = "changed"
    with pytest.raises(TypeError, match="immutable"):
        version.save()
    with pytest.raises(TypeError, match="immutable"):
        WorkflowVersion.objects.filter(pk=version.pk).update(code="changed")
    assert WorkflowVersion.objects.get(pk=version.pk).code != "changed"


def test_the_database_refuses_to_update_a_version(make_workflow, actor):
    version = services.workflow_publish(make_workflow(), actor=actor)
    with (
        pytest.raises(DatabaseError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE workflows_workflowversion SET code = 'x' WHERE id = %s", [version.pk]
        )
    assert WorkflowVersion.objects.get(pk=version.pk).code == version.code


def test_deleting_a_workflow_deletes_its_versions_and_deployments(make_workflow, actor, live):
    workflow = make_workflow()
    v1 = services.workflow_publish(workflow, actor=actor)
    edit_and_publish(workflow, actor, "export default async () => 2;\n")
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    services.workflow_delete(workflow, actor=actor)
    assert not WorkflowVersion.objects.exists()
    assert not Deployment.objects.exists()


def test_latest_version_and_is_published(make_workflow, actor):
    workflow = make_workflow()
    assert workflow.latest_version is None and not workflow.is_published
    edit_and_publish(workflow, actor, "export default async () => 1;\n")
    edit_and_publish(workflow, actor, "export default async () => 2;\n")
    assert workflow.latest_version.number == 2 and workflow.is_published


def test_deleting_a_space_deletes_its_workflows_and_deployments(make_workflow, actor, live, cast):
    workflow = make_workflow()
    version = services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(workflow, version=version, environment=live, actor=actor)
    cast.space.delete()
    assert not Workflow.objects.exists() and not Deployment.objects.exists()


def test_an_environment_with_deployments_cannot_be_deleted_directly(make_workflow, actor, live):
    workflow = make_workflow()
    version = services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(workflow, version=version, environment=live, actor=actor)
    with pytest.raises(RestrictedError):
        live.delete()
