"""Production cookies: `__Host-sessionid` and `__Host-csrftoken`, Secure, Path=/, no Domain."""

from __future__ import annotations

import json

from tests.test_settings import PRODUCTION, run_manage

# Runs inside `manage.py shell` with the production settings: the CSRF cookie from a real GET of
# the login page, and the session cookie from Django's session middleware (signed-cookie
# sessions, so no database is needed).
PROBE = """
import json
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings

csrf = Client().get("/accounts/login/", secure=True, HTTP_HOST="console.example.com")
with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
    request = RequestFactory().get("/", secure=True)
    middleware = SessionMiddleware(lambda r: HttpResponse())
    middleware.process_request(request)
    request.session["k"] = 1
    session = middleware.process_response(request, HttpResponse())
print(json.dumps({
    "status": csrf.status_code,
    "cookies": {
        name: {"path": m["path"], "domain": m["domain"], "secure": m["secure"]}
        for response in (csrf, session) for name, m in response.cookies.items()
    },
}))
"""


def test_production_cookies_carry_the_host_prefix():
    result = run_manage("shell", "-c", PROBE, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["status"] == 200
    assert probe["cookies"] == {
        "__Host-csrftoken": {"path": "/", "domain": "", "secure": True},
        "__Host-sessionid": {"path": "/", "domain": "", "secure": True},
    }


def test_cookies_keep_plain_names_when_not_secure(settings):
    """Embedded mode on plain http: a `__Host-` cookie without Secure would be dropped."""
    assert settings.SESSION_COOKIE_SECURE is False
    assert settings.SESSION_COOKIE_NAME == "sessionid"
    assert settings.CSRF_COOKIE_NAME == "csrftoken"
