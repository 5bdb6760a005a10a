"""Live events of widget conversations: the group a conversation's sockets join, and the message broadcast.

Every socket of a conversation (``agents.consumers.WidgetConsumer``) joins ``conversation_group(id)``.
``message_broadcast(message)`` sends a message to that group once the current transaction commits (at
once outside a transaction), so a socket never sees a message that was rolled back. The inbox uses it to
deliver a teammate's reply to the widget. The event is ``{"type": "message.new", "message": {...}}`` with
the same message shape as the widget API. Sending is best-effort: a client that missed an event catches
up with ``GET …/messages?after=ID`` when it reconnects.
"""

import logging
from typing import Any

from django.db import transaction

from agents.models import Message
from halo.layers import group_send_sync

logger = logging.getLogger(__name__)

MESSAGE_NEW = "message.new"


def conversation_group(conversation_id: int) -> str:
    return f"widget.conversation.{conversation_id}"


def message_payload(message: Message) -> dict[str, Any]:
    """The public JSON of a message (the widget API's message shape)."""
    return {
        "id": message.pk,
        "author": message.author,
        "body": message.body,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
        "sources": message.sources or [],
    }


def message_broadcast(message: Message) -> None:
    group = conversation_group(message.conversation_id)
    event = {"type": MESSAGE_NEW, "message": message_payload(message)}

    def send() -> None:
        try:
            group_send_sync(group, event)
        except Exception:  # the channel layer is down: the widget catches up with ?after= on reconnect
            logger.warning("widget broadcast to %s failed", group, exc_info=True)

    transaction.on_commit(send)
