"""The widget socket: token (first frame, or ``?token=`` from older widgets) and origin checks, live
teammate messages (WebsocketCommunicator)."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from agents.consumers import WidgetConsumer
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


def communicator(conversation_id: int, token: str = "", origin: str | None = None) -> WebsocketCommunicator:
    """A socket with ``token`` in its URL (older widgets), or with none (the token goes in the first frame)."""
    headers: list[tuple[bytes, bytes]] = [(b"host", b"halo.example")]
    if origin:
        headers.append((b"origin", origin.encode()))
    path = f"/ws/widget/conversations/{conversation_id}/" + (f"?token={token}" if token else "")
    return WebsocketCommunicator(application, path, headers=headers)


async def authenticated(conversation_id: int, origin: str | None = None) -> WebsocketCommunicator:
    socket = communicator(conversation_id, origin=origin)
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "auth", "token": TEST_TOKEN})
    assert await socket.receive_json_from(timeout=2) == {"type": "ready"}
    return socket


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
        (TEST_TOKEN, "https://evil.example", 4403),
        ("", "https://evil.example", 4403),  # a foreign origin is refused before any frame
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


# --- The token in the first frame -------------------------------------------------------------------


async def test_the_first_frame_authenticates_and_messages_then_arrive(conversation: Conversation) -> None:
    socket = await authenticated(conversation.pk, origin="https://shop.example.com")

    message = await sync_to_async(message_post)(conversation=conversation, author="teammate", body="Hi from Sam")

    event: dict[str, Any] = await socket.receive_json_from(timeout=2)
    assert (event["type"], event["message"]["id"]) == ("message", message.pk)
    await socket.send_json_to({"type": "auth", "token": "anything"})  # once live, frames are ignored
    assert await socket.receive_nothing(timeout=0.1)
    await socket.disconnect()


async def test_nothing_arrives_before_the_auth_frame(conversation: Conversation) -> None:
    socket = communicator(conversation.pk)
    assert (await socket.connect())[0]

    await sync_to_async(message_post)(conversation=conversation, author="teammate", body="too early")

    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "auth", "token": "wrong-token"},
        {"type": "auth", "token": ""},
        {"type": "auth", "token": 12},
        {"type": "auth"},
        {"type": "hello", "token": TEST_TOKEN},
        ["auth", TEST_TOKEN],
        "not json",
    ],
)
async def test_a_bad_first_frame_closes_with_4401(conversation: Conversation, frame: Any) -> None:
    socket = communicator(conversation.pk)
    assert (await socket.connect())[0]

    if isinstance(frame, str):
        await socket.send_to(text_data=frame)
    else:
        await socket.send_json_to(frame)

    assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}


async def test_a_socket_that_never_authenticates_is_closed(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WidgetConsumer, "AUTH_TIMEOUT_SECONDS", 0.05)
    socket = communicator(conversation.pk)
    assert (await socket.connect())[0]

    assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
