"""App configuration of halo (tenancy and people)."""

from django.apps import AppConfig


class HaloConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "halo"
    verbose_name = "Workspaces and people"
