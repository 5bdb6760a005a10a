"""All WebSocket routes, gathered from the apps that own them (each wraps its routes in its own checks)."""

from typing import Any

from agents.routing import websocket_urlpatterns as agents_websocket_urlpatterns
from inbox.routing import websocket_urlpatterns as inbox_websocket_urlpatterns

# Apps append their routes here as they gain sockets: ``*inbox.routing.websocket_urlpatterns`` etc.
websocket_urlpatterns: list[Any] = [*agents_websocket_urlpatterns, *inbox_websocket_urlpatterns]
