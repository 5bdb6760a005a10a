"""All WebSocket routes, gathered from the apps that own them (each wraps its routes in its own checks)."""

from typing import Any

from django.urls import re_path

from agents.routing import websocket_urlpatterns as agents_websocket_urlpatterns
from halo.consumers import NotFoundConsumer
from inbox.routing import websocket_urlpatterns as inbox_websocket_urlpatterns

# Apps append their routes here as they gain sockets: ``*inbox.routing.websocket_urlpatterns`` etc. Last, any
# other path closes with 4404 (``halo.consumers``).
websocket_urlpatterns: list[Any] = [
    *agents_websocket_urlpatterns,
    *inbox_websocket_urlpatterns,
    re_path(r"", NotFoundConsumer.as_asgi()),
]
