from django.urls import path

from apps.api import views

urlpatterns = [
    path("openapi.json", views.openapi, name="api_openapi"),
]
