"""Authenticating public API requests (DESIGN.md §6).

`authenticate(request)` reads the API key (x-fastn-api-key, x-fastn-access-key or
`Authorization: Bearer`), the Space (x-fastn-space-id / x-fastn-account-id, or the space id in
the URL), the optional customer (x-fastn-space-tenantid / x-fastn-account-tenant-id) and the
stage (stage / x-fastn-env, default `live`), and answers an `ApiContext` or raises `ApiError`
with 401 / 403 / 404."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from apps.api.errors import ApiError
from apps.environments.models import DRAFT, TEST
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import ApiKey, ApiKeyMode, Customer, Outcome, Space
from apps.spaces.services import sha256_hex
from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.selectors import (
    deployed_target_columns,
    deployed_target_from_row,
    deployed_target_join,
)
from fastn_console import rawsql

TEST_KEY_STAGES = {DRAFT, "test"}
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiContext:
    space: Space
    api_key: ApiKey
    customer: Customer | None
    stage: str
    # The workflow the request runs and its deployed version, when read with the key.
    target: tuple[Workflow, WorkflowVersion] | None = None

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


def authenticate(
    request, *, space_id: str | None = None, workflow_slug: str | None = None
) -> ApiContext:
    """`workflow_slug`: the request runs that workflow; when the stage is an environment
    with deployments, the version deployed there is read in the same statement as the key
    (`ApiContext.target`)."""
    raw = raw_api_key(request)
    if not raw:
        raise ApiError(401, "Missing API key: send it in the x-fastn-api-key header.")
    stage = header(request, "stage", "x-fastn-env") or "live"
    if stage.upper() == DRAFT:
        stage = DRAFT
    if workflow_slug and stage != DRAFT and stage.lower() != TEST:
        api_key, target = live_api_key_and_target(sha256_hex(raw), workflow_slug, stage.lower())
    else:
        api_key, target = live_api_key(sha256_hex(raw)), None
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
    return ApiContext(
        space=api_key.space, api_key=api_key, customer=customer, stage=stage, target=target
    )


# Every API request starts here, so these are hand-written (see fastn_console/rawsql.py).
def live_api_key(key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, its Space loaded."""
    row = rawsql.fetchone(_live_api_key_sql(), [key_hash])
    return _api_key_from_row(row) if row else None


def live_api_key_and_target(
    key_hash: str, workflow_slug: str, environment_slug: str
) -> tuple[ApiKey | None, tuple[Workflow, WorkflowVersion] | None]:
    """`live_api_key`, and the enabled workflow `workflow_slug` of the key's Space with its
    version deployed to the environment (None when there is none): one round trip."""
    sql = _live_api_key_sql(
        join=deployed_target_join("k.space_id"), also=f", {deployed_target_columns()}"
    )
    row = rawsql.fetchone(sql, [workflow_slug, environment_slug, key_hash])
    if row is None:
        return None, None
    width = _key_and_space_width()
    return _api_key_from_row(row[:width]), deployed_target_from_row(row[width:])


def _key_and_space_width() -> int:
    return len(ApiKey._meta.concrete_fields) + len(Space._meta.concrete_fields)


def _api_key_from_row(row) -> ApiKey:
    width = len(ApiKey._meta.concrete_fields)
    api_key = rawsql.instance(ApiKey, row[:width])
    api_key.space = rawsql.instance(Space, row[width : _key_and_space_width()])
    return api_key


@functools.cache
def _live_api_key_sql(join: str = "", also: str = "") -> str:
    return (
        f"SELECT {rawsql.columns(ApiKey, 'k')}, {rawsql.columns(Space, 's')}{also}"
        f" FROM {rawsql.table(ApiKey)} k JOIN {rawsql.table(Space)} s ON s.id = k.space_id"
        f"{join} WHERE k.key_hash = %s AND k.revoked_at IS NULL"
    )


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
