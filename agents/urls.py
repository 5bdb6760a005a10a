"""Public pages of the agents app: the widget script and its demo page."""

from typing import Any

urlpatterns: list[Any] = []
