from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # `?next=` is honoured by allauth before this is asked.
        return reverse("home")
