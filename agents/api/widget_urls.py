"""Widget API routes (mounted under ``/api/widget/v1/``)."""

from typing import Any

urlpatterns: list[Any] = []
