from __future__ import annotations

import pytest

from apps.secrets.crypto import new_master_key_entry
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor


@pytest.fixture(autouse=True)
def master_key(settings) -> str:
    """Every test gets its own master key, as if FASTN_MASTER_KEY were set."""
    settings.FASTN_MASTER_KEY = new_master_key_entry("test1")
    return settings.FASTN_MASTER_KEY


def make_secret(space, name="API_TOKEN", value="s3cr3t-value", *, type="text", customer=None):
    return secret_create(
        space, name=name, type=type, value=value, customer=customer, actor=Actor.system("test")
    )
