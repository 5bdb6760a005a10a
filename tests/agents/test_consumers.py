"""The widget socket: token and origin checks, live teammate messages (WebsocketCommunicator)."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from agents.models import Conversation
from agents.services import message_post
from halo.asgi import application
from tests.agents.factories import TEST_TOKEN, ConversationFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def conversation(db: None) -> Conversation:
    workspace = WorkspaceFactory(allowed_origins=["https://shop.example.com"])
    return ConversationFactory(workspace=workspace)


def communicator(conversation_id: int, token: str, origin: str | None = None) -> WebsocketCommunicator:
    headers: list[tuple[bytes, bytes]] = [(b"host", b"halo.example")]
    if origin:
        headers.append((b"origin", origin.encode()))
    path = f"/ws/widget/conversations/{conversation_id}/?token={token}"
    return WebsocketCommunicator(application, path, headers=headers)


async def test_teammate_message_arrives_live(conversation: Conversation) -> None:
    socket = communicator(conversation.pk, TEST_TOKEN, origin="https://shop.example.com")
    connected, _ = await socket.connect()
    assert connected

    message = await sync_to_async(message_post)(
        conversation=conversation, author="teammate", body="Hi, this is Sam from support."
    )

    event: dict[str, Any] = await socket.receive_json_from(timeout=2)
    assert event["type"] == "message"
    assert event["message"]["id"] == message.pk
    assert (event["message"]["author"], event["message"]["body"]) == ("teammate", "Hi, this is Sam from support.")
    await socket.send_to(text_data="not json at all")
    assert await socket.receive_nothing(timeout=0.1)
    await socket.disconnect()


async def test_other_conversations_messages_do_not_arrive(conversation: Conversation) -> None:
    other = await sync_to_async(ConversationFactory)(workspace=conversation.workspace)
    socket = communicator(conversation.pk, TEST_TOKEN)
    assert (await socket.connect())[0]

    await sync_to_async(message_post)(conversation=other, author="system", body="elsewhere")

    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@pytest.mark.parametrize(
    ("token", "origin", "close_code"),
    [
        ("wrong-token", None, 4401),
        ("", None, 4401),
        (TEST_TOKEN, "https://evil.example", 4403),
    ],
)
async def test_refused_sockets(conversation: Conversation, token: str, origin: str | None, close_code: int) -> None:
    socket = communicator(conversation.pk, token, origin=origin)

    connected, code = await socket.connect()

    assert (connected, code) == (False, close_code)


async def test_unknown_conversation_is_refused(conversation: Conversation) -> None:
    connected, code = await communicator(conversation.pk + 1000, TEST_TOKEN).connect()

    assert (connected, code) == (False, 4401)


async def test_halos_own_pages_may_connect(conversation: Conversation) -> None:
    socket = communicator(conversation.pk, TEST_TOKEN, origin="http://halo.example")

    assert (await socket.connect())[0]
    await socket.disconnect()
