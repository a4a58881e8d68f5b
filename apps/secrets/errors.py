"""Domain errors of the secrets app. Their messages name secrets and keys, never values."""

from __future__ import annotations


class SecretError(Exception):
    """Base class: anything that stops a secret from being read or written."""


class SecretNotFound(SecretError):
    """No secret of that name for the customer or the Space."""


class SecretUndecryptable(SecretError):
    """The ciphertext does not belong to its row (tampered or copied) or its key is wrong."""


class KeyringError(SecretError):
    """A data key cannot be unwrapped with the configured master keys."""
