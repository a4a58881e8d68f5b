from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        from apps.connectors.credentials import credentials_reencrypt
        from apps.secrets.signals import data_keys_retired

        data_keys_retired.connect(credentials_reencrypt, dispatch_uid="connectors-credentials")
