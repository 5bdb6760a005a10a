"""WebSocket routes of the agents app (gathered by ``halo.routing``). The widget socket runs on customers'
sites, so it is not wrapped in the allowed-hosts origin check: its consumer checks the conversation token
and the workspace's allowed origins itself."""

from typing import Any

from django.urls import path

from agents.consumers import WidgetConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/widget/conversations/<id:conversation_id>/", WidgetConsumer.as_asgi()),
]
