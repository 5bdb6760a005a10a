"""The widget's WebSocket: ``/ws/widget/conversations/{id}/?token=…`` delivers new messages of one conversation.

It authenticates with the conversation token (never the session) and accepts a browser only from the
workspace's ``allowed_origins`` or from Halo's own host (the demo page); a client without an ``Origin``
header (not a browser) is judged by the token alone. A refused socket is closed with code 4401 (bad
token) or 4403 (origin). Events come from ``agents.events.message_broadcast``; the client catches up on
reconnect with ``GET …/messages?after=ID``. The socket is one-way: frames sent by the client are ignored.
"""

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents.events import conversation_group
from agents.models import Conversation
from halo.selectors import origin_is_same_host, workspace_origin_allowed

CLOSE_BAD_TOKEN = 4401
CLOSE_BAD_ORIGIN = 4403


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _conversation_sync(conversation_id: int) -> Conversation | None:
    return Conversation.objects.select_related("workspace").filter(pk=conversation_id).first()


_conversation = database_sync_to_async(_conversation_sync)


class WidgetConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    group: str | None = None

    async def connect(self) -> None:
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        conversation = await _conversation(conversation_id)
        if conversation is None or not token or not conversation.token_matches(token):
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        origin = _header(self.scope, b"origin")
        host = _header(self.scope, b"host") or ""
        if origin and not (
            workspace_origin_allowed(workspace=conversation.workspace, origin=origin)
            or origin_is_same_host(origin=origin, host=host)
        ):
            await self.close(code=CLOSE_BAD_ORIGIN)
            return
        self.group = conversation_group(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        return None  # one-way socket: messages are sent through the HTTP API; frames (even non-JSON) are ignored

    async def message_new(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message": event["message"]})
