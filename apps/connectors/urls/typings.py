from django.urls import path

from apps.connectors.views import typings

# Included under /s/<space_slug>/connectors/typings/ (before the Connectors pages' own URLs).
urlpatterns = [
    path("fastn-connectors.d.ts", typings.connector_typings, name="connector_typings"),
]
