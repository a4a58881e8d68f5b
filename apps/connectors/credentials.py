"""Connection credentials and OAuth client secrets, encrypted exactly like secrets: AES-GCM
under the active data key (apps/secrets/crypto.py), with associated data bound to the row, so
a ciphertext copied onto another connection, Space, customer or connector does not decrypt."""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidTag
from django.db import transaction

from apps.connectors.models import Connection, OAuthApp
from apps.secrets import crypto
from apps.secrets.models import DataKey
from apps.secrets.services import RotationReport, data_key_for_write, data_key_plain


class CredentialUndecryptable(Exception):
    pass


def connection_aad(connection: Connection) -> bytes:
    customer = connection.customer_id or ""
    return (
        f"connection|{connection.space_id}|{customer}|{connection.id}|{connection.connector_slug}"
    ).encode()


def oauth_app_aad(app: OAuthApp) -> bytes:
    return f"oauth-app|{app.space_id}|{app.id}|{app.connector_slug}".encode()


def _aad(row: Connection | OAuthApp) -> bytes:
    return connection_aad(row) if isinstance(row, Connection) else oauth_app_aad(row)


def seal(row: Connection | OAuthApp, value: Any) -> None:
    """Encrypt `value` (JSON) onto the row's ciphertext fields; the caller saves the row."""
    with transaction.atomic():
        data_key = data_key_for_write()
    seal_with(row, value, data_key)


def seal_with(row: Connection | OAuthApp, value: Any, data_key: DataKey) -> None:
    plaintext = json.dumps(value, separators=(",", ":"))
    row.nonce, row.ciphertext = crypto.encrypt(data_key_plain(data_key), plaintext, _aad(row))
    row.data_key = data_key


def unseal(row: Connection | OAuthApp) -> Any:
    """The decrypted JSON of a row (load it with `select_related("data_key")`); None when
    the row holds no credential (No Auth, or disconnected)."""
    if not row.ciphertext or row.data_key_id is None:
        return None
    key = data_key_plain(row.data_key)
    try:
        plaintext = crypto.decrypt(key, bytes(row.nonce), bytes(row.ciphertext), _aad(row))
    except InvalidTag:
        raise CredentialUndecryptable(
            "The stored credential cannot be decrypted: it does not belong to this row "
            "(tampered with or copied from another one). Reconnect to store it again."
        ) from None
    return json.loads(plaintext)


def credentials_reencrypt(*, report: RotationReport, batch_size: int, **kwargs: Any) -> None:
    """Receiver of secrets.signals.data_keys_retired: re-encrypt every connection credential
    and OAuth client secret still under a retired data key, as `datakey_rotate` does secrets
    (batches, each row a conditional UPDATE on its data key and nonce, so a credential
    refreshed meanwhile is left alone; an undecryptable row is reported and left as it is)."""
    for model, what in ((Connection, "connection"), (OAuthApp, "OAuth app")):
        done, failed = _reencrypt_rows(model, batch_size)
        report.others[f"{what} credential(s)"] = done
        report.failed_others += [f"{what} {pk}" for pk in failed]


def _reencrypt_rows(model: type[Connection] | type[OAuthApp], batch_size: int) -> tuple[int, list]:
    done, failed = 0, []
    while True:
        batch = list(
            model.objects.select_related("data_key")
            .filter(data_key__active=False)
            .exclude(pk__in=failed)
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return done, failed
        with transaction.atomic():
            target = data_key_for_write()
            for row in batch:
                try:
                    value = unseal(row)
                except CredentialUndecryptable:
                    failed.append(row.pk)
                    continue
                old_key_id, old_nonce = row.data_key_id, bytes(row.nonce)
                seal_with(row, value, target)
                done += model.objects.filter(
                    pk=row.pk, data_key_id=old_key_id, nonce=old_nonce
                ).update(ciphertext=row.ciphertext, nonce=row.nonce, data_key=target)
