from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.spaces.clientip import client_ip
from apps.spaces.mail import undelivered_note

CONFIRMATION_SENT = "account/messages/email_confirmation_sent.txt"


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # `?next=` is honoured by allauth before this is asked.
        return reverse("home")

    def get_client_ip(self, request) -> str:
        # The rate limiter's key: X-Forwarded-For only BEHIND_PROXY, with a trusted hop count
        # (apps/spaces/clientip.py) rather than allauth's own reading of the header.
        address = client_ip(request)
        if address is None:
            raise PermissionDenied("Unable to determine the client's address.")
        return address

    def add_message(self, request, level, message_template=None, message_context=None,
                    extra_tags="", message=None):  # fmt: skip
        # "Confirmation email sent to …" is untrue when the backend only writes the email
        # to a log or a file: say where the link really is.
        if message_template == CONFIRMATION_SENT:
            email = (message_context or {}).get("email", "")
            note = undelivered_note("the confirmation link", to=str(email))
            if note:
                level, message_template, message = messages.WARNING, None, note
        super().add_message(request, level, message_template, message_context, extra_tags, message)
