"""Server API routes of the halo app (mounted under ``/api/v1/``)."""

from typing import Any

urlpatterns: list[Any] = []
