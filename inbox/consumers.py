"""The staff inbox's WebSocket: ``/ws/inbox/?workspace=<id>`` streams a workspace's live inbox events.

Wrapped (in ``inbox.routing``) in ``AllowedHostsOriginValidator(AuthMiddlewareStack(...))``: a browser on
another origin is refused, and the user comes from the Django session. On connect the user must be
logged in (else closed 4401) and a member of the workspace (else 4403). Events come from
``inbox.events`` (``inbox_event``). An open socket closes itself when its user's access ends: 4403 once
the membership is gone; 4401 once the user is deactivated or the session the socket was opened with no
longer logs them in (logged out, expired, rotated, or carrying an outdated session auth hash after a
password change). ``inbox.signals`` announces those changes to the user's group and the socket re-checks
(also every ``REVALIDATE_SECONDS``, in case an announcement was lost). The client may send one kind of frame,
``{"type": "resume", "last_seq": N}``, after a reconnect or when it sees a gap: it gets every event
numbered above N, or ``{"type": "resync"}`` when too many were missed. Anything else gets an ``error``
frame; nothing a client sends can change data.
"""

import asyncio
import json
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.crypto import constant_time_compare

from halo.models import Membership
from halo.params import parse_id, parse_int
from inbox.error_codes import InboxErrorCode
from inbox.events import (
    CHANNEL_MESSAGE_TYPE,
    event_message,
    inbox_events_since,
    inbox_last_seq,
    session_digest,
    user_group,
    workspace_group,
)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME_CHARS = 1000
# A replay yields to the event loop after this many frames, so ten sockets reconnecting at once do not
# hold up the live events of every other socket served by the process.
REPLAY_FRAMES_PER_TURN = 20
# An open socket re-checks its user's access this often, in case the broadcast that announces a removed
# membership, a deactivated user, a password change or a logout was lost (the channel layer is at-most-once).
# It also ends a socket whose session expired.
REVALIDATE_SECONDS = 60.0


def _access_denied_sync(user_id: int, workspace_id: int, session_key: str) -> int | None:
    """None while the user may read the workspace's inbox, else the close code: 4403 once the membership is
    gone, 4401 once the user is deactivated or the socket's session no longer logs them in. Two queries."""
    membership = (
        Membership.objects.filter(user_id=user_id, workspace_id=workspace_id)
        .select_related("user")
        .only("user", "user__is_active", "user__password")
        .first()
    )
    if membership is None:
        return CLOSE_FORBIDDEN
    if not membership.user.is_active or not _session_logs_in(membership.user, session_key):
        return CLOSE_UNAUTHENTICATED
    return None


def _session_logs_in(user: AbstractBaseUser, session_key: str) -> bool:
    """Whether the session, read again from the store, still logs ``user`` in: it exists (not logged out,
    expired or rotated away), is the user's, and carries the user's current session auth hash (or one made
    with a ``SECRET_KEY_FALLBACKS`` key) — what ``django.contrib.auth.get_user`` checks on every request,
    without its side effects (it would flush or rotate the session under the browser's feet)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load()
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or str(session.get(SESSION_KEY)) != str(user.pk):
        return False
    current = (user.get_session_auth_hash(), *user.get_session_auth_fallback_hash())
    return any(constant_time_compare(session_hash, auth_hash) for auth_hash in current)


def _replay_sync(workspace_id: int, after_seq: int) -> list[dict[str, Any]] | None:
    events = inbox_events_since(workspace_id=workspace_id, after_seq=after_seq)
    return None if events is None else [event_message(event) for event in events]


_access_denied = database_sync_to_async(_access_denied_sync)
_replay = database_sync_to_async(_replay_sync)
_last_seq = database_sync_to_async(lambda workspace_id: inbox_last_seq(workspace_id=workspace_id))


class InboxConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    user_id: int | None = None
    workspace_id: int | None = None
    # The session the socket was opened with (from its cookie), and how a logout announcement names it.
    session_key: str | None = None
    session_name: str | None = None
    # Set when the socket lost its access: nothing more is sent on it.
    closed_with: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joined: list[str] = []
        self.revalidation: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if user is None or not user.is_authenticated or not session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session_key, self.session_name = session_key, session_digest(session_key)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        workspace_id = parse_id((query.get("workspace") or [""])[0])
        if workspace_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user_id, self.workspace_id = int(user.pk), workspace_id
        # The user's group is joined before access is checked: a removal committed after the check is
        # announced to a socket that already listens.
        await self._join(user_group(self.user_id))
        denied = await _access_denied(self.user_id, self.workspace_id, session_key)
        if denied is not None:
            await self._leave_all()
            await self.close(code=denied)
            return
        # Join before any replay: an event committed meanwhile arrives live (the client drops duplicates).
        await self._join(workspace_group(self.workspace_id))
        await self.accept()
        await self._send({"type": "hello", "seq": await _last_seq(self.workspace_id)})
        self.revalidation = asyncio.ensure_future(self._revalidate_periodically())

    async def disconnect(self, code: int) -> None:
        if self.revalidation is not None:
            self.revalidation.cancel()
        await self._leave_all()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame: Any = None
        if text_data is not None and len(text_data) <= MAX_FRAME_CHARS:
            try:
                frame = json.loads(text_data)
            except ValueError:
                frame = None
        raw_seq = frame.get("last_seq") if isinstance(frame, dict) and frame.get("type") == "resume" else None
        # A JSON integer only (``parse_int`` refuses bools, floats and strings), within BIGINT.
        last_seq = parse_int(raw_seq) if isinstance(raw_seq, int) else None
        if last_seq is None:
            await self._send(
                {
                    "type": "error",
                    "code": InboxErrorCode.INVALID_FRAME.value,
                    "message": 'Send {"type": "resume", "last_seq": N}.',
                }
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
        # sockets of the process queue on. The handlers that read the database do it through
        # ``database_sync_to_async``, which closes old connections itself.
        if message["type"] == CHANNEL_MESSAGE_TYPE:
            await self.inbox_event(message)
        else:
            await super().dispatch(message)

    async def inbox_event(self, event: dict[str, Any]) -> None:
        # The sender encoded the frame once for every socket (``inbox.events.inbox_event_record``).
        if self.closed_with is None:
            await self.send(text_data=event["text"])

    async def inbox_access_changed(self, message: dict[str, Any]) -> None:
        # Messages are handled one at a time: an event queued behind this one is only handled once the
        # check is done, and then dropped if the socket closed.
        ended = message.get("ended_session")
        if ended is not None and ended == self.session_name:
            # Logging out: announced before Django deletes the session, so a re-read could still find it.
            await self._end(CLOSE_UNAUTHENTICATED)
            return
        await self._close_if_access_ended()

    async def _revalidate_periodically(self) -> None:
        while self.closed_with is None:
            await asyncio.sleep(REVALIDATE_SECONDS)
            await self._close_if_access_ended()

    async def _close_if_access_ended(self) -> None:
        if self.closed_with is not None or self.user_id is None or self.workspace_id is None:
            return
        assert self.session_key is not None
        denied = await _access_denied(self.user_id, self.workspace_id, self.session_key)
        if denied is not None:
            await self._end(denied)

    async def _end(self, code: int) -> None:
        if self.closed_with is not None:
            return
        self.closed_with = code
        await self._leave_all()
        await self.close(code=code)

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.append(group)

    async def _leave_all(self) -> None:
        while self.joined:
            await self.channel_layer.group_discard(self.joined.pop(), self.channel_name)

    async def _send(self, message: dict[str, Any]) -> None:
        if self.closed_with is None:
            await self.send(text_data=json.dumps(message))
