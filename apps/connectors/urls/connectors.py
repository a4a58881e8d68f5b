from django.urls import path

from apps.connectors.views import connectors as views

# Included under /s/<space_slug>/connectors/ (Integrations → Connectors). "new" and "import"
# come first; they are reserved slugs (apps.connectors.services.connectors.RESERVED_SLUGS).
urlpatterns = [
    path("", views.connector_list, name="connectors"),
    path("new/", views.connector_create, name="connector_create"),
    path("import/", views.connector_import, name="connector_import"),
    path("<slug:connector_slug>/", views.connector_detail, name="connector_detail"),
    path(
        "<slug:connector_slug>/definition.json",
        views.connector_definition_file,
        name="connector_definition_file",
    ),
    path("<slug:connector_slug>/edit/", views.connector_edit, name="connector_edit"),
    path("<slug:connector_slug>/publish/", views.connector_publish, name="connector_publish"),
    path("<slug:connector_slug>/delete/", views.connector_delete, name="connector_delete"),
    path("<slug:connector_slug>/import/", views.connector_reimport, name="connector_reimport"),
    path(
        "<slug:connector_slug>/actions/new/",
        views.connector_action_new,
        name="connector_action_new",
    ),
    path(
        "<slug:connector_slug>/actions/<str:action_name>/edit/",
        views.connector_action_edit,
        name="connector_action_edit",
    ),
    path(
        "<slug:connector_slug>/actions/<str:action_name>/delete/",
        views.connector_action_delete,
        name="connector_action_delete",
    ),
    path(
        "<slug:connector_slug>/versions/<int:version_number>/report/",
        views.connector_import_report,
        name="connector_import_report",
    ),
]
