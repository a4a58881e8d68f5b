"""Connectors (what a service offers), connections (a Space's or a customer's credential for
one) and traces (one row per connector call from a workflow).

Built-in (MANAGED) connectors are data files in `apps/connectors/catalog/`, never rows: every
Space sees them. A Space's own (PERSONAL) connectors are `Connector` rows whose definitions
live in immutable `ConnectorVersion`s, in the same format as the data files
(`apps/connectors/definition.py`). Connections point at a connector by slug, which is unique
across the built-ins and the Space's own connectors."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.secrets.models import DataKey
from apps.spaces.models import Customer, Space


class AuthMethod(models.TextChoices):
    """The reference's internal values; `INPUT` is what the console calls Custom."""

    NO_AUTH = "NO_AUTH", "No Auth"
    BASIC = "BASIC", "Basic Auth"
    DIGEST = "DIGEST", "Digest Auth"
    BEARER = "BEARER", "Bearer Token"
    API_KEY = "API_KEY", "API Key"
    OAUTH_2 = "OAUTH_2", "OAuth 2.0"
    CUSTOM = "INPUT", "Custom"


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class Connector(models.Model):
    """A Space's own connector. Its definition is in its versions: `latest_version` is what
    the Test tab, DRAFT and non-live environments call; `live_version` (set by Publish to
    live) is what the live environment calls, so editing never changes live runs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="connectors")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=60, blank=True)
    domain = models.CharField(max_length=253, blank=True)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    icon_url = models.URLField(max_length=500, blank=True)
    latest_version = models.ForeignKey(
        "ConnectorVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    live_version = models.ForeignKey(
        "ConnectorVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["space", "slug"], name="connector_unique_space_slug")
        ]

    def __str__(self) -> str:
        return self.name


class ConnectorVersion(models.Model):
    """An immutable snapshot of a connector's definition (the data-file format, as JSON)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    # Where it came from: "form", "openapi", "file" (manage.py connector import).
    source = models.CharField(max_length=16, default="form")
    # What an OpenAPI import did (apps.connectors.openapi.ImportReport.as_json()), for its
    # report page; empty for versions made otherwise.
    import_report = models.JSONField(default=dict, blank=True)
    # Counted once when the version is written, so that the Connectors page needs no definition.
    action_count = models.PositiveIntegerField(default=0)
    event_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "number"], name="connectorversion_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connector} v{self.number}"


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"  # an OAuth authorization not finished yet
    EXPIRED = "expired", "Expired"  # a token that could not be refreshed
    FAILED = "failed", "Failed"  # the last test or call was refused by the service


class Connection(models.Model):
    """An authenticated instance of a connector for the Space (customer null) or one of its
    customers. The credential is a JSON object encrypted like a secret (same data keys;
    associated data from `apps.connectors.credentials.connection_aad`, bound to this row),
    written once and never shown again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="connections")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="connections"
    )
    connector_slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=120)
    auth_method = models.CharField(max_length=8, choices=AuthMethod.choices)
    # Settings that are not secret: the connector's connection fields (e.g. a Shopify shop),
    # an API key's header or query name, a Test connection URL.
    config = models.JSONField(default=dict, blank=True)
    ciphertext = models.BinaryField(default=b"")
    nonce = models.BinaryField(default=b"")
    data_key = models.ForeignKey(
        DataKey, null=True, blank=True, on_delete=models.PROTECT, related_name="connections"
    )
    # The runtime uses the customer's (else the Space's) default connection for a connector.
    is_default = models.BooleanField(default=False)
    status = models.CharField(
        max_length=8, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE
    )
    last_error = models.TextField(blank=True)
    # OAuth 2.0: when the access token expires (refreshed shortly before).
    expires_at = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["connector_slug", "-created_at"]
        indexes = [models.Index(fields=["space", "connector_slug"], name="connection_space_slug")]
        constraints = [
            models.UniqueConstraint(
                fields=["space", "connector_slug"],
                condition=Q(is_default=True, customer__isnull=True),
                name="connection_one_space_default",
            ),
            models.UniqueConstraint(
                fields=["space", "customer", "connector_slug"],
                condition=Q(is_default=True, customer__isnull=False),
                name="connection_one_customer_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_label(self) -> str:
        return self.customer.name if self.customer_id else "Space"


class OAuthApp(models.Model):
    """The OAuth 2.0 client (id and secret) this Space uses for one connector (Settings →
    OAuth Apps). The secret is encrypted like a credential; the endpoints come from the
    connector's definition unless overridden here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="oauth_apps")
    connector_slug = models.SlugField(max_length=64)
    client_id = models.CharField(max_length=500)
    ciphertext = models.BinaryField(default=b"")
    nonce = models.BinaryField(default=b"")
    data_key = models.ForeignKey(
        DataKey, null=True, blank=True, on_delete=models.PROTECT, related_name="oauth_apps"
    )
    authorization_url = models.URLField(max_length=500, blank=True)
    token_url = models.URLField(max_length=500, blank=True)
    scopes = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["connector_slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["space", "connector_slug"], name="oauthapp_unique_space_connector"
            )
        ]

    def __str__(self) -> str:
        return f"OAuth app for {self.connector_slug}"


class OAuthState(models.Model):
    """One authorization-code flow in progress: the `state` sent to the provider (stored as
    its SHA-256), the PKCE verifier, and the pending connection it completes. Used once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    state_hash = models.CharField(max_length=64, unique=True)
    code_verifier = models.CharField(max_length=128)
    redirect_uri = models.URLField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"OAuth state for {self.connection_id}"


class CallStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"


class ConnectorCall(models.Model):
    """A trace (Activity → Traces): one connector call made by a run, with its request and
    response redacted (credentials and the run's secrets) and capped."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    execution = models.ForeignKey(
        "executions.Execution", null=True, blank=True, on_delete=models.CASCADE,
        related_name="+", db_index=False,
    )  # fmt: skip
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    connection_name = models.CharField(max_length=120, blank=True)
    connector_slug = models.CharField(max_length=64)
    connector_version = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=128)
    method = models.CharField(max_length=8, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=8, choices=CallStatus.choices, default=CallStatus.PENDING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_bytes = models.PositiveIntegerField(default=0)
    response_bytes = models.PositiveIntegerField(default=0)
    # {"headers": {...}, "body": ...}, redacted and capped.
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["space", "-started_at"], name="call_space_started"),
            models.Index(fields=["space", "status", "-started_at"], name="call_space_status"),
            models.Index(
                fields=["space", "connector_slug", "-started_at"], name="call_space_connector"
            ),
            models.Index(
                fields=["execution"], name="call_execution", condition=Q(execution__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connector_slug}.{self.action}"
