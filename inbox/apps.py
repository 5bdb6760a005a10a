"""App configuration of inbox: connects the receivers that close a teammate's socket when access ends."""

from django.apps import AppConfig


class InboxConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from inbox import signals

        signals.connect()
