from __future__ import annotations

from django.core import mail
from django.urls import reverse

from apps.spaces.models import AuditEvent, Membership, Space


def test_sign_up_creates_the_first_space_and_audits_it(client, db, settings):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
            "space_name": "Initech",
        },
    )
    assert response.status_code == 302
    space = Space.objects.get(name="Initech")
    assert Membership.objects.get(space=space).role == "owner"
    assert AuditEvent.objects.filter(space=space, action="auth.signup").exists()


def test_weak_password_is_refused_and_nothing_is_created(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "weak@example.com", "password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode() or "too common" in response.content.decode()
    assert not Space.objects.exists()


def test_password_reset_mails_a_working_link(client, cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client.post(reverse("account_reset_password"), {"email": "owner@example.com"})
    assert len(mail.outbox) == 1
    link = next(word for word in mail.outbox[0].body.split() if "/password/reset/key/" in word)
    response = client.get(link, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(
        form_url,
        {"password1": "another-long-passphrase-7", "password2": "another-long-passphrase-7"},
    )
    assert response.status_code == 302
    assert client.login(username="owner@example.com", password="another-long-passphrase-7")
