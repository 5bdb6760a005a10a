"""Bring your own bot, on the production layout: gunicorn, a Celery worker (with its beat), Redis and
PostgreSQL, and the docs' example bot (``docs/examples/bot.py``, run as it is published) as a local process.

- The bot registers nothing itself: the endpoint is added through the API, and its secret handed to the bot.
  A widget message reaches the bot as a signed ``message.created`` delivery; the bot's answer, posted to
  ``ai-turns``, is what the widget shows; a message about a refund makes the bot call ``escalate``, which
  opens a ticket and hands the conversation to the team.
- A worker SIGKILLed while a delivery is in flight (the receiver has the request and has not answered)
  loses no event: a new worker delivers it, with the same event id, and the delivery log says delivered.
"""

import json
import os
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

import halo.outbox
from agents.models import Agent, Conversation
from escalation.services import escalation_settings_ensure
from halo.models import OutboxMessage, WebhookDelivery
from halo.services import api_key_create
from halo.webhooks.events import DELIVER_TASK, WebhookEvent, webhook_event_record
from halo.webhooks.services import webhook_endpoint_create
from inbox.models import Ticket
from tests.agents.factories import AgentFactory
from tests.halo.factories import WorkspaceFactory
from tests.reliability.processes import (
    gunicorn,
    halo_process,
    http_json,
    http_server_running,
    outbox_workers,
    require_postgresql,
    row_done,
)
from tests.support.processes import ROOT, free_port, port_open, process_running, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BOT = ROOT / "docs" / "examples" / "bot.py"


def widget_messages(base: str, conversation_id: int, token: str) -> list[dict[str, Any]]:
    status, body = http_json(
        "GET", f"{base}/api/widget/v1/conversations/{conversation_id}/messages", headers=bearer(token)
    )
    assert status == 200, body
    return list(body["messages"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_example_bot_answers_a_widget_message_and_its_escalate_call_opens_a_ticket(tmp_path: Path) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme")
    agent = AgentFactory(workspace=workspace, name="Ada", responder=Agent.Responder.EXTERNAL)
    escalation_settings_ensure(agent=agent)
    _, api_key = api_key_create(workspace=workspace)
    web_port, bot_port = free_port(), free_port()
    base = f"http://127.0.0.1:{web_port}"

    with (
        outbox_workers(tmp_path) as workers,
        halo_process(gunicorn(web_port), env=workers.env, log=tmp_path / "web.log", port=web_port),
        workers.running(),
    ):
        status, endpoint = http_json(
            "POST",
            f"{base}/api/v1/webhooks",
            json.dumps({"url": f"http://127.0.0.1:{bot_port}/halo", "events": ["message.created"]}).encode(),
            headers=bearer(api_key),
        )
        assert status == 201, endpoint
        bot_env = {
            **os.environ,
            "HALO_URL": base,
            "HALO_API_KEY": api_key,
            "HALO_WEBHOOK_SECRET": endpoint["secret"],
            "PORT": str(bot_port),
        }
        with process_running([sys.executable, str(BOT)], env=bot_env, log=tmp_path / "bot.log") as bot:
            wait_until(lambda: port_open(bot_port), timeout=15, what="the bot to listen", process=bot)

            status, started = http_json(
                "POST",
                f"{base}/api/widget/v1/conversations",
                json.dumps({"app_id": workspace.app_id, "body": "Where is my order?"}).encode(),
            )
            assert status == 201, started
            assert [message["author"] for message in started["messages"]] == ["user"]  # Halo stays silent
            conversation_id, token = started["id"], started["token"]

            def bot_answered() -> bool:
                return any(m["author"] == "ai" for m in widget_messages(base, conversation_id, token))

            wait_until(bot_answered, timeout=60, what="the bot's reply in the widget", process=bot)
            ai = [m for m in widget_messages(base, conversation_id, token) if m["author"] == "ai"]
            assert [m["body"] for m in ai] == ["Hello from the bot! You wrote: Where is my order?"]

            status, sent = http_json(
                "POST",
                f"{base}/api/widget/v1/conversations/{conversation_id}/messages",
                json.dumps({"body": "I would like a refund for order 42"}).encode(),
                headers=bearer(token),
            )
            assert status == 201, sent

            def ticket_opened() -> bool:
                return Ticket.objects.filter(conversations=conversation_id).exists()

            wait_until(ticket_opened, timeout=60, what="the bot's escalate call to open a ticket", process=bot)

            # The log shows the user's two messages delivered to the bot and acknowledged (204). The bot answers a
            # delivery after its own call to Halo: on a busy machine that call may outlast the delivery's timeout,
            # and the event is delivered again (at least once), so the log is read until both are acknowledged.
            def users_logged() -> list[tuple[str, int | None]]:
                logged = WebhookDelivery.objects.filter(endpoint__workspace=workspace).order_by("id")
                users = [delivery for delivery in logged if delivery.event["data"]["message"]["author"] == "user"]
                return [(delivery.state, delivery.last_status_code) for delivery in users]

            wait_until(
                lambda: users_logged() == [("delivered", 204)] * 2, timeout=120, what="both deliveries acknowledged"
            )

    ticket = Ticket.objects.get(conversations=conversation_id)
    assert ticket.reason == "escalate_tool"
    assert Conversation.objects.get(pk=conversation_id).status == "handed_off"
    messages = Conversation.objects.get(pk=conversation_id).messages.order_by("id")
    assert [(message.author, message.body) for message in messages][:4] == [
        ("user", "Where is my order?"),
        ("ai", "Hello from the bot! You wrote: Where is my order?"),
        ("user", "I would like a refund for order 42"),
        ("ai", "A teammate will sort out your refund."),
    ]


class HoldingReceiver(ThreadingHTTPServer):
    """A webhook receiver that keeps the first request unanswered while ``hold`` is set, and acknowledges
    every later one with 204; ``received`` keeps each request's event id, ``acknowledged`` those answered."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HoldingHandler)
        self.hold = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.received: list[str] = []
        self.acknowledged: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class HoldingHandler(BaseHTTPRequestHandler):
    server: HoldingReceiver

    def do_POST(self) -> None:
        event_id = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["id"]
        with self.server.lock:
            self.server.received.append(event_id)
            first = len(self.server.received) == 1
        if first and self.server.hold.is_set():
            self.server.release.wait(timeout=60)
            return  # the worker that sent it is dead: nobody reads an answer
        self.send_response(204)
        self.end_headers()
        self.server.acknowledged.append(event_id)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[HoldingReceiver]:
    with http_server_running(HoldingReceiver()) as server:
        try:
            yield server
        finally:
            server.release.set()


def test_a_worker_killed_mid_delivery_loses_no_event(
    tmp_path: Path, receiver: HoldingReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme")
    monkeypatch.setattr(halo.outbox, "_send", lambda message, countdown=0: None)  # the workers' sweep sends it
    with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"]):
        webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["ticket.created"])
    workspace.refresh_from_db()
    event_id = webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {"n": 1})
    row = OutboxMessage.objects.get(task=DELIVER_TASK)

    receiver.hold.set()
    with outbox_workers(tmp_path) as workers:
        workers.kill_one_when(lambda: len(receiver.received) == 1, what="the first worker to deliver")
        receiver.release.set()

        row.refresh_from_db()
        assert (row.state, row.attempts) == ("running", 1)  # claimed by the dead worker, not delivered
        assert receiver.acknowledged == []
        # What time would do: the dead worker's two-minute lease runs out.
        OutboxMessage.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        workers.run_one_until(row_done(row), what="the restarted worker to deliver")

    assert receiver.received == [event_id, event_id]  # the dead worker's attempt, then the one acknowledged
    assert receiver.acknowledged == [event_id]
    log = WebhookDelivery.objects.get()
    assert (log.event_id, log.state, log.attempts, log.last_status_code) == (event_id, "delivered", 2, 204)
