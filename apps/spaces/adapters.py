from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.spaces.clientip import client_ip


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
