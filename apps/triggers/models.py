"""Triggers start workflows without a person: webhooks, schedules and app events.

A Trigger has routes (each a workflow in an environment, with forwarded headers, a JSON filter
and, for schedules, a payload). Everything that arrives is an Event; the pipeline
(DESIGN.md §5) takes each event from the outbox to a Redis Stream, then routes it, and records
one Delivery per (event, route) — the unique pair is what makes "exactly one execution per
route" hold through crashes and replays. Deliveries that fail after their attempts become
DeadLetters, replayable from Activity → Dead letters."""

from __future__ import annotations

import secrets as _secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from apps.connectors.models import Connection
from apps.environments.models import DRAFT
from apps.executions.models import Execution
from apps.spaces.models import Customer, Space
from apps.workflows.models import Workflow


class Kind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SCHEDULER = "scheduler", "Scheduler"
    APP_EVENT = "app-event", "App Event"


class WebhookAuth(models.TextChoices):
    API_KEY = "api-key", "API key"
    NONE = "none", "None (public)"


class ExecutionMode(models.TextChoices):
    PARALLEL = "parallel", "Parallel"
    SEQUENTIAL = "sequential", "Sequential"


class Backoff(models.TextChoices):
    EXPONENTIAL = "exponential", "Exponential (1s, 2s, 4s…)"
    LINEAR = "linear", "Linear (1s, 2s, 3s…)"
    FIXED = "fixed", "Fixed (1s)"


class CatchUp(models.TextChoices):
    SKIP = "skip", "Skip missed runs"
    ONCE = "once", "Run once for the missed runs"


class Overlap(models.TextChoices):
    SKIP = "skip", "Skip while the previous run is still running"
    ALLOW = "allow", "Allow overlapping runs"


class Subscription(models.TextChoices):
    NOT_SUBSCRIBED = "not-subscribed", "Not Subscribed"
    SUBSCRIBED = "subscribed", "Subscribed"
    FAILED = "failed", "Failed"


webhook_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}\Z",
    "3 to 64 letters, digits, dashes or underscores, starting with a letter or digit.",
)


def new_webhook_id() -> str:
    return f"wh_{_secrets.token_hex(8)}"


class Trigger(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="triggers")
    # Optional: a trigger of one customer (tenant); its runs carry that customer.
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="triggers"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=254, blank=True)

    # Webhook and app-event delivery ------------------------------------------------------
    webhook_id = models.CharField(
        max_length=64, default=new_webhook_id, validators=[webhook_id_validator]
    )
    auth = models.CharField(max_length=8, choices=WebhookAuth.choices, default=WebhookAuth.API_KEY)
    execution_mode = models.CharField(
        max_length=10, choices=ExecutionMode.choices, default=ExecutionMode.PARALLEL
    )
    # A path in the body (apps/triggers/filters.py syntax) whose value identifies an event.
    dedup_path = models.CharField(max_length=200, blank=True)
    dead_letter_enabled = models.BooleanField(default=True)
    max_attempts = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    backoff = models.CharField(max_length=12, choices=Backoff.choices, default=Backoff.EXPONENTIAL)
    # Signing: names of Space secrets (apps.secrets) holding the signing secret, so it is
    # encrypted like every secret and a trigger file can name it without holding it. The
    # previous secret stays valid until `signing_previous_until` after a rotation.
    signing_secret_name = models.CharField(max_length=128, blank=True)
    signing_previous_secret_name = models.CharField(max_length=128, blank=True)
    signing_previous_until = models.DateTimeField(null=True, blank=True)

    # Scheduler -------------------------------------------------------------------------
    # apps/triggers/schedules.py: Schedule.to_dict(); its timezone defaults to the Space's.
    schedule = models.JSONField(default=dict, blank=True)
    run_on_create = models.BooleanField(default=False)
    catch_up = models.CharField(max_length=8, choices=CatchUp.choices, default=CatchUp.SKIP)
    overlap = models.CharField(max_length=8, choices=Overlap.choices, default=Overlap.ALLOW)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)

    # App event -------------------------------------------------------------------------
    connector = models.CharField(max_length=80, blank=True)
    # The account the provider sends events for (none for HTTP's Inbound webhook). Deleting
    # the connection keeps the trigger; Retry Subscription then reports it as Failed.
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="triggers"
    )
    event_name = models.CharField(max_length=120, blank=True)
    subscription = models.CharField(
        max_length=16, choices=Subscription.choices, default=Subscription.NOT_SUBSCRIBED
    )
    subscription_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["space", "webhook_id"], name="trigger_webhook_id"),
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1, max_attempts__lte=10),
                name="trigger_max_attempts_range",
            ),
        ]
        indexes = [
            models.Index(fields=["space", "kind", "-created_at"], name="trigger_space_kind"),
            models.Index(fields=["enabled", "next_run_at"], name="trigger_due"),
        ]

    def __str__(self) -> str:
        return self.name


class Route(models.Model):
    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="routes")
    position = models.PositiveSmallIntegerField(default=0)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="routes")
    # DRAFT, `test` (latest published) or an environment slug.
    environment = models.CharField(max_length=40, default="live")
    headers = models.JSONField(default=dict, blank=True)  # forwarded to the run
    filters = models.JSONField(default=list, blank=True)  # apps/triggers/filters.py rows
    payload = models.JSONField(null=True, blank=True)  # schedules: the run's ctx.input

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.trigger} → {self.workflow}"

    @property
    def is_draft(self) -> bool:
        return self.environment == DRAFT


class Source(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    APP_EVENT = "app-event", "App event"
    TEST = "test", "Test event"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # durable, not routed yet
    DELIVERED = "delivered", "Delivered"
    DUPLICATE = "duplicate", "Duplicate"
    FILTERED = "filtered", "Filtered"  # no route matched
    FAILED = "failed", "Failed"  # a route failed and no dead letter was kept
    DEAD_LETTERED = "dead-lettered", "Dead-lettered"


class Event(models.Model):
    # Every webhook inserts a row and routing updates its status: each index costs on both,
    # so the foreign keys use the composite indexes below (which lead with them) or partial
    # ones, instead of one index each.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    trigger = models.ForeignKey(
        Trigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="events",
        db_index=False,
    )  # fmt: skip
    trigger_name = models.CharField(max_length=120, blank=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    source = models.CharField(max_length=12, choices=Source.choices)
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    # SHA-256 of what identifies the event (the sender's event id, the dedup key's value, or
    # the schedule's due time): a second event with the same key within 24 h is a duplicate.
    idempotency_key = models.CharField(max_length=64, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    # Replay (Activity → Events): a new event carrying the original's body, routed afresh.
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays",
        db_index=False,
    )  # fmt: skip
    headers = models.JSONField(default=dict, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    body = models.BinaryField(blank=True, default=b"")  # as received
    payload = models.JSONField(null=True, blank=True)  # the body parsed, when it is JSON
    received_at = models.DateTimeField(default=timezone.now)
    routed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["space", "-received_at"], name="event_space_time"),
            models.Index(fields=["trigger", "-received_at"], name="event_trigger_time"),
            models.Index(fields=["space", "status", "-received_at"], name="event_space_status"),
            models.Index(
                fields=["trigger", "idempotency_key"],
                name="event_trigger_idem",
                condition=~models.Q(idempotency_key=""),
            ),
            models.Index(
                fields=["customer"],
                name="event_customer",
                condition=models.Q(customer__isnull=False),
            ),
            models.Index(
                fields=["duplicate_of"],
                name="event_duplicate_of",
                condition=models.Q(duplicate_of__isnull=False),
            ),
            models.Index(
                fields=["replay_of"],
                name="event_replay_of",
                condition=models.Q(replay_of__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class Outbox(models.Model):
    """Events written in the receiver's transaction, waiting to reach the Redis Stream. A row
    is deleted in the transaction that routes its event, so the table holds only events in
    flight: unpublished ones (the publisher's work) and published ones not routed yet (the
    `events` process publishes them again if their stream entry was lost)."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="outbox")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["published_at", "id"], name="outbox_unpublished")]

    def __str__(self) -> str:
        return f"outbox {self.event_id}"


class DedupKey(models.Model):
    """What makes "a repeated event id or dedup key within 24 h is a duplicate" atomic: the
    first event to insert its key owns it, and 50 concurrent deliveries of one event find one
    owner (apps/triggers/receive.py). Event.idempotency_key cannot be unique itself: the same
    key is a new event once its 24 hours are over. Expired keys are taken over by the next
    event that has them and purged by the `events` process."""

    # SHA-256 of the trigger's id and the value (apps/triggers/receive.py: idempotency_key).
    key = models.CharField(max_length=64, primary_key=True)
    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="dedupkey_expiry")]

    def __str__(self) -> str:
        return self.key


class DeliveryStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"  # sequential mode: behind the trigger's previous run
    STARTED = "started", "Started"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    DEAD_LETTERED = "dead-lettered", "Dead-lettered"


class Delivery(models.Model):
    """One route of one event. The unique pair makes every retry, replay and redelivery
    after a crash start the route's execution at most once."""

    # Indexed by `delivery_once` and `delivery_trigger_status`, which lead with them.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # The event's trigger, kept here so that a sequential trigger's queue is one index away.
    trigger = models.ForeignKey(
        Trigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    route = models.ForeignKey(Route, null=True, on_delete=models.SET_NULL, related_name="+")
    route_key = models.CharField(max_length=40)  # the route's id, kept if it is deleted
    workflow_name = models.CharField(max_length=120, blank=True)
    execution = models.OneToOneField(
        Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="delivery"
    )
    status = models.CharField(max_length=14, choices=DeliveryStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Sequential triggers: when the pipeline saw the started run end (the next may start).
    run_ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "route_key"], name="delivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["trigger", "status"], name="delivery_trigger_status"),
            # Runs of a trigger not seen ending yet: a schedule's overlap check and its
            # failure count (apps/triggers/scheduling.py) read only these, not its history.
            models.Index(
                fields=["trigger"],
                condition=models.Q(status="started", run_ended_at__isnull=True),
                name="delivery_run_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.workflow_name}"


class DeadLetterStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    REPLAYED = "replayed", "Replayed"
    EXPIRED = "expired", "Expired"


class DeadLetter(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="dead_letters")
    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="dead_letter")
    stage = models.CharField(max_length=20)  # route | execute
    error = models.TextField()
    attempts = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["space", "status", "-created_at"], name="dlq_space_status")]

    def __str__(self) -> str:
        return f"dead letter {self.id}"


class WebhookRequest(models.Model):
    """A refused request to a trigger's URL, for the request inspector (an accepted request
    is its event: apps/triggers/selectors.py trigger_requests). Kept to the last 50 or so per
    trigger."""

    trigger = models.ForeignKey(  # indexed by `webhookreq_trigger`
        Trigger, on_delete=models.CASCADE, related_name="requests", db_index=False
    )
    received_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=200)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["trigger", "-received_at"], name="webhookreq_trigger")]

    def __str__(self) -> str:
        return f"{self.status_code} {self.outcome}"
