"""App configuration of segments."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"

    def ready(self) -> None:
        from segments.db import register_sqlite_functions

        # A database hook, not business logic: SQLite needs the folding function before any rule runs.
        connection_created.connect(register_sqlite_functions, dispatch_uid="segments_sqlite_functions")
