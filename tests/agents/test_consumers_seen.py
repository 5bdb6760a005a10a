"""The widget socket after authentication: seen receipts as frames, a signed link token as the credential,
and the status event of a closed ticket (WebsocketCommunicator)."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from agents.events import conversation_status_broadcast
from agents.links import conversation_link_token
from agents.models import Conversation
from agents.services import message_post
from halo.asgi import application
from tests.agents.factories import TEST_TOKEN, ConversationFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def conversation(db: None) -> Conversation:
    return ConversationFactory()


async def live(conversation_id: int, token: str = TEST_TOKEN) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(
        application, f"/ws/widget/conversations/{conversation_id}/", headers=[(b"host", b"halo.example")]
    )
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "auth", "token": token})
    assert await socket.receive_json_from(timeout=2) == {"type": "ready"}
    return socket


def seen_mark(conversation: Conversation) -> int | None:
    return Conversation.objects.get(pk=conversation.pk).customer_seen_message_id


async def test_a_seen_frame_moves_the_mark_forward_only(conversation: Conversation) -> None:
    first = await sync_to_async(message_post)(conversation=conversation, author="teammate", body="One")
    second = await sync_to_async(message_post)(conversation=conversation, author="teammate", body="Two")
    socket = await live(conversation.pk)
    await socket.send_json_to({"type": "seen", "message_id": second.pk})
    await socket.send_json_to({"type": "seen", "message_id": first.pk})
    assert await socket.receive_nothing(timeout=0.2)

    assert await sync_to_async(seen_mark)(conversation) == second.pk
    await socket.disconnect()


@pytest.mark.parametrize(
    "frame", [{"type": "seen", "message_id": "abc"}, {"type": "seen"}, {"type": "seen", "message_id": 10**30}, []]
)
async def test_a_bad_seen_frame_is_ignored(conversation: Conversation, frame: Any) -> None:
    socket = await live(conversation.pk)
    await socket.send_json_to(frame)
    assert await socket.receive_nothing(timeout=0.2)
    assert await sync_to_async(seen_mark)(conversation) is None
    await socket.disconnect()


async def test_a_seen_frame_for_another_conversations_message_marks_nothing(conversation: Conversation) -> None:
    other = await sync_to_async(ConversationFactory)()
    foreign = await sync_to_async(message_post)(conversation=other, author="teammate", body="Not yours")
    socket = await live(conversation.pk)
    await socket.send_json_to({"type": "seen", "message_id": foreign.pk})
    assert await socket.receive_nothing(timeout=0.2)
    assert await sync_to_async(seen_mark)(conversation) is None
    await socket.disconnect()


async def test_a_signed_link_token_authenticates_its_conversation_only(conversation: Conversation) -> None:
    token = await sync_to_async(conversation_link_token)(conversation=conversation)
    socket = await live(conversation.pk, token=token)
    await socket.disconnect()

    other = await sync_to_async(ConversationFactory)()
    refused = WebsocketCommunicator(
        application, f"/ws/widget/conversations/{other.pk}/", headers=[(b"host", b"halo.example")]
    )
    assert (await refused.connect())[0]
    await refused.send_json_to({"type": "auth", "token": token})
    assert (await refused.receive_output(timeout=2))["code"] == 4401


async def test_the_status_event_reaches_the_socket(conversation: Conversation) -> None:
    socket = await live(conversation.pk)
    await sync_to_async(conversation_status_broadcast)(
        conversation_id=conversation.pk, status="open", rating_ticket_id=7
    )

    assert await socket.receive_json_from(timeout=2) == {
        "type": "status",
        "status": "open",
        "rating_request": {"ticket_id": 7},
    }
    await socket.disconnect()
