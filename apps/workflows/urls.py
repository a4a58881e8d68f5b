from django.urls import path

from apps.workflows import views

# Included under /s/<space_slug>/workflows/ (running a workflow, under the same prefix, is the
# executions app's: apps/executions/urls.py; Build with AI is an upcoming console section).
urlpatterns = [
    path("", views.workflow_list, name="workflows"),
    path("new/", views.workflow_create, name="workflow_create"),
    path("<uuid:workflow_id>/", views.workflow_editor, name="workflow_editor"),
    path("<uuid:workflow_id>/save/", views.workflow_save, name="workflow_save"),
    path("<uuid:workflow_id>/lifecycle/", views.workflow_lifecycle, name="workflow_lifecycle"),
    path("<uuid:workflow_id>/deploy/", views.workflow_deploy, name="workflow_deploy"),
    path("<uuid:workflow_id>/delete/", views.workflow_delete, name="workflow_delete"),
    path("<uuid:workflow_id>/api/", views.workflow_api, name="workflow_api"),
    path(
        "<uuid:workflow_id>/versions/<int:number>/", views.workflow_version, name="workflow_version"
    ),
    path(
        "<uuid:workflow_id>/versions/<int:number>/compare/",
        views.workflow_compare,
        name="workflow_compare",
    ),
    path(
        "<uuid:workflow_id>/versions/<int:number>/restore/",
        views.workflow_restore,
        name="workflow_restore",
    ),
]
