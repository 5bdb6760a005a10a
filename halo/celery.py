"""The Celery application. Tasks are thin adapters (``<app>/tasks.py``) that load by id and call one service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")

app = Celery("halo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Periodic jobs are listed in settings (CELERY_BEAT_SCHEDULE): beat runs them in production and, on the
# embedded default, inside `manage.py serve`.
