from django.urls import path

from apps.insight import views

# Included under /s/<space_slug>/workflows/: the editor's Docs tab.
urlpatterns = [
    path("<uuid:workflow_id>/insight/", views.insight_tab, name="insight_tab"),
    path(
        "<uuid:workflow_id>/insight/docs/generate/",
        views.insight_docs_generate,
        name="insight_docs_generate",
    ),
    path(
        "<uuid:workflow_id>/insight/docs.md",
        views.insight_docs_markdown,
        name="insight_docs_markdown",
    ),
]
