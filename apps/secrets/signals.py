"""Signals of the secrets app."""

from django.dispatch import Signal

# Sent by `services.datakey_rotate` once the new data key is active, with `report` (its
# RotationReport) and `batch_size`. Apps that seal values of their own with the data keys
# (connection credentials, OAuth client secrets) re-encrypt them under the new key and add what
# they did to the report's `others` and `failed_others`, so that one `secret rotate-keys` moves
# every ciphertext off the retired keys.
data_keys_retired = Signal()
