from django.urls import path

from apps.api import execute, views

urlpatterns = [
    path("openapi.json", views.openapi, name="api_openapi"),
    path("<slug:workflow_slug>", execute.execute, name="api_execute"),
]
