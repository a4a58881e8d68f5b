"""The Email connector (protocol smtp) against a small SMTP server on loopback."""

from __future__ import annotations

import time

import pytest

from apps.connectors.calls import ConnectorRun, test_connection
from apps.connectors.models import ConnectorCall
from apps.runtime import HostError
from apps.runtime.redact import Redactor
from tests.connectors.calls_support import connect
from tests.connectors.factories import definition, make_connector
from tests.connectors.fakes import FakeSmtp

pytestmark = pytest.mark.django_db

PASSWORD = "smtp-pass-0001"


def email_definition() -> dict:
    return definition(
        "mailer",
        name="Email",
        base_url="smtp://{{connection.host}}",
        protocol="smtp",
        connectionFields=[
            {"name": "host", "label": "SMTP host", "required": True},
            {"name": "port", "label": "Port"},
            {"name": "security", "label": "Security"},
            {"name": "from", "label": "Default sender"},
        ],
        auth={"default": "BASIC", "methods": [{"type": "BASIC"}, {"type": "NO_AUTH"}]},
        actions=[
            {
                "name": "sendEmail",
                "method": "POST",
                "path": "/send",
                "parameters": [
                    {"name": "to", "in": "body", "type": "string", "required": True},
                    {"name": "cc", "in": "body", "type": "array"},
                    {"name": "bcc", "in": "body", "type": "array"},
                    {"name": "from", "in": "body", "type": "string"},
                    {"name": "subject", "in": "body", "type": "string"},
                    {"name": "text", "in": "body", "type": "string"},
                    {"name": "html", "in": "body", "type": "string"},
                ],
            }
        ],
    )


@pytest.fixture
def smtp():
    server = FakeSmtp(login=("mailer@example.com", PASSWORD))
    yield server
    server.close()


@pytest.fixture
def mailer(cast, smtp):
    """A connection to the built-in Email connector (its Custom username/password fields)."""
    return connect(
        cast.space,
        "INPUT",
        {"values": {"username": "mailer@example.com", "password": PASSWORD}},
        slug="email",
        config=smtp_config(smtp),
    )


def smtp_config(smtp, **extra) -> dict:
    return {
        "host": "127.0.0.1",
        "port": str(smtp.port),
        "security": "none",
        "fromAddress": "Mailer <mailer@example.com>",
        **extra,
    }


def run_for(cast) -> ConnectorRun:
    run = ConnectorRun(cast.space, environment="draft", deadline=time.monotonic() + 20)
    run.attach_redactor(Redactor())
    return run


def test_sends_mail_through_the_connection(cast, smtp, mailer):
    answer = run_for(cast).call(
        "email",
        "sendEmail",
        {
            "to": "Ada <ada@example.com>",
            "cc": "bob@example.com",
            "bcc": "hidden@example.com",
            "subject": "Hello",
            "text": "plain body",
            "html": "<p>html body</p>",
        },
    )
    assert answer["status"] == 250
    assert answer["accepted"] == ["ada@example.com", "bob@example.com", "hidden@example.com"]
    assert answer["messageId"].startswith("<") and answer["messageId"].endswith("@example.com>")
    [message] = smtp.messages
    assert message["from"] == "mailer@example.com"
    assert message["to"] == ["ada@example.com", "bob@example.com", "hidden@example.com"]
    assert "Subject: Hello" in message["data"] and "hidden@example.com" not in message["data"]
    assert "html body" in message["data"]
    trace = ConnectorCall.objects.get()
    assert trace.status == "success" and trace.method == "SMTP" and trace.http_status == 250
    assert PASSWORD not in str(trace.request) + str(trace.response)


def test_rejected_recipient_is_a_datasource_error(cast, smtp, mailer):
    smtp.reject.add("nobody@example.com")
    with pytest.raises(HostError) as caught:
        run_for(cast).call("email", "sendEmail", {"to": "nobody@example.com", "subject": "s"})
    assert caught.value.code == "DATASOURCE_CONNECTION_ERROR" and caught.value.permanent
    debug = caught.value.details["datasourceDebug"]
    assert debug["statusCode"] == 550
    assert "nobody@example.com" in debug["jsonObject"]["rejected"]


def test_wrong_password_is_refused(cast, smtp):
    connect(
        cast.space,
        "INPUT",
        {"values": {"username": "mailer@example.com", "password": "wrong-password"}},
        slug="email",
        config=smtp_config(smtp),
    )
    with pytest.raises(HostError) as caught:
        run_for(cast).call("email", "sendEmail", {"to": "a@example.com", "subject": "s"})
    assert caught.value.details["datasourceDebug"]["statusCode"] == 535
    assert "wrong-password" not in str(caught.value.details) + caught.value.message


def test_starttls_is_required_unless_security_is_none(cast, smtp):
    connect(
        cast.space,
        "INPUT",
        {"values": {"username": "mailer@example.com", "password": PASSWORD}},
        slug="email",
        config=smtp_config(smtp, security="starttls"),
    )
    with pytest.raises(HostError) as caught:
        run_for(cast).call("email", "sendEmail", {"to": "a@example.com", "subject": "s"})
    assert caught.value.code == "CONNECTION_INVALID" and "STARTTLS" in caught.value.message
    assert smtp.messages == []


def test_smtp_host_goes_through_the_address_guard(cast, smtp, mailer, settings):
    settings.FASTN_HTTP_ALLOW_LOOPBACK = False
    run = ConnectorRun(cast.space, environment="draft", deadline=time.monotonic() + 20)
    with pytest.raises(HostError) as caught:
        run.call("email", "sendEmail", {"to": "a@example.com", "subject": "s"})
    assert caught.value.code == "DESTINATION_REFUSED"
    assert smtp.messages == []


def test_header_injection_is_refused(cast, smtp, mailer):
    with pytest.raises(HostError) as caught:
        run_for(cast).call(
            "email", "sendEmail", {"to": "a@example.com", "subject": "hi\r\nBcc: x@evil.test"}
        )
    assert caught.value.code == "INVALID_REQUEST"
    assert smtp.messages == []


def test_test_connection_logs_in(cast, smtp, mailer):
    outcome = test_connection(mailer)
    assert outcome.ok and outcome.http_status == 250, outcome.message


def test_a_custom_smtp_connector_with_basic_auth(cast, smtp):
    make_connector(cast.space, email_definition())
    connect(
        cast.space,
        "BASIC",
        {"username": "mailer@example.com", "password": PASSWORD},
        slug="mailer",
        config={"host": "127.0.0.1", "port": str(smtp.port), "security": "none"},
    )
    answer = run_for(cast).call(
        "mailer", "sendEmail", {"to": "a@example.com", "cc": ["b@example.com"], "text": "hi"}
    )
    assert answer["accepted"] == ["a@example.com", "b@example.com"]
    assert smtp.messages[0]["from"] == "mailer@example.com"
