from django.apps import AppConfig


class DatastoreConfig(AppConfig):
    name = "apps.datastore"
    label = "datastore"
