"""WSGI entry point of the floor project: `gunicorn floors.wsgi` with `benchmarks/` on the path."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "floors.settings")
application = get_wsgi_application()
