from django.urls import path

from apps.spaces import views

# Included under /s/<space_slug>/settings/
space_settings_urls = [
    path("general/", views.space_settings, name="space_settings"),
    path("people/", views.people, name="people"),
    path("people/invite/", views.people_invite, name="people_invite"),
    path("people/<uuid:membership_id>/role/", views.people_change_role, name="people_role"),
    path("people/<uuid:membership_id>/remove/", views.people_remove, name="people_remove"),
    path("people/<uuid:membership_id>/transfer/", views.people_transfer, name="people_transfer"),
    path(
        "invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("customers/", views.customers, name="customers"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<uuid:customer_id>/", views.customer_edit, name="customer_edit"),
    path("customers/<uuid:customer_id>/delete/", views.customer_delete, name="customer_delete"),
    path("api-keys/", views.apikeys, name="apikeys"),
    path("api-keys/<uuid:apikey_id>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("audit-log/", views.audit_log, name="audit_log"),
    path("audit-log.csv", views.audit_log_csv, name="audit_log_csv"),
]

urlpatterns = [
    path("", views.home_redirect, name="home"),
    path("spaces/new/", views.space_create, name="space_create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
