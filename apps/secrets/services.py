"""Writes and runtime reads of secrets. Every change is atomic and audited without its value.

Other apps call:
- `secret_create`, `secret_rotate`, `secret_delete` (console, CLI, API);
- `secret_resolve(space, name=…, customer=…)` (the runtime host, for `fastn.secrets.get`);
- `datakey_rotate` (the `secret rotate-keys` command)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.secrets import crypto
from apps.secrets.errors import SecretNotFound, SecretUndecryptable
from apps.secrets.models import NAME_MAX_LENGTH, DataKey, Secret, SecretType, name_validator
from apps.secrets.signals import data_keys_retired
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Customer, Space
from fastn_console.strictjson import JsonInputError, parse_json

MAX_VALUE_CHARS = 64 * 1024
LAST_USED_RESOLUTION = timedelta(minutes=1)
ROTATION_BATCH_SIZE = 100

# Plaintext data keys by id. A data key's plaintext never changes (re-wrapping under another
# master key changes only its wrapping), so entries never go stale.
_plain_data_keys: dict[uuid.UUID, bytes] = {}


# --- Validation -----------------------------------------------------------------------------


def validate_name(name: str) -> None:
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"A name has 1 to {NAME_MAX_LENGTH} characters."})
    try:
        name_validator(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None


def validate_value(type: str, value: str) -> None:
    """Error messages describe the problem and its position, never the value itself."""
    if type not in SecretType.values:
        raise ValidationError({"type": "Choose Text or JSON."})
    if not isinstance(value, str) or value == "":
        raise ValidationError({"value": "Enter a value."})
    if len(value) > MAX_VALUE_CHARS:
        raise ValidationError({"value": f"A value has at most {MAX_VALUE_CHARS} characters."})
    if type == SecretType.JSON:
        try:
            parse_json(value, label="The value")  # the API's strict rules; no value in messages
        except JsonInputError as exc:
            raise ValidationError({"value": f"Not valid JSON: {exc.reason}."}) from None


def scope_detail(customer: Customer | None) -> dict:
    return {"customer": customer.external_id} if customer is not None else {"scope": "space"}


# --- Keys -----------------------------------------------------------------------------------


def data_key_plain(data_key: DataKey) -> bytes:
    plain = _plain_data_keys.get(data_key.id)
    if plain is None:
        master = crypto.keyring().get(data_key.master_key_id)
        plain = crypto.unwrap_data_key(
            bytes(data_key.wrapped_key), data_key_id=data_key.id, master=master
        )
        _plain_data_keys[data_key.id] = plain
    return plain


def data_key_create() -> DataKey:
    master = crypto.keyring().current
    data_key_id = uuid.uuid4()
    plain = crypto.new_data_key()
    data_key = DataKey.objects.create(
        id=data_key_id,
        wrapped_key=crypto.wrap_data_key(plain, data_key_id=data_key_id, master=master),
        master_key_id=master.id,
        active=True,
    )
    _plain_data_keys[data_key_id] = plain
    return data_key


def data_key_for_write() -> DataKey:
    """The active data key, locked against retirement until the caller's transaction ends, so
    a value written concurrently with `datakey_rotate` is either seen by its re-encryption pass
    or written under the new key. Makes the first data key on first use."""
    for _ in range(3):
        data_key = DataKey.objects.select_for_update(no_key=True).filter(active=True).first()
        if data_key is not None:
            return data_key
        try:
            with transaction.atomic():
                return data_key_create()
        except IntegrityError:  # made (or rotated) concurrently: read it again
            continue
    raise RuntimeError("Could not obtain an active data key.")


def encrypt_into(secret: Secret, value: str, data_key: DataKey) -> None:
    aad = crypto.secret_aad(secret.space_id, secret.customer_id, secret.name)
    secret.nonce, secret.ciphertext = crypto.encrypt(data_key_plain(data_key), value, aad)
    secret.data_key = data_key


def secret_decrypt(secret: Secret) -> str:
    """The plaintext of a row loaded with its data key (`select_related("data_key")`)."""
    key = data_key_plain(secret.data_key)
    aad = crypto.secret_aad(secret.space_id, secret.customer_id, secret.name)
    try:
        return crypto.decrypt(key, bytes(secret.nonce), bytes(secret.ciphertext), aad)
    except InvalidTag:
        raise SecretUndecryptable(
            f"Secret {secret.name} cannot be decrypted: its ciphertext does not belong to this "
            "Space, customer and name (tampered with or copied from another row)."
        ) from None


# --- Secrets --------------------------------------------------------------------------------


@transaction.atomic
def secret_create(
    space: Space,
    *,
    name: str,
    type: str,
    value: str,
    customer: Customer | None = None,
    actor: Actor,
    request=None,
) -> Secret:
    validate_name(name)
    validate_value(type, value)
    if customer is not None and customer.space_id != space.id:
        raise ValidationError({"customer": "This customer belongs to another Space."})
    scope = f"for {customer.name}" if customer is not None else "for the Space"
    duplicate = ValidationError({"name": f"A secret named {name} already exists {scope}."})
    if Secret.objects.filter(space=space, customer=customer, name=name).exists():
        raise duplicate
    secret = Secret(
        space=space, customer=customer, name=name, type=type, created_by_id=actor.user_id
    )
    encrypt_into(secret, value, data_key_for_write())
    try:
        with transaction.atomic():
            secret.save(force_insert=True)
    except IntegrityError:  # created concurrently
        raise duplicate from None
    audit_record(
        space=space,
        actor=actor,
        action="secret.create",
        resource=secret,
        request=request,
        detail={"type": type, **scope_detail(customer)},
    )
    return secret


@transaction.atomic
def secret_rotate(secret: Secret, *, value: str, actor: Actor, request=None) -> Secret:
    """Replace the value (same name, scope and type)."""
    validate_value(secret.type, value)
    encrypt_into(secret, value, data_key_for_write())
    secret.updated_at = timezone.now()
    updated = Secret.objects.filter(pk=secret.pk).update(
        ciphertext=secret.ciphertext,
        nonce=secret.nonce,
        data_key=secret.data_key,
        updated_at=secret.updated_at,
    )
    if not updated:
        raise ValidationError("This secret no longer exists.")
    audit_record(
        space=secret.space,
        actor=actor,
        action="secret.rotate",
        resource=secret,
        request=request,
        detail={"type": secret.type, **scope_detail(secret.customer)},
    )
    return secret


@transaction.atomic
def secret_delete(secret: Secret, *, actor: Actor, request=None) -> None:
    audit_record(
        space=secret.space,
        actor=actor,
        action="secret.delete",
        resource=secret,
        request=request,
        detail={"type": secret.type, **scope_detail(secret.customer)},
    )
    secret.delete()


def secret_resolve(space: Space, *, name: str, customer: Customer | None = None) -> tuple[str, str]:
    """(type, plaintext) of the customer's secret `name`, else the Space's. For the runtime
    host only: the value must go nowhere but into the run that asked for it.

    1. one query for the row and its data key (consistent with a concurrent rotation);
    2. decrypt (SecretUndecryptable if the row was tampered with);
    3. record the use, at most once a minute per row (a conditional UPDATE)."""
    if not name or len(name) > NAME_MAX_LENGTH:
        raise SecretNotFound(f"Secret {name[:NAME_MAX_LENGTH]} is not defined in this Space")
    rows = Secret.objects.select_related("data_key").filter(space=space, name=name)
    if customer is None:
        rows = rows.filter(customer__isnull=True)
    else:
        rows = rows.filter(Q(customer=customer) | Q(customer__isnull=True)).order_by(
            F("customer_id").asc(nulls_last=True)
        )
    secret = rows.first()
    if secret is None:
        raise SecretNotFound(f"Secret {name} is not defined in this Space")
    plaintext = secret_decrypt(secret)
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if secret.last_used_at is None or secret.last_used_at <= stale:
        Secret.objects.filter(pk=secret.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
    return secret.type, plaintext


# --- Key rotation ---------------------------------------------------------------------------


@dataclass
class RotationReport:
    data_key_id: uuid.UUID
    master_key_id: str
    rewrapped: int = 0
    reencrypted: int = 0
    # Rows that could not be decrypted (tampered with): left as they are, named here.
    failed: list[uuid.UUID] = field(default_factory=list)
    # What the receivers of signals.data_keys_retired re-encrypted, by what it is
    # ("connection credential(s)": 3), and what they could not ("connection <id>").
    others: dict[str, int] = field(default_factory=dict)
    failed_others: list[str] = field(default_factory=list)


def datakey_rotate(*, actor: Actor, batch_size: int = ROTATION_BATCH_SIZE) -> RotationReport:
    """Rotate keys online: runs keep reading secrets throughout.

    1. Re-wrap every data key not wrapped by the current master key (a conditional UPDATE per
       key; its plaintext, and so every ciphertext under it, stays the same).
    2. Retire the active data key and make a new one, in one audited transaction.
    3. Re-encrypt the secrets under retired keys in batches of `batch_size`, each batch its
       own transaction, each row a conditional UPDATE on (id, data key, nonce): a value rotated
       meanwhile is left alone. A reader loads a row together with its data key in one
       statement and retired keys are kept, so it always finds a consistent, decryptable pair.
    4. Send `signals.data_keys_retired`, whose receivers do the same for the values other apps
       seal with the data keys (connection credentials).
    """
    current = crypto.keyring().current
    rewrapped = 0
    for data_key in DataKey.objects.exclude(master_key_id=current.id):
        wrapped = crypto.wrap_data_key(
            data_key_plain(data_key), data_key_id=data_key.id, master=current
        )
        rewrapped += DataKey.objects.filter(
            pk=data_key.pk, master_key_id=data_key.master_key_id
        ).update(wrapped_key=wrapped, master_key_id=current.id)

    with transaction.atomic():
        retiring = list(DataKey.objects.select_for_update().filter(active=True))
        DataKey.objects.filter(pk__in=[k.pk for k in retiring]).update(
            active=False, retired_at=timezone.now()
        )
        new_key = data_key_create()
        audit_record(
            space=None,
            actor=actor,
            action="datakey.rotate",
            resource=new_key,
            resource_label=f"data key {new_key.id}",
            detail={
                "master_key_id": current.id,
                "retired": [str(k.pk) for k in retiring],
                "rewrapped": rewrapped,
            },
        )

    report = RotationReport(new_key.id, current.id, rewrapped=rewrapped)
    _secrets_reencrypt(report, batch_size)
    data_keys_retired.send(sender=DataKey, report=report, batch_size=batch_size)
    return report


def _secrets_reencrypt(report: RotationReport, batch_size: int) -> None:
    while True:
        batch = list(
            Secret.objects.select_related("data_key")
            .filter(data_key__active=False)
            .exclude(pk__in=report.failed)
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return
        with transaction.atomic():
            # Whichever key is active now: a concurrent rotation may have replaced ours.
            target = data_key_for_write()
            for secret in batch:
                try:
                    value = secret_decrypt(secret)
                except SecretUndecryptable:
                    report.failed.append(secret.pk)
                    continue
                old_key_id, old_nonce = secret.data_key_id, bytes(secret.nonce)
                encrypt_into(secret, value, target)
                report.reencrypted += Secret.objects.filter(
                    pk=secret.pk, data_key_id=old_key_id, nonce=old_nonce
                ).update(ciphertext=secret.ciphertext, nonce=secret.nonce, data_key=target)


def master_key_ids_in_use() -> set[str]:
    return set(DataKey.objects.values_list("master_key_id", flat=True).distinct())
