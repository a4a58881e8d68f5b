from django.urls import path

from apps.connectors.views import oauth_apps as views

# Included under /s/<space_slug>/settings/oauth-apps/
urlpatterns = [
    path("", views.oauth_app_list, name="oauth_apps"),
    path("new/", views.oauth_app_new, name="oauth_app_new"),
    path("<uuid:app_id>/", views.oauth_app_edit, name="oauth_app_edit"),
    path("<uuid:app_id>/delete/", views.oauth_app_delete, name="oauth_app_delete"),
]
