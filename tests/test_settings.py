"""Production settings: `check --deploy` is clean, and unsafe configurations refuse to start."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    skip = ("FASTN_", "SECRET", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "FASTN_ENV": "production",
    "SECRET_KEY": "x" * 64 + "-production-secret-key-for-the-check",
    "FASTN_MASTER_KEY": base64.b64encode(b"k" * 32).decode(),
    "ALLOWED_HOSTS": "console.example.com",
}


def test_check_deploy_passes_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_debug_is_refused_in_production():
    result = run_manage("check", DEBUG="true", **PRODUCTION)
    assert "DEBUG cannot be on" in result.stderr


def test_trusted_proxy_count_must_be_at_least_one():
    result = run_manage("check", BEHIND_PROXY="true", FASTN_TRUSTED_PROXY_COUNT="0", **PRODUCTION)
    assert result.returncode != 0
    assert "FASTN_TRUSTED_PROXY_COUNT must be at least 1" in result.stderr
