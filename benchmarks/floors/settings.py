"""Settings of the floor project: only what a JSON view and a Celery call need.

No installed apps, no middleware, no database, no templates. Run with
`DJANGO_SETTINGS_MODULE=floors.settings` and `benchmarks/` on the Python path."""

import os

SECRET_KEY = "floors-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "floors.urls"
WSGI_APPLICATION = "floors.wsgi.application"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
LOGGING_CONFIG = None

FLOORS_REDIS_URL = os.environ.get("FLOORS_REDIS_URL", "redis://127.0.0.1:6379/2")
