"""Live events of widget conversations: the group a conversation's sockets join, and the message broadcast.

Every socket of a conversation (``agents.consumers.WidgetConsumer``) joins ``conversation_group(id)``.
``message_broadcast(message)`` sends a message to that group once the current transaction commits (at
once outside a transaction), so a socket never sees a message that was rolled back. The inbox uses it to
deliver a teammate's reply to the widget. The event is ``{"type": "message.new", "message": {...}}`` with
the same message shape as the widget API. Sending is best-effort: a client that missed an event catches
up with ``GET …/messages?after=ID`` when it reconnects.

``conversation_status_broadcast`` tells the widget its conversation's status changed without a message of its
own saying so in full (a closed ticket handed it back to the AI): ``{"type": "conversation.status", "status":
"open", "rating_request": {"ticket_id": N} or null}``; the catch-up returns the same two fields.
"""

from typing import Any

from agents.models import Conversation, Message
from halo.layers import send_event_on_commit

MESSAGE_NEW = "message.new"
CONVERSATION_STATUS = "conversation.status"


def conversation_group(conversation_id: int) -> str:
    return f"widget.conversation.{conversation_id}"


def author_name(message: Message) -> str | None:
    """How the customer sees a teammate: their first name (or full name, or login) — never their email
    address. None for the customer's own, the AI's and system messages (the widget names the AI itself)."""
    if message.author != Message.Author.TEAMMATE:
        return None
    teammate = message.teammate if message.teammate_id is not None else None
    if teammate is None:
        return "Support team"
    return teammate_display_name(teammate)


def teammate_display_name(teammate: Any) -> str:
    """A teammate as customers see them: first name, else full name, else the login before any ``@``."""
    name = teammate.first_name or teammate.get_full_name() or teammate.get_username().split("@")[0]
    return str(name)[:60]


def message_payload(message: Message) -> dict[str, Any]:
    """The public JSON of a message: the one shape of the widget API, the server API and the socket."""
    return {
        "id": message.pk,
        "author": message.author,
        "author_name": author_name(message),
        "body": message.body,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
        "sources": message.sources or [],
    }


def conversation_event_data(conversation: Conversation) -> dict[str, Any]:
    """A conversation as webhook events show it (``message.created``, ``conversation.*``)."""
    contact = conversation.contact
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "agent_id": conversation.agent_id,
        "contact": {"id": contact.pk, "user_id": contact.user_id, "email": contact.email, "name": contact.name},
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }


def message_event_data(message: Message, conversation: Conversation) -> dict[str, Any]:
    """The data of a ``message.created`` webhook event: the message in its public shape and its conversation."""
    return {"conversation": conversation_event_data(conversation), "message": message_payload(message)}


def message_broadcast(message: Message) -> None:
    """After commit, the message to its conversation's sockets (a widget that missed it catches up with
    ``?after=`` on reconnect)."""
    send_event_on_commit(
        conversation_group(message.conversation_id), {"type": MESSAGE_NEW, "message": message_payload(message)}
    )


def conversation_status_broadcast(*, conversation_id: int, status: str, rating_ticket_id: int | None) -> None:
    """After commit, the conversation's new status to its sockets, with the ticket the customer may rate."""
    send_event_on_commit(
        conversation_group(conversation_id),
        {
            "type": CONVERSATION_STATUS,
            "status": status,
            "rating_request": {"ticket_id": rating_ticket_id} if rating_ticket_id is not None else None,
        },
    )
