from __future__ import annotations

from django import template

from apps.spaces.mail import undelivered_note

register = template.Library()


@register.simple_tag
def undelivered_email_note(what: str) -> str:
    """`{% undelivered_email_note "the password reset email" as note %}`: "" when email is
    really delivered, else where it went instead (apps/spaces/mail.py)."""
    return undelivered_note(what) or ""
