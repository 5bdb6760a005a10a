"""App configuration of halo (tenancy and people)."""

from django.apps import AppConfig


class HaloConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "halo"
    verbose_name = "Workspaces and people"

    def ready(self) -> None:
        # Registers the OpenAPI extension of the API-key authentication (drf-spectacular finds it by import).
        import halo.api.schema  # noqa: F401
