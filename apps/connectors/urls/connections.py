from django.urls import path

from apps.connectors.views import connections as views

# Included under /s/<space_slug>/connections/
urlpatterns = [
    path("", views.connection_list, name="connections"),
    path("new/", views.connection_new, name="connection_new"),
    path("<uuid:connection_id>/", views.connection_detail, name="connection_detail"),
    path("<uuid:connection_id>/test/", views.connection_test, name="connection_test"),
    path(
        "<uuid:connection_id>/reconnect/", views.connection_reconnect, name="connection_reconnect"
    ),
    path(
        "<uuid:connection_id>/default/",
        views.connection_make_default,
        name="connection_make_default",
    ),
    path(
        "<uuid:connection_id>/disconnect/",
        views.connection_disconnect,
        name="connection_disconnect",
    ),
]
