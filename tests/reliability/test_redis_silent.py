"""R3 when Redis does not answer at all (blackholed, a hung server): unlike a Redis that is down, which
refuses connections at once, a silent one accepts the connection and never replies, so every client without
a timeout waits forever. The production layout runs for real (gunicorn, on this run's PostgreSQL database)
with ``REDIS_URL`` pointing at such a server: the widget requests still succeed, within the few seconds the
Redis clients' timeouts cost (cache, channel layer and Celery broker all give up), and the ticket, its inbox
events and its outbox rows are written; the live events are recovered by sequence replay, the queued work by
the outbox sweep once Redis answers again.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from escalation.services import SUMMARY_TASK, escalation_settings_ensure
from halo.models import OutboxMessage
from inbox.models import InboxEvent, Ticket
from tests.agents.factories import AgentFactory
from tests.halo.factories import WorkspaceFactory
from tests.reliability.processes import free_port, gunicorn, halo_process, http_json, process_env, require_postgresql

# Far below "forever" (what a widget request waited before the timeouts), far above what the timeouts cost
# (about 1 s per Redis call that gives up), so a loaded machine does not make the test flaky.
REQUEST_BOUND_SECONDS = 20


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts every connection and never reads or answers; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def timed(method: str, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any, float]:
    started = time.monotonic()
    status, payload = http_json(method, url, json.dumps(body).encode(), headers)
    return status, payload, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_widget_handoff_succeeds_quickly_when_redis_accepts_connections_but_never_answers(tmp_path: Path) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme")
    escalation_settings_ensure(agent=AgentFactory(workspace=workspace, name="Ada"))
    web_port = free_port()

    with silent_server() as redis_port:
        env = process_env(redis_url=f"redis://127.0.0.1:{redis_port}/0", data_dir=tmp_path)
        with halo_process(gunicorn(web_port), env=env, log=tmp_path / "web.log", port=web_port):
            base = f"http://127.0.0.1:{web_port}"
            started_status, started, started_seconds = timed(
                "POST",
                f"{base}/api/widget/v1/conversations",
                {"app_id": workspace.app_id, "body": "My invoice is wrong"},
            )
            assert started_status == 201, started
            handoff_status, handed_off, handoff_seconds = timed(
                "POST",
                f"{base}/api/widget/v1/conversations/{started['id']}/handoff",
                {},
                {"Authorization": f"Bearer {started['token']}"},
            )
        log = (tmp_path / "web.log").read_text()

    assert handoff_status == 201, handed_off
    print(f"silent Redis: first message {started_seconds:.2f} s, handoff {handoff_seconds:.2f} s")
    assert started_seconds < REQUEST_BOUND_SECONDS, log[-3000:]
    assert handoff_seconds < REQUEST_BOUND_SECONDS, log[-3000:]
    # What the user sees was written: the conversation is handed off to its ticket ...
    assert handed_off["status"] == "handed_off"
    ticket = Ticket.objects.get(workspace=workspace)
    assert handed_off["ticket"]["id"] == ticket.pk
    # ... the live events the staff sockets missed are in the log they replay from ...
    assert InboxEvent.objects.filter(workspace=workspace, ticket=ticket, type="ticket.created").exists()
    # ... and the AI summary waits in the outbox for the sweep.
    summary = OutboxMessage.objects.get(task=SUMMARY_TASK, payload__ticket_id=ticket.pk)
    assert summary.state == "pending"
