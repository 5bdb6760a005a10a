"""ASGI entry point: WebSockets in production (and everything in the embedded default) are served from here.

HTTP goes to Django; WebSocket routes come from ``halo.routing``. Each app wraps its own routes in the
checks they need: staff sockets use the session and the allowed-hosts origin check, widget sockets run
on customers' sites and check the conversation token and the workspace's allowed origins instead.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs the app registry)

from halo.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})
