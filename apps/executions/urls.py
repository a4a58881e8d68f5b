from django.urls import path

from apps.executions import views

# Included under /s/<space_slug>/activity/
urlpatterns = [
    path("executions/", views.execution_list, name="executions"),
    path("executions/<uuid:execution_id>/", views.execution_detail, name="execution_detail"),
    path(
        "executions/<uuid:execution_id>/cancel/",
        views.execution_cancel_view,
        name="execution_cancel",
    ),
    path("executions/<uuid:execution_id>/rerun/", views.execution_rerun, name="execution_rerun"),
]
