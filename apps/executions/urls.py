from django.urls import path

from apps.executions import views

# Included under /s/<space_slug>/activity/
urlpatterns = [
    path("executions/", views.execution_list, name="executions"),
    path("executions/<uuid:execution_id>/", views.execution_detail, name="execution_detail"),
    path(
        "executions/<uuid:execution_id>/cancel/",
        views.execution_cancel_view,
        name="execution_cancel",
    ),
    path("executions/<uuid:execution_id>/rerun/", views.execution_rerun, name="execution_rerun"),
    path(
        "executions/<uuid:execution_id>/control/",
        views.execution_control_view,
        name="execution_control",
    ),
    path(
        "executions/<uuid:execution_id>/events/",
        views.execution_event_view,
        name="execution_event_send",
    ),
]

# Included under /s/<space_slug>/workflows/ beside the workflows app's own URLs: the Run dialog
# of the Workflows table, and the editor's Test and Executions tabs.
workflow_urls = [
    path("new/test/", views.workflow_test_new, name="workflow_test_new"),
    path("<uuid:workflow_id>/run/", views.workflow_run, name="workflow_run"),
    path("<uuid:workflow_id>/test/", views.workflow_test, name="workflow_test"),
    path("<uuid:workflow_id>/executions/", views.workflow_executions, name="workflow_executions"),
]
