from django.apps import AppConfig


class DatastoreConfig(AppConfig):
    name = "apps.datastore"
    label = "datastore"

    def ready(self) -> None:
        from apps.datastore import lifecycle  # noqa: F401  customer/Space deletion receivers
