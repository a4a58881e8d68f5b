from django.urls import path

from apps.testcases import views

# Included under /s/<space_slug>/workflows/ (the editor's Test Cases tab and the publish gate).
workflow_urls = [
    path("<uuid:workflow_id>/cases/", views.cases_panel, name="testcases"),
    path("<uuid:workflow_id>/cases/new/", views.case_new, name="testcase_new"),
    path("<uuid:workflow_id>/cases/run/", views.cases_run_all, name="testcases_run"),
    path("<uuid:workflow_id>/cases/gate/", views.publish_gate, name="testcases_gate"),
    path("<uuid:workflow_id>/cases/<uuid:case_id>/edit/", views.case_edit, name="testcase_edit"),
    path("<uuid:workflow_id>/cases/<uuid:case_id>/run/", views.case_run, name="testcase_run"),
    path(
        "<uuid:workflow_id>/cases/<uuid:case_id>/approve/",
        views.case_approve,
        name="testcase_approve",
    ),
    path(
        "<uuid:workflow_id>/cases/<uuid:case_id>/feedback/",
        views.case_feedback,
        name="testcase_feedback",
    ),
    path(
        "<uuid:workflow_id>/cases/<uuid:case_id>/delete/",
        views.case_delete,
        name="testcase_delete",
    ),
]

# Included under /s/<space_slug>/activity/ (the execution's page).
execution_urls = [
    path(
        "executions/<uuid:execution_id>/save-as-test-case/",
        views.save_from_execution,
        name="execution_save_test_case",
    ),
]
