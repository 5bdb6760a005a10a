"""All WebSocket routes, gathered from the apps that own them (each wraps its routes in its own checks)."""

from typing import Any

# Apps append their routes here as they gain sockets: ``*inbox.routing.websocket_urlpatterns`` etc.
websocket_urlpatterns: list[Any] = []
