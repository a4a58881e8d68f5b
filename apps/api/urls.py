from django.urls import path

from apps.api import executions, instances, stepgraph, views, webhooks

# <slug:…>: a path segment that cannot be a slug (a NUL byte, say) is an unknown path.
WORKFLOW = "tenants/<str:space_id>/workflows/<slug:workflow_slug>"

urlpatterns = [
    path("openapi.json", views.openapi, name="api_openapi"),
    path(
        "tenants/<str:space_id>/executions/<str:execution_id>",
        executions.execution_detail,
        name="api_execution_detail",
    ),
    path(
        "tenants/<str:space_id>/executions/<str:execution_id>/cancel",
        executions.execution_cancel_view,
        name="api_execution_cancel",
    ),
    path(
        "clients/<str:space_id>/webhooks/<str:webhook_id>",
        webhooks.webhook_receive,
        name="api_webhook_receive",
    ),
    path(
        "tenants/<str:space_id>/events/<str:event_id>",
        webhooks.event_detail,
        name="api_event_detail",
    ),
    path(
        f"{WORKFLOW}/instances",
        instances.instances_view,
        name="api_instances",
    ),
    path(
        f"{WORKFLOW}/instances/batch",
        instances.instances_batch,
        name="api_instances_batch",
    ),
    path(
        f"{WORKFLOW}/instances/<str:instance_id>",
        instances.instance_detail,
        name="api_instance_detail",
    ),
    path(
        f"{WORKFLOW}/instances/<str:instance_id>/status",
        instances.instance_status,
        name="api_instance_status",
    ),
    path(
        f"{WORKFLOW}/instances/<str:instance_id>/events/<str:event_type>",
        instances.instance_event,
        name="api_instance_event",
    ),
    path(
        f"{WORKFLOW}/versions/<str:version>/graph",
        stepgraph.version_graph,
        name="api_version_graph",
    ),
    path("<slug:workflow_slug>", views.workflow_endpoint, name="api_execute"),
]
