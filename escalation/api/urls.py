"""Server API routes of the escalation app (mounted under ``/api/v1/``)."""

from typing import Any

urlpatterns: list[Any] = []
