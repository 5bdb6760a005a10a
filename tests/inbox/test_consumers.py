"""The staff socket ``/ws/inbox/`` with ``WebsocketCommunicator``: auth, origin, membership, live events,
reconnect replay and resync, bad frames, and (with Redis) events caused in another process."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from halo.models import Membership, Workspace
from halo.routing import websocket_urlpatterns
from inbox.events import TICKET_UPDATED, inbox_event_record
from inbox.models import InboxEvent

pytestmark = [pytest.mark.django_db(transaction=True)]

APP = URLRouter(websocket_urlpatterns)
ROOT = Path(__file__).resolve().parents[2]


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(
    workspace_id: Any, cookie: str | None, *, origin: str = "http://testserver"
) -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(APP, f"/ws/inbox/?workspace={workspace_id}", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def receive(communicator: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(timeout=5))


@pytest.fixture
def cookie(teammate: Membership) -> str:
    return session_cookie(teammate.user)


async def test_anonymous_socket_is_closed_4401(workspace: Workspace) -> None:
    _communicator, connected, code = await connect(workspace.pk, None)
    assert not connected
    assert code == 4401


async def test_socket_of_a_non_member_is_closed_4403(workspace: Workspace, outsider: Membership) -> None:
    cookie = await sync_to_async(session_cookie)(outsider.user)
    _, connected, code = await connect(workspace.pk, cookie)
    assert not connected
    assert code == 4403
    _communicator, connected, code = await connect("abc", cookie)
    assert (connected, code) == (False, 4403)


async def test_socket_from_a_foreign_origin_is_refused(workspace: Workspace, cookie: str) -> None:
    _communicator, connected, _ = await connect(workspace.pk, cookie, origin="https://evil.example.com")
    assert not connected


async def test_member_receives_hello_then_live_events(workspace: Workspace, cookie: str, escalate) -> None:
    communicator, connected, _ = await connect(workspace.pk, cookie)
    assert connected
    assert await receive(communicator) == {"type": "hello", "seq": 0}

    ticket = await sync_to_async(escalate)(name="Jane Roe")

    event = await receive(communicator)
    assert event["type"] == "event"
    assert event["seq"] == 1
    assert event["event"] == "ticket.created"
    assert event["ticket_id"] == ticket.pk
    assert event["data"]["contact"] == "Jane Roe"
    await communicator.disconnect()


async def test_events_of_another_workspace_never_arrive(
    workspace: Workspace, cookie: str, other_workspace: Workspace
) -> None:
    communicator, _, _ = await connect(workspace.pk, cookie)
    await receive(communicator)  # hello
    await sync_to_async(inbox_event_record)(workspace_id=other_workspace.pk, type=TICKET_UPDATED)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_reconnecting_client_gets_what_it_missed(workspace: Workspace, cookie: str, escalate) -> None:
    communicator, _, _ = await connect(workspace.pk, cookie)
    await receive(communicator)
    await sync_to_async(escalate)()
    assert (await receive(communicator))["seq"] == 1
    await communicator.disconnect()

    for _ in range(3):  # while the client is away
        await sync_to_async(escalate)()

    communicator, _, _ = await connect(workspace.pk, cookie)
    assert await receive(communicator) == {"type": "hello", "seq": 4}
    await communicator.send_to(text_data=json.dumps({"type": "resume", "last_seq": 1}))
    replayed = [await receive(communicator) for _ in range(4)]
    assert [m.get("seq") for m in replayed[:3]] == [2, 3, 4]
    assert replayed[3] == {"type": "replayed", "after_seq": 1, "count": 3}
    await communicator.disconnect()


async def test_client_too_far_behind_is_told_to_resync(workspace: Workspace, cookie: str) -> None:
    for _ in range(2):
        await sync_to_async(inbox_event_record)(workspace_id=workspace.pk, type=TICKET_UPDATED)
    await sync_to_async(InboxEvent.objects.filter(seq=1).delete)()  # pruned

    communicator, _, _ = await connect(workspace.pk, cookie)
    await receive(communicator)
    await communicator.send_to(text_data=json.dumps({"type": "resume", "last_seq": 0}))
    assert await receive(communicator) == {"type": "resync", "seq": 2}
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"type": "resume"}',
        '{"type": "resume", "last_seq": "1"}',
        '{"type": "resume", "last_seq": -1}',
        '{"type": "resume", "last_seq": true}',
        '["resume"]',
        '{"type": "close_ticket", "ticket": 1}',
        "x" * 5000,
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(workspace: Workspace, cookie: str, frame: str) -> None:
    communicator, _, _ = await connect(workspace.pk, cookie)
    await receive(communicator)
    await communicator.send_to(text_data=frame)
    assert (await receive(communicator))["code"] == "invalid_frame"
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await receive(communicator))["code"] == "invalid_frame"
    await communicator.send_to(text_data=json.dumps({"type": "resume", "last_seq": 0}))
    assert (await receive(communicator))["type"] == "replayed"
    await communicator.disconnect()


RECORD_IN_ANOTHER_PROCESS = """
import django, sys
django.setup()
from inbox.events import inbox_event_record
inbox_event_record(workspace_id=int(sys.argv[1]), type="summary.ready", data={"from": "worker"})
"""


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
async def test_event_caused_in_another_process_reaches_the_socket_through_redis(
    workspace: Workspace, cookie: str, settings: Any
) -> None:
    """R5: a worker process records an event (and sends it through the Redis layer); a socket served by
    this process receives it."""
    from django.db import connection

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url or connection.vendor != "postgresql":
        pytest.skip("needs REDIS_URL and PostgreSQL (DATABASE_URL)")
    # With REDIS_URL, both this process and the worker use the production layer from halo.settings.
    (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert (host["address"] if isinstance(host, dict) else host) == redis_url
    communicator, connected, _ = await connect(workspace.pk, cookie)
    assert connected
    await receive(communicator)

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "halo.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
    }
    await sync_to_async(subprocess.run)(
        [sys.executable, "-c", RECORD_IN_ANOTHER_PROCESS, str(workspace.pk)], cwd=ROOT, env=env, check=True, timeout=60
    )

    event = await receive(communicator)
    assert (event["event"], event["seq"], event["data"]) == ("summary.ready", 1, {"from": "worker"})
    await communicator.disconnect()
