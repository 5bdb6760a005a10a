"""The staff web inbox (mounted under ``/inbox/``)."""

from typing import Any

urlpatterns: list[Any] = []
