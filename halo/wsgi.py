"""WSGI entry point: HTTP in production is served by gunicorn workers from here."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")

application = get_wsgi_application()
