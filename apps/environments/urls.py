from django.urls import path

from apps.environments import views

# Included under /s/<space_slug>/settings/environments/
urlpatterns = [
    path("", views.environment_list, name="environments"),
    path("<uuid:environment_id>/", views.environment_edit, name="environment_edit"),
    path("<uuid:environment_id>/delete/", views.environment_delete, name="environment_delete"),
]
