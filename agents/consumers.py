"""The widget's WebSocket: ``/ws/widget/conversations/{id}/`` delivers new messages of one conversation.

It authenticates with the conversation token (never the session), carried in the socket's first frame,
``{"type": "auth", "token": "…"}``, so it never appears in a URL (URLs are written to access logs). Older
widgets put it in the URL (``?token=…``): that still works (the access logs redact it, ``halo.logs``). The
consumer accepts a browser only from the workspace's ``allowed_origins`` or from Halo's own host (the demo
page); a client without an ``Origin`` header (not a browser) is judged by the token alone.

With the token in the first frame, the socket is accepted once the origin passes and receives nothing until
a valid auth frame arrives (then ``{"type": "ready"}``); a wrong token, any other first frame or none within
``AUTH_TIMEOUT_SECONDS`` closes it with 4401, as a wrong ``?token=`` is refused with 4401 and a foreign origin
with 4403. Events come from ``agents.events.message_broadcast``; the client catches up on reconnect with
``GET …/messages?after=ID``. After authentication the one frame the socket reads is a seen receipt,
``{"type": "seen", "message_id": N}`` (the widget showed the customer the conversation up to message N: a
teammate reply seen is not emailed); any other frame, or a receipt for another conversation's message, is
ignored. The token may also be a signed link token (``agents.links``) from a reply email.

"""

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ValidationError

from agents.events import conversation_group
from agents.links import conversation_credential_valid
from agents.models import Conversation
from agents.services import conversation_seen
from halo.params import parse_id
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


def _seen_sync(conversation: Conversation, message_id: int) -> None:
    # A message of another conversation is a receipt that marks nothing.
    with contextlib.suppress(ValidationError):
        conversation_seen(conversation=conversation, message_id=message_id)


_seen = database_sync_to_async(_seen_sync)


class WidgetConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    # How long an accepted socket may take to send its auth frame.
    AUTH_TIMEOUT_SECONDS = 10.0

    group: str | None = None
    conversation: Conversation | None = None
    auth_timeout: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        url_token = (query.get("token") or [""])[0]
        conversation = await _conversation(conversation_id)
        if conversation is None or (
            url_token and not conversation_credential_valid(conversation=conversation, token=url_token)
        ):
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
        self.conversation = conversation
        if url_token:
            await self._join()
            await self.accept()
            return
        await self.accept()
        self.auth_timeout = asyncio.get_running_loop().create_task(self._close_unless_authenticated())

    async def _join(self) -> None:
        assert self.conversation is not None
        self.group = conversation_group(self.conversation.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def _close_unless_authenticated(self) -> None:
        await asyncio.sleep(self.AUTH_TIMEOUT_SECONDS)
        if self.group is None:
            await self.close(code=CLOSE_BAD_TOKEN)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            frame = None
        if self.group is not None:
            # Once live, the one frame read is a seen receipt; messages are sent through the HTTP API and
            # anything else is ignored.
            if isinstance(frame, dict) and frame.get("type") == "seen" and self.conversation is not None:
                message_id = parse_id(frame.get("message_id"))
                if message_id is not None:
                    await _seen(self.conversation, message_id)
            return None
        token = frame.get("token") if isinstance(frame, dict) and frame.get("type") == "auth" else None
        if self.auth_timeout is not None:
            self.auth_timeout.cancel()
        if (
            not isinstance(token, str)
            or self.conversation is None
            or not conversation_credential_valid(conversation=self.conversation, token=token)
        ):
            await self.close(code=CLOSE_BAD_TOKEN)
            return None
        await self._join()
        await self.send_json({"type": "ready"})
        return None

    async def disconnect(self, code: int) -> None:
        if self.auth_timeout is not None:
            self.auth_timeout.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def message_new(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message": event["message"]})

    async def conversation_status(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "status", "status": event["status"], "rating_request": event["rating_request"]})
