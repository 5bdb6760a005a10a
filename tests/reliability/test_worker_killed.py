"""R2 with a real process: a Celery worker is SIGKILLed while it is delivering a Slack notification (Slack
has the request but has not answered), a new worker starts, and the notification is delivered exactly once.
And with a slow Slack and a backlog: a worker killed while a digest is in flight re-sends that one message,
never the other messages of the backlog (one message per webhook is in flight at a time).

(``tests/inbox/test_notifications.py`` pins both in process, with the death simulated by an exception the
outbox cannot catch.) The two-minute delivery lease and the webhook's turn held by the dead send are not
waited out: the tests move their ends into the past, which is all that time would do.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

import halo.outbox
from escalation.flow import handoff_request
from escalation.services import escalation_settings_ensure
from halo.models import OutboxMessage, Workspace
from inbox.models import SlackThrottle, Ticket
from inbox.notifications import SLACK_TASK
from tests.agents.factories import AgentFactory, ConversationFactory, MessageFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory
from tests.inbox.slack_stand_in import TICKET_REF
from tests.reliability.processes import http_server_running, outbox_workers, require_postgresql, row_done
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlackStandIn(ThreadingHTTPServer):
    """Answers ``ok``; while ``hold`` is set it keeps the request unanswered, and it takes ``latency``
    seconds to answer any request (a slow Slack). A message counts as posted only once its ``ok`` was
    written back (a worker that died first never learns it). Slack shows what it received, answered or not:
    ``received`` is what the channel shows."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlackHandler)
        self.hold = threading.Event()
        self.release = threading.Event()
        self.latency = 0.0
        self.lock = threading.Lock()
        self.received: list[str] = []  # each message's text
        self.received_tickets: list[list[int]] = []  # the tickets each message announces
        self.posted: list[str] = []
        self.answered = 0  # requests handled to the end, answer delivered or not
        self.in_flight = 0
        self.most_in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T0/B0/standin"


class SlackHandler(BaseHTTPRequestHandler):
    server: SlackStandIn

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        blocks = " ".join(block["text"]["text"] for block in body.get("blocks", []))
        with self.server.lock:
            self.server.received.append(body["text"])
            self.server.received_tickets.append([int(found) for found in TICKET_REF.findall(blocks)])
            self.server.in_flight += 1
            self.server.most_in_flight = max(self.server.most_in_flight, self.server.in_flight)
        if self.server.hold.is_set():
            self.server.release.wait(timeout=60)
        time.sleep(self.server.latency)  # the stand-in's own slowness, not a wait of the test
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
            self.server.posted.append(body["text"])
        finally:
            with self.server.lock:
                self.server.in_flight -= 1
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
    with http_server_running(SlackStandIn()) as server:
        try:
            yield server
        finally:
            server.release.set()


def escalated(workspace: Workspace, count: int) -> list[Ticket]:
    agent = AgentFactory(workspace=workspace, name="Ada")
    escalation_settings_ensure(agent=agent)
    tickets = []
    for _ in range(count):
        conversation = ConversationFactory(
            workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace)
        )
        MessageFactory(conversation=conversation, author="user", body="I was charged twice")
        tickets.append(handoff_request(conversation=conversation).ticket)
    return tickets


def dead_worker_time_passes() -> None:
    """What time would do after a worker died: its deliveries' leases and its webhook turn run out."""
    past = timezone.now() - timedelta(seconds=1)
    OutboxMessage.objects.filter(state="running").update(lease_expires_at=past)
    SlackThrottle.objects.update(next_send_at=past)


def test_worker_killed_mid_delivery_delivers_exactly_once_after_restart(
    tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme", slack_webhook_url=slack.url)
    # The rows are only written here; the workers' outbox sweep (every second) sends them.
    monkeypatch.setattr(halo.outbox, "_send", lambda message, countdown=0: None)
    [ticket] = escalated(workspace, 1)
    row = OutboxMessage.objects.get(task=SLACK_TASK)

    slack.hold.set()
    with outbox_workers(tmp_path) as workers:
        workers.kill_one_when(lambda: len(slack.received) == 1, what="the first worker to call Slack")
        slack.hold.clear()
        slack.release.set()
        wait_until(lambda: slack.answered == 1, timeout=10, what="the held request to end")

        row.refresh_from_db()
        assert (row.state, row.attempts) == ("running", 1)  # claimed by the dead worker, not delivered
        assert slack.posted == []
        dead_worker_time_passes()
        workers.run_one_until(row_done(row), what="the restarted worker to deliver")

    assert len(slack.posted) == 1
    assert slack.received == [slack.posted[0], slack.posted[0]]  # the dead worker's call, then the one posted
    assert f"ticket #{ticket.pk} " in slack.posted[0]
    assert row.attempts == 2


def test_worker_killed_mid_digest_against_a_slow_slack_duplicates_at_most_one_message(
    tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backlog of 30 tickets for one webhook, a worker with 4 threads, a Slack that takes 1.5 s to answer
    (longer than the 1.1 s between two sends). The worker is killed once Slack has received its second
    message; the new worker finishes the backlog. At most one message reaches the channel twice."""
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme", slack_webhook_url=slack.url)
    monkeypatch.setattr(halo.outbox, "_send", lambda message, countdown=0: None)
    tickets = escalated(workspace, 30)

    slack.latency = 1.5
    with outbox_workers(tmp_path) as workers:
        workers.kill_one_when(lambda: len(slack.received) == 2, what="Slack to receive a second message")
        dead_worker_time_passes()

        def drained() -> bool:
            return not OutboxMessage.objects.filter(task=SLACK_TASK).exclude(state="done").exists()

        workers.run_one_until(drained, what="the restarted worker to finish the backlog")

    announced: set[int] = set()
    twice: set[int] = set()
    for message in slack.received_tickets:
        twice |= announced & set(message)
        announced |= set(message)
    assert announced == {ticket.pk for ticket in tickets}  # none lost
    # The tickets announced twice are those of one message at most: the digest in flight when the worker died
    # (the new worker may send them again in one message or, when their leases end a moment apart, in two).
    assert any(twice <= set(message) for message in slack.received_tickets), slack.received_tickets
    assert slack.most_in_flight == 1  # one message of the webhook in flight at a time
