from django.urls import path

from apps.workflows import views

# Included under /s/<space_slug>/workflows/
urlpatterns = [
    path("", views.workflow_list, name="workflows"),
    path("new/", views.workflow_create, name="workflow_create"),
    path("new/test/", views.workflow_test_new, name="workflow_test_new"),
    path("build/", views.workflow_builder, name="workflow_builder"),
    path("<uuid:workflow_id>/", views.workflow_editor, name="workflow_editor"),
    path("<uuid:workflow_id>/save/", views.workflow_save, name="workflow_save"),
    path("<uuid:workflow_id>/lifecycle/", views.workflow_lifecycle, name="workflow_lifecycle"),
    path("<uuid:workflow_id>/deploy/", views.workflow_deploy, name="workflow_deploy"),
    path("<uuid:workflow_id>/delete/", views.workflow_delete, name="workflow_delete"),
    path("<uuid:workflow_id>/run/", views.workflow_run, name="workflow_run"),
    path("<uuid:workflow_id>/test/", views.workflow_test, name="workflow_test"),
    path("<uuid:workflow_id>/executions/", views.workflow_executions, name="workflow_executions"),
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
