"""The Content-Security-Policy header, and the templates it relies on: no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("apps/*/templates")]

EXPECTED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "worker-src": ["blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/no-such-page/"])
def test_every_page_carries_the_policy(client, db, path):
    response = client.get(path)
    assert directives(response["Content-Security-Policy"]) == EXPECTED


def test_console_pages_carry_the_policy(client, cast):
    client.force_login(cast.owner)
    for path in (f"/s/{cast.space.slug}/", f"/s/{cast.space.slug}/workflows/"):
        response = client.get(path, follow=True)
        assert response.status_code == 200
        assert directives(response["Content-Security-Policy"]) == EXPECTED


def template_files() -> list[Path]:
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html"))


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S)


def test_templates_have_no_inline_script_and_no_inline_handlers():
    """script-src 'self' refuses inline code: page data goes in json_script blocks, behaviour
    in static/js. A new inline <script> or on*= attribute would silently not run."""
    offenders = []
    for path in template_files():
        text = path.read_text()
        for match in SCRIPT_TAG.finditer(text):
            attrs = match.group(1)
            if "src=" not in attrs and "application/json" not in attrs:
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
        offenders += [
            f"{path.relative_to(ROOT)}: {m.group(0)[:80]}" for m in INLINE_HANDLER.finditer(text)
        ]
        if "javascript:" in text or "hx-on" in text:
            offenders.append(f"{path.relative_to(ROOT)}: javascript: URL or hx-on attribute")
    assert offenders == []
    assert len(template_files()) > 20
