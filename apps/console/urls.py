from django.urls import path

from apps.console import views
from apps.console.sections import UPCOMING

# Included under /s/<space_slug>/
urlpatterns = [
    path("", views.space_home, name="space_home"),
    *(
        path(section.path, views.upcoming, {"section": section.key}, name=section.key)
        for section in UPCOMING
    ),
]
