"""Production settings: `check --deploy` is clean, and unsafe configurations refuse to start."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


BAD_VALUES = [
    ({"FASTN_SANDBOX_POOL_SIZE": "two"}, "FASTN_SANDBOX_POOL_SIZE must be an integer, not 'two'"),
    ({"FASTN_SANDBOX_POOL_SIZE": "0"}, "FASTN_SANDBOX_POOL_SIZE must be at least 1"),
    ({"FASTN_SANDBOX_POOL_MAX": "8.5"}, "FASTN_SANDBOX_POOL_MAX must be an integer, not '8.5'"),
    (
        {"FASTN_SANDBOX_POOL_SIZE": "4", "FASTN_SANDBOX_POOL_MAX": "2"},
        "FASTN_SANDBOX_POOL_MAX must be at least FASTN_SANDBOX_POOL_SIZE (4)",
    ),
    ({"FASTN_SANDBOX_MAX_RUNS": "-1"}, "FASTN_SANDBOX_MAX_RUNS must be at least 1"),
    ({"FASTN_SANDBOX_MAX_RUNS": "many"}, "FASTN_SANDBOX_MAX_RUNS must be an integer"),
    (
        {"FASTN_SANDBOX_PYTHON": "/nonexistent/python3"},
        "FASTN_SANDBOX_PYTHON must be an executable Python, not '/nonexistent/python3'",
    ),
    (
        {"FASTN_HTTP_ALLOW_LOOPBACK": "maybe"},
        "FASTN_HTTP_ALLOW_LOOPBACK must be true or false, not 'maybe'",
    ),
]


@pytest.mark.parametrize(("env", "message"), BAD_VALUES, ids=[m.split()[0] for _, m in BAD_VALUES])
def test_a_bad_sandbox_or_connector_value_refuses_to_start(env, message):
    result = run_manage("check", **env, **PRODUCTION)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


PRINT_RUNTIME_CONFIG = (
    "from apps.runtime import pool; from django.conf import settings; "
    "print(pool._settings.size, pool._settings.max_size, pool._settings.max_runs, "
    "pool._settings.python, settings.FASTN_HTTP_ALLOW_LOOPBACK)"
)


def test_the_sandbox_pool_and_the_http_connector_get_their_values_from_settings():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        PRINT_RUNTIME_CONFIG,
        FASTN_SANDBOX_POOL_SIZE="3",
        FASTN_SANDBOX_POOL_MAX="5",
        FASTN_SANDBOX_MAX_RUNS="7",
        FASTN_SANDBOX_PYTHON="python3",
        FASTN_HTTP_ALLOW_LOOPBACK=" On ",
        **PRODUCTION,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "5", "7", "python3", "True"]


def test_the_sandbox_pool_defaults_follow_the_pool_size():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        PRINT_RUNTIME_CONFIG,
        FASTN_SANDBOX_POOL_SIZE="12",
        **PRODUCTION,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["12", "12", "500", sys.executable, "False"]
