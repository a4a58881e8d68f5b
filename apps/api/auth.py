"""Authenticating public API requests (DESIGN.md §6).

`authenticate(request)` reads the API key (x-fastn-api-key, x-fastn-access-key or
`Authorization: Bearer`), the Space (x-fastn-space-id / x-fastn-account-id, or the space id in
the URL), the optional customer (x-fastn-space-tenantid / x-fastn-account-tenant-id) and the
stage (stage / x-fastn-env, default `live`), and answers an `ApiContext` or raises `ApiError`
with 401 / 403 / 404."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from apps.api.errors import ApiError
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import ApiKey, ApiKeyMode, Customer, Outcome, Space
from apps.spaces.services import sha256_hex

DRAFT = "DRAFT"
TEST_KEY_STAGES = {DRAFT, "test"}
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiContext:
    space: Space
    api_key: ApiKey
    customer: Customer | None
    stage: str

    @property
    def actor(self) -> Actor:
        return Actor.for_api_key(self.api_key)


def header(request, *names: str) -> str:
    for name in names:
        value = request.headers.get(name)
        if value:
            return value.strip()
    return ""


def raw_api_key(request) -> str:
    key = header(request, "x-fastn-api-key", "x-fastn-access-key")
    if key:
        return key
    scheme, _, credentials = header(request, "authorization").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def authenticate(request, *, space_id: str | None = None) -> ApiContext:
    raw = raw_api_key(request)
    if not raw:
        raise ApiError(401, "Missing API key: send it in the x-fastn-api-key header.")
    api_key = (
        ApiKey.objects.select_related("space")
        .filter(key_hash=sha256_hex(raw), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        raise ApiError(401, "Invalid or revoked API key.")

    claimed = header(request, "x-fastn-space-id", "x-fastn-account-id") or space_id or ""
    if not claimed:
        raise ApiError(401, "Missing Space id: send it in the x-fastn-space-id header.")
    if space_id and claimed != space_id:
        raise ApiError(403, "The x-fastn-space-id header does not match the Space in the URL.")
    if not is_same_uuid(claimed, api_key.space_id):
        audit_record(
            space=api_key.space,
            actor=Actor.for_api_key(api_key),
            action="api.auth",
            outcome=Outcome.DENIED,
            request=request,
            detail={"reason": "space mismatch", "claimed_space": claimed[:64]},
        )
        raise ApiError(403, "This API key does not belong to that Space.")

    stage = header(request, "stage", "x-fastn-env") or "live"
    if stage.upper() == DRAFT:
        stage = DRAFT
    if api_key.mode == ApiKeyMode.TEST and stage not in TEST_KEY_STAGES:
        raise ApiError(
            403, f"A test API key can reach only DRAFT and the test environment, not {stage!r}."
        )

    customer = None
    tenant = header(request, "x-fastn-space-tenantid", "x-fastn-account-tenant-id")
    if tenant:
        customer = Customer.objects.filter(space_id=api_key.space_id, external_id=tenant).first()
        if customer is None:
            raise ApiError(404, f"No customer with the id {tenant!r} in this Space.")

    mark_used(api_key)
    return ApiContext(space=api_key.space, api_key=api_key, customer=customer, stage=stage)


def is_same_uuid(text: str, expected: uuid.UUID) -> bool:
    try:
        return uuid.UUID(text) == expected
    except ValueError:
        return False


def mark_used(api_key: ApiKey) -> None:
    """Record last use at most once a minute: a write on every request would cost more than
    the answer is worth."""
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
