from django.urls import path

from apps.connectors.views import oauth as views

# Included under /oauth/ (outside any Space): the redirect URI registered at providers.
urlpatterns = [
    path("callback", views.oauth_callback, name="oauth_callback"),
]
