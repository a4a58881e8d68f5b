from django.urls import path

from apps.api import executions, stepgraph, views, webhooks

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
        "tenants/<str:space_id>/workflows/<slug:workflow_slug>/versions/<str:version>/graph",
        stepgraph.version_graph,
        name="api_version_graph",
    ),
    path("<slug:workflow_slug>", views.workflow_endpoint, name="api_execute"),
]
