from django.urls import path

from apps.secrets import views

# Included under /s/<space_slug>/settings/secrets/
urlpatterns = [
    path("", views.secret_list, name="secrets"),
    path("new/", views.secret_create, name="secret_create"),
    path("<uuid:secret_id>/rotate/", views.secret_rotate, name="secret_rotate"),
    path("<uuid:secret_id>/delete/", views.secret_delete, name="secret_delete"),
]
