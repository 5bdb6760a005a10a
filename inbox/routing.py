"""WebSocket routes of the inbox app (gathered by ``halo.routing``): the staff socket uses the Django session
and refuses browsers from origins outside ``ALLOWED_HOSTS``."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from inbox.consumers import InboxConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/inbox/", AllowedHostsOriginValidator(AuthMiddlewareStack(InboxConsumer.as_asgi()))),
]
