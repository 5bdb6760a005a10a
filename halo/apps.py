"""App configuration of halo (tenancy and people)."""

from django.apps import AppConfig


class HaloConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "halo"
    verbose_name = "Workspaces and people"

    def ready(self) -> None:
        # ``<id:name>`` in every URL pattern with a row id (HTTP and sockets): before any URL module loads.
        from django.urls import register_converter

        from halo.params import IdConverter

        register_converter(IdConverter, "id")
        # Registers the OpenAPI extension of the API-key authentication (drf-spectacular finds it by import).
        import halo.api.schema  # noqa: F401
