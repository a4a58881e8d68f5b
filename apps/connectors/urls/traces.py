from django.urls import path

from apps.connectors.views import traces

# Included under /s/<space_slug>/activity/traces/
urlpatterns = [
    path("", traces.trace_list, name="traces"),
    path("<uuid:trace_id>/", traces.trace_detail, name="trace_detail"),
]
