from django.urls import path

from apps.configs import views

# Included under /s/<space_slug>/settings/configs/
urlpatterns = [
    path("", views.config_list, name="configs"),
    path("new/", views.config_create, name="config_create"),
    path("<uuid:config_id>/", views.config_edit, name="config_edit"),
    path("<uuid:config_id>/delete/", views.config_delete, name="config_delete"),
]
