"""The Celery application. Tasks are thin adapters (``<app>/tasks.py``) that load by id and call one service.

A worker or beat process sets up its own log handlers (replacing Django's): each gets Halo's credential
filter (``halo.logs.RedactSecrets``) as Django's console handler has it.
"""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from halo.logs import RedactSecrets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")

app = Celery("halo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Periodic jobs are listed in settings (CELERY_BEAT_SCHEDULE): beat runs them in production and, on the
# embedded default, inside `manage.py serve`.


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_secrets_in_worker_logs(logger: logging.Logger, **kwargs: Any) -> None:
    for handler in logger.handlers:
        if not any(isinstance(existing, RedactSecrets) for existing in handler.filters):
            handler.addFilter(RedactSecrets())
