"""The staff inbox's WebSocket: ``/ws/inbox/?workspace=<id>`` streams a workspace's live inbox events.

Wrapped (in ``inbox.routing``) in ``AllowedHostsOriginValidator(AuthMiddlewareStack(...))``: a browser on
another origin is refused, and the user comes from the Django session. On connect the user must be
logged in (else closed 4401) and a member of the workspace (else 4403). Events come from
``inbox.events`` (``inbox_event``). The client may send one kind of frame,
``{"type": "resume", "last_seq": N}``, after a reconnect or when it sees a gap: it gets every event
numbered above N, or ``{"type": "resync"}`` when too many were missed. Anything else gets an ``error``
frame; nothing a client sends can change data.
"""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from halo.models import Membership
from inbox.events import (
    CHANNEL_MESSAGE_TYPE,
    event_message,
    inbox_events_since,
    inbox_last_seq,
    workspace_group,
)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME_CHARS = 1000
# A replay yields to the event loop after this many frames, so ten sockets reconnecting at once do not
# hold up the live events of every other socket served by the process.
REPLAY_FRAMES_PER_TURN = 20


def _is_member_sync(user_id: int, workspace_id: int) -> bool:
    return Membership.objects.filter(user_id=user_id, workspace_id=workspace_id).exists()


def _replay_sync(workspace_id: int, after_seq: int) -> list[dict[str, Any]] | None:
    events = inbox_events_since(workspace_id=workspace_id, after_seq=after_seq)
    return None if events is None else [event_message(event) for event in events]


_is_member = database_sync_to_async(_is_member_sync)
_replay = database_sync_to_async(_replay_sync)
_last_seq = database_sync_to_async(lambda workspace_id: inbox_last_seq(workspace_id=workspace_id))


class InboxConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    group: str | None = None
    workspace_id: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("workspace") or [""])[0]
        if not raw.isdigit() or not await _is_member(user.pk, int(raw)):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.workspace_id = int(raw)
        self.group = workspace_group(self.workspace_id)
        # Join before any replay: an event committed meanwhile arrives live (the client drops duplicates).
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send({"type": "hello", "seq": await _last_seq(self.workspace_id)})

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame: Any = None
        if text_data is not None and len(text_data) <= MAX_FRAME_CHARS:
            try:
                frame = json.loads(text_data)
            except ValueError:
                frame = None
        last_seq = frame.get("last_seq") if isinstance(frame, dict) and frame.get("type") == "resume" else None
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            await self._send(
                {"type": "error", "code": "invalid_frame", "message": 'Send {"type": "resume", "last_seq": N}.'}
            )
            return
        assert self.workspace_id is not None
        events = await _replay(self.workspace_id, last_seq)
        if events is None:
            await self._send({"type": "resync", "seq": await _last_seq(self.workspace_id)})
            return
        for n, message in enumerate(events, start=1):
            await self._send(message)
            if n % REPLAY_FRAMES_PER_TURN == 0:
                await asyncio.sleep(0)
        await self._send({"type": "replayed", "after_seq": last_seq, "count": len(events)})

    async def dispatch(self, message: dict[str, Any]) -> None:
        # A live event is the hot path (every event x every socket) and its handler touches no database:
        # it skips Channels' per-message ``close_old_connections``, a hop through the one thread that all
        # sockets of the process queue on (B2, 25 sockets per process: with the frame encoded once, the
        # two server processes' CPU for a run fell from 3.4 s to 1.8 s). The handlers that read the
        # database do it through ``database_sync_to_async``, which closes old connections itself.
        if message["type"] == CHANNEL_MESSAGE_TYPE:
            await self.inbox_event(message)
        else:
            await super().dispatch(message)

    async def inbox_event(self, event: dict[str, Any]) -> None:
        # The sender encoded the frame once for every socket (``inbox.events.inbox_event_broadcast``).
        await self.send(text_data=event["text"])

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))
