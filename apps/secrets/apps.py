from django.apps import AppConfig


class SecretsConfig(AppConfig):
    name = "apps.secrets"
    label = "secrets"
    verbose_name = "Secrets"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from apps.secrets import crypto, lifecycle  # noqa: F401  lifecycle: deletion receivers

        # Load the master keys at startup: a production process without FASTN_MASTER_KEY (or
        # with a malformed one) stops here with ImproperlyConfigured instead of serving.
        crypto.keyring()
        setting_changed.connect(forget_keyring, dispatch_uid="secrets.forget_keyring")


def forget_keyring(*, setting: str, **kwargs) -> None:
    """Tests override FASTN_MASTER_KEY / FASTN_ENV / VAR_DIR: load the keyring again."""
    from apps.secrets import crypto

    if setting in {"FASTN_MASTER_KEY", "FASTN_ENV", "VAR_DIR"}:
        crypto.keyring.cache_clear()
