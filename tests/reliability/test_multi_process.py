"""R5: two web processes and a worker in one run. Staff sockets are served by web process A and web process
B (uvicorn, the ``ws`` process of the Procfile); widget traffic goes through B; the AI summaries are written
by a separate Celery worker. Each socket receives every event, whichever process caused it, through the
Redis channel layer: nothing lost, nothing duplicated.

(``tests/inbox/test_consumers.py::test_event_caused_in_another_process_reaches_the_socket_through_redis``
covers one socket in the test process and an event recorded by a subprocess; this is the whole layout.)
"""

import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from escalation.services import escalation_settings_ensure
from halo.models import Membership, OutboxMessage
from halo.services import membership_set
from inbox.models import InboxEvent
from inbox.services import SUMMARY_TASK
from tests.agents.factories import AgentFactory
from tests.halo.factories import UserFactory, WorkspaceFactory
from tests.reliability.processes import (
    celery_worker,
    halo_process,
    http_json,
    process_env,
    redis_server,
    require_postgresql,
    uvicorn,
)
from tests.support.processes import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HANDOFFS = 4
# Per handoff: ticket.created (web B), summary.ready (worker), message.new (the visitor writes again, web B).
EVENTS_PER_HANDOFF = 3


class SocketReader:
    """Reads a staff socket in a thread, keeping every frame."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for text in self.socket:
                self.frames.append(json.loads(text))
        except Exception:  # closed at the end of the test
            return

    def events(self) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] == "event"]


def staff_socket(port: int, workspace_id: int, session: str) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{port}/ws/inbox/?workspace={workspace_id}",
        origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={session}"},
        proxy=None,
        open_timeout=10,
    )


def test_sockets_on_two_web_processes_receive_every_event_caused_anywhere_exactly_once(tmp_path: Path) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme")
    escalation_settings_ensure(agent=AgentFactory(workspace=workspace, name="Ada"))
    teammate = UserFactory(username="sam@acme.test")
    membership_set(workspace=workspace, user=teammate, role=Membership.Role.TEAMMATE)
    browser = Client()
    browser.force_login(teammate)
    session = browser.cookies["sessionid"].value
    port_a, port_b = free_port(), free_port()

    with redis_server(tmp_path) as redis:
        env = process_env(redis_url=redis.url, data_dir=tmp_path)
        with (
            halo_process(uvicorn(port_a), env=env, log=tmp_path / "web-a.log", port=port_a),
            halo_process(uvicorn(port_b), env=env, log=tmp_path / "web-b.log", port=port_b),
            halo_process(celery_worker(tmp_path / "beat-schedule"), env=env, log=tmp_path / "worker.log"),
            ExitStack() as sockets,
        ):
            on_a = SocketReader(sockets.enter_context(staff_socket(port_a, workspace.pk, session)))
            on_b = SocketReader(sockets.enter_context(staff_socket(port_b, workspace.pk, session)))
            wait_until(lambda: on_a.frames and on_b.frames, timeout=10, what="the hello frames")
            assert on_a.frames[0] == on_b.frames[0] == {"type": "hello", "seq": 0}

            base = f"http://127.0.0.1:{port_b}"
            for n in range(HANDOFFS):
                status, started = http_json(
                    "POST",
                    f"{base}/api/widget/v1/conversations",
                    json.dumps({"app_id": workspace.app_id, "body": f"Visitor {n}: my invoice is wrong"}).encode(),
                )
                assert status == 201, started
                auth = {"Authorization": f"Bearer {started['token']}"}
                status, handed_off = http_json(
                    "POST", f"{base}/api/widget/v1/conversations/{started['id']}/handoff", b"{}", auth
                )
                assert status == 201, handed_off
                status, posted = http_json(
                    "POST",
                    f"{base}/api/widget/v1/conversations/{started['id']}/messages",
                    json.dumps({"body": "Are you there?"}).encode(),
                    auth,
                )
                assert status == 201, posted

            expected = HANDOFFS * EVENTS_PER_HANDOFF
            wait_until(
                lambda: len(on_a.events()) >= expected and len(on_b.events()) >= expected,
                timeout=60,
                what=f"{expected} events on both sockets",
            )
            wait_until(lambda: True, timeout=1, what="late duplicates")  # let any duplicate arrive
            for reader in (on_a, on_b):
                reader.socket.close()
                reader.thread.join(timeout=5)

    recorded = list(InboxEvent.objects.filter(workspace=workspace).order_by("seq").values_list("seq", "type"))
    assert len(recorded) == expected
    assert [seq for seq, _ in recorded] == list(range(1, expected + 1))
    for reader in (on_a, on_b):
        received = [(event["seq"], event["event"]) for event in reader.events()]
        # Every event, once, whether web B or the worker caused it. Live order across processes is not
        # guaranteed (two processes commit and publish concurrently); the page orders by ``seq`` and asks
        # for a replay when it sees a gap (see inbox/events.py).
        assert sorted(received) == recorded
    assert {event_type for _, event_type in recorded} == {"ticket.created", "summary.ready", "message.new"}
    assert not OutboxMessage.objects.filter(task=SUMMARY_TASK).exclude(state="done").exists()
