from __future__ import annotations

import pytest
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


# --- Signing up from an invitation ----------------------------------------------------------

SIGNUP_PASSWORD = "a-long-unusual-passphrase-42"


def invite(cast, email: str = "grace@example.com", role: str = "operator") -> str:
    from apps.spaces.audit import Actor
    from apps.spaces.services import invitation_create

    _invitation, token = invitation_create(
        cast.space, email=email, role=role, invited_by=cast.owner, actor=Actor.for_user(cast.owner)
    )
    return reverse("invitation_accept", args=[token])


def test_sign_up_from_an_invitation_asks_for_no_space_name(client, cast):
    page = client.get(reverse("account_signup"), {"next": invite(cast)}).content.decode()
    assert 'name="space_name"' not in page
    assert 'value="grace@example.com"' in page
    assert "You are joining <strong>Acme</strong> as <strong>Operator</strong>" in page
    plain = client.get(reverse("account_signup")).content.decode()
    assert 'name="space_name"' in plain
    assert "signup-invitation" not in plain


def test_sign_up_from_an_invitation_creates_no_space_and_leads_back_to_it(client, cast):
    link = invite(cast)
    response = client.post(
        reverse("account_signup"),
        {"email": "grace@example.com", "password1": SIGNUP_PASSWORD,
         "password2": SIGNUP_PASSWORD, "space_name": "Sneaky", "next": link},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == link
    assert not Space.objects.filter(memberships__user__email="grace@example.com").exists()
    assert not Space.objects.filter(name="Sneaky").exists()
    accepted = client.post(link, follow=True)
    assert accepted.redirect_chain[-1][0] == reverse("space_home", args=[cast.space.slug])
    assert Membership.objects.get(user__email="grace@example.com").space == cast.space


def test_sign_up_from_an_invitation_with_another_address_is_refused(client, cast):
    response = client.post(
        reverse("account_signup"),
        {"email": "someone@example.com", "password1": SIGNUP_PASSWORD,
         "password2": SIGNUP_PASSWORD, "next": invite(cast)},
    )  # fmt: skip
    assert response.status_code == 200
    assert "This invitation is for grace@example.com" in response.content.decode()
    assert not Space.objects.filter(memberships__user__email="someone@example.com").exists()


def test_a_used_or_unknown_invitation_in_next_is_an_ordinary_sign_up(client, cast):
    for target in ("/invitations/not-a-token/", "/elsewhere/", "https://evil.example/x"):
        page = client.get(reverse("account_signup"), {"next": target}).content.decode()
        assert 'name="space_name"' in page


# --- Saying where the confirmation email went -----------------------------------------------

EMAIL_SENT_BY = []


class RecordingSmtpLike:
    """A backend that delivers (as far as the console can tell): not one of Django's
    log/file/memory/dummy backends."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        EMAIL_SENT_BY.extend(messages)
        return len(messages)


def sign_up_and_read_messages(client) -> list[str]:
    response = client.post(
        reverse("account_signup"),
        {"email": "mail@example.com", "password1": SIGNUP_PASSWORD,
         "password2": SIGNUP_PASSWORD},
        follow=True,
    )  # fmt: skip
    return [str(m) for m in response.context["messages"]]


def test_sign_up_says_where_the_email_went_with_the_console_backend(client, db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    texts = sign_up_and_read_messages(client)
    assert not any("Confirmation email sent" in t for t in texts)
    assert any(
        "no email was sent to mail@example.com" in t
        and "written to the console log (standard output) of the web process" in t
        for t in texts
    ), texts


def test_sign_up_says_confirmation_sent_when_email_is_delivered(client, db, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RecordingSmtpLike"
    texts = sign_up_and_read_messages(client)
    assert "Confirmation email sent to mail@example.com." in texts
    assert EMAIL_SENT_BY


@pytest.mark.filterwarnings("ignore:The EMAIL_FILE_PATH setting is deprecated")
def test_undelivered_destination_names_each_backend(settings, tmp_path):
    from apps.spaces.mail import undelivered_destination

    expected = {
        "console": "console log (standard output) of the web process",
        "filebased": "file in the EMAIL_FILE_PATH folder",
        "locmem": "memory",
        "dummy": "discarded",
    }
    settings.EMAIL_FILE_PATH = str(tmp_path)
    for backend, words in expected.items():
        settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"
        assert words in undelivered_destination()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert undelivered_destination() is None


def test_password_reset_page_says_where_the_email_went(client, cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    response = client.post(
        reverse("account_reset_password"), {"email": "owner@example.com"}, follow=True
    )
    page = response.content.decode()
    assert "the password reset email was written to the console log" in page
    assert "We have sent you an email" not in page
