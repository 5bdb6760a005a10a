"""R2 with a real process: a Celery worker is SIGKILLed while it is delivering a Slack notification (Slack
has the request but has not answered), a new worker starts, and the notification is delivered exactly once.

(``tests/inbox/test_notifications.py::test_worker_killed_mid_delivery_delivers_exactly_once_after_restart``
pins the same in process, with the death simulated by an exception the outbox cannot catch.)
The two-minute delivery lease is not waited out: the test moves the lease's end into the past, which is
all that time would do.
"""

import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

import halo.outbox
from escalation.flow import handoff_request
from escalation.services import escalation_settings_ensure
from halo.models import OutboxMessage
from inbox.notifications import SLACK_TASK
from tests.agents.factories import AgentFactory, ConversationFactory, MessageFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory
from tests.reliability.processes import (
    celery_worker,
    halo_process,
    process_env,
    redis_server,
    require_postgresql,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlackStandIn(ThreadingHTTPServer):
    """Answers ``ok``; while ``hold`` is set it keeps the request unanswered. A message counts as posted
    only once its ``ok`` was written back (a worker that died first never learns it, nor does Slack post)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlackHandler)
        self.hold = threading.Event()
        self.release = threading.Event()
        self.received: list[str] = []
        self.posted: list[str] = []
        self.answered = 0  # requests handled to the end, answer delivered or not

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T0/B0/standin"


class SlackHandler(BaseHTTPRequestHandler):
    server: SlackStandIn

    def do_POST(self) -> None:
        text = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["text"]
        self.server.received.append(text)
        if self.server.hold.is_set():
            self.server.release.wait(timeout=60)
        try:
            if self.client_gone():
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")
            self.wfile.flush()
            # Raises when the client is gone: the answer was never delivered.
            self.connection.getpeername()
        except OSError:
            return
        else:
            self.server.posted.append(text)
        finally:
            self.server.answered += 1

    def client_gone(self) -> bool:
        """The caller closed the connection (a killed process's sockets are closed by the kernel)."""
        self.connection.setblocking(False)
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.connection.setblocking(True)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    server = SlackStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_worker_killed_mid_delivery_delivers_exactly_once_after_restart(
    tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme", slack_webhook_url=slack.url)
    agent = AgentFactory(workspace=workspace, name="Ada")
    escalation_settings_ensure(agent=agent)
    # The rows are only written here; the workers' outbox sweep (every second) sends them.
    monkeypatch.setattr(halo.outbox, "_send", lambda message, countdown=0: None)
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    MessageFactory(conversation=conversation, author="user", body="I was charged twice")
    ticket = handoff_request(conversation=conversation).ticket
    row = OutboxMessage.objects.get(task=SLACK_TASK)

    slack.hold.set()
    with redis_server(tmp_path) as redis:
        env = process_env(redis_url=redis.url, data_dir=tmp_path, OUTBOX_SWEEP_INTERVAL="1")
        with halo_process(celery_worker(tmp_path / "beat-1"), env=env, log=tmp_path / "worker-1.log") as worker:
            wait_until(lambda: len(slack.received) == 1, timeout=60, what="the first worker to call Slack")
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        slack.hold.clear()
        slack.release.set()
        wait_until(lambda: slack.answered == 1, timeout=10, what="the held request to end")

        row.refresh_from_db()
        assert (row.state, row.attempts) == ("running", 1)  # claimed by the dead worker, not delivered
        assert slack.posted == []
        OutboxMessage.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

        with halo_process(celery_worker(tmp_path / "beat-2"), env=env, log=tmp_path / "worker-2.log"):

            def delivered() -> bool:
                row.refresh_from_db()
                return row.state == "done"

            wait_until(delivered, timeout=60, what="the restarted worker to deliver")

    assert len(slack.posted) == 1
    assert slack.received == [slack.posted[0], slack.posted[0]]  # the dead worker's call, then the one posted
    assert f"ticket #{ticket.pk} " in slack.posted[0]
    assert row.attempts == 2
