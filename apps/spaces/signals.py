"""Login and failed-login audit rows. Django's auth signals are the one hook that sees every
login path (allauth, admin, tests), so the audit lives here rather than in a view.

Also the two signals through which deleting a customer or a Space reaches the data that other
apps keep for it (`fastn.state`, `fastn.db`, secrets): those apps depend on this one, never the
reverse, so `customer_delete` and `space_delete` announce the deletion and the apps act on it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import Signal, receiver

from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Outcome, Space

# Sent inside the deleting transaction, before the rows are deleted, with `customer` (or `space`
# and `customer_ids`, every customer of the Space) and `actor`. A receiver deletes what its app
# keeps in the database, schedules what cannot be rolled back (dropping a tenant database) with
# transaction.on_commit, and returns a dict of what it removed for the audit row.
customer_deleting = Signal()
space_deleting = Signal()


def record_for_user_spaces(user, action: str, outcome: str, request) -> None:
    # The audit log is per Space: a person's logins show in every Space they belong to.
    for space in Space.objects.filter(memberships__user=user):
        audit_record(
            space=space,
            actor=Actor.for_user(user),
            action=action,
            resource=user,
            resource_label=user.email,
            outcome=outcome,
            request=request,
        )


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    record_for_user_spaces(user, "auth.login", Outcome.SUCCESS, request)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        record_for_user_spaces(user, "auth.logout", Outcome.SUCCESS, request)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    email = credentials.get("email") or credentials.get("username") or ""
    user = get_user_model().objects.filter(email__iexact=email).first() if email else None
    if user is not None:
        record_for_user_spaces(user, "auth.login", Outcome.FAILURE, request)
