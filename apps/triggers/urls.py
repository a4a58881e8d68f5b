from django.urls import path

from apps.triggers import activity, views

# Included under /s/<space_slug>/triggers/
urlpatterns = [
    path("", views.trigger_list, name="triggers"),
    path("new/", views.trigger_new, name="trigger_new"),
    path("new/webhook/", views.trigger_create, {"kind": "webhook"}, name="trigger_new_webhook"),
    path(
        "new/scheduler/", views.trigger_create, {"kind": "scheduler"}, name="trigger_new_scheduler"
    ),
    path(
        "new/app-event/", views.trigger_create, {"kind": "app-event"}, name="trigger_new_app_event"
    ),
    path("app-event-source/", views.trigger_app_event_source, name="trigger_app_event_source"),
    path("schedule-preview/", views.trigger_schedule_preview, name="trigger_schedule_preview"),
    path("<uuid:trigger_id>/", views.trigger_detail, name="trigger_detail"),
    path("<uuid:trigger_id>/edit/", views.trigger_edit, name="trigger_edit"),
    path("<uuid:trigger_id>/toggle/", views.trigger_toggle, name="trigger_toggle"),
    path("<uuid:trigger_id>/delete/", views.trigger_delete, name="trigger_delete"),
    path("<uuid:trigger_id>/activity/", views.trigger_requests_part, name="trigger_activity"),
    path("<uuid:trigger_id>/events/<uuid:event_id>/", views.trigger_event, name="trigger_event"),
    path("<uuid:trigger_id>/test/", views.trigger_send_test, name="trigger_send_test"),
    path("<uuid:trigger_id>/run/", views.trigger_run_now, name="trigger_run_now"),
    path(
        "<uuid:trigger_id>/subscription/retry/",
        views.trigger_retry_subscription,
        name="trigger_retry_subscription",
    ),
    path(
        "<uuid:trigger_id>/signing/enable/",
        views.trigger_signing_enable,
        name="trigger_signing_enable",
    ),
    path(
        "<uuid:trigger_id>/signing/rotate/",
        views.trigger_signing_rotate,
        name="trigger_signing_rotate",
    ),
    path(
        "<uuid:trigger_id>/signing/remove/",
        views.trigger_signing_remove,
        name="trigger_signing_remove",
    ),
]

# Included under /s/<space_slug>/activity/ beside Activity → Executions: Activity → Events and
# Activity → Dead letters (apps/triggers/activity.py).
activity_urls = [
    path("events/", activity.event_list, name="events"),
    path("events/<uuid:event_id>/", activity.event_detail, name="event_detail"),
    path("events/<uuid:event_id>/replay/", activity.event_replay_view, name="event_replay"),
    path("dead-letters/", activity.dead_letter_list, name="dead_letters"),
    path("dead-letters/replay/", activity.dead_letters_replay_all, name="dead_letters_replay_all"),
    path(
        "dead-letters/<uuid:dead_letter_id>/",
        activity.dead_letter_detail,
        name="dead_letter_detail",
    ),
    path(
        "dead-letters/<uuid:dead_letter_id>/replay/",
        activity.dead_letter_replay_view,
        name="dead_letter_replay",
    ),
]
