"""R3: Redis stops during widget traffic and comes back. The production layout runs for real (gunicorn for
HTTP, a Celery worker with beat, all on this run's PostgreSQL database and on a Redis server of the test's
own, never the shared one): while Redis is down every widget request still succeeds and every handoff
opens its ticket; the work queued meanwhile (AI summaries, through the outbox) is delivered once Redis is
back, each exactly once.
"""

import json
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.services import escalation_settings_ensure
from halo.celery import app as celery_app
from halo.models import OutboxMessage, Workspace
from halo.outbox import _send as outbox_send
from halo.services import api_key_create
from inbox.models import InboxEvent, Ticket
from inbox.services import SUMMARY_TASK
from tests.agents.factories import AgentFactory
from tests.halo.factories import WorkspaceFactory
from tests.reliability.processes import (
    celery_worker,
    gunicorn,
    halo_process,
    http_json,
    process_env,
    redis_server,
    require_postgresql,
)
from tests.support.processes import free_port, wait_until


@pytest.mark.django_db
def test_rate_limits_fail_open_when_the_cache_is_unreachable(settings: Any) -> None:
    """In process, on any database: the throttles' cache is a Redis that does not answer."""
    workspace = WorkspaceFactory(name="Acme")
    AgentFactory(workspace=workspace, name="Ada")
    settings.CACHES = {
        "default": {
            "BACKEND": "halo.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    api_key = api_key_create(workspace=workspace)[1]

    widget = APIClient().get("/api/widget/v1/config", {"app_id": workspace.app_id})
    server = APIClient().get("/api/v1/agents", HTTP_AUTHORIZATION=f"Bearer {api_key}")

    assert (widget.status_code, server.status_code) == (200, 200)


def hand_off(base: str, workspace: Workspace, body: str) -> dict[str, Any]:
    """A visitor starts a conversation and asks for a human: the two widget requests, answered 201."""
    status, started = http_json(
        "POST", f"{base}/api/widget/v1/conversations", json.dumps({"app_id": workspace.app_id, "body": body}).encode()
    )
    assert status == 201, started
    status, handed_off = http_json(
        "POST",
        f"{base}/api/widget/v1/conversations/{started['id']}/handoff",
        b"{}",
        {"Authorization": f"Bearer {started['token']}"},
    )
    assert status == 201, handed_off
    return handed_off


@pytest.mark.django_db
def test_a_request_does_not_wait_on_broker_retries_while_redis_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox row is the retry: publishing tries the broker twice (a blip), not Celery's default four
    times with back-off, then leaves the message to the sweep."""
    port = free_port()
    attempts: list[Any] = []
    connect = socket.socket.connect

    def counting_connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[1] == port:
            attempts.append(address)
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", counting_connect)
    message = OutboxMessage.objects.create(workspace=WorkspaceFactory(), task=SUMMARY_TASK, payload={"ticket_id": 1})
    # The app's broker for the length of the test: a port nobody listens on (its pools are built lazily).
    saved = (celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool)
    celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool = (
        f"redis://127.0.0.1:{port}/0",
        None,
        None,
    )
    try:
        outbox_send(message)
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool = saved

    assert len(attempts) == 2
    message.refresh_from_db()
    assert message.state == "pending"  # kept for the sweep


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_widget_traffic_survives_a_redis_outage_and_queued_work_is_delivered_when_it_returns(tmp_path: Path) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme")
    escalation_settings_ensure(agent=AgentFactory(workspace=workspace, name="Ada"))
    web_port = free_port()

    with redis_server(tmp_path) as redis:
        env = process_env(redis_url=redis.url, data_dir=tmp_path, OUTBOX_SWEEP_INTERVAL="1")
        with halo_process(gunicorn(web_port), env=env, log=tmp_path / "web.log", port=web_port), ExitStack() as workers:
            worker = workers.enter_context(
                halo_process(celery_worker(tmp_path / "beat"), env=env, log=tmp_path / "worker-0.log")
            )
            restarts = 0

            def supervise() -> None:
                """What a process manager does. kombu 5.7 can exit the worker ("Unrecoverable error:
                AttributeError ... 'hostname'") when the broker connection drops while a message is unacked;
                its claimed rows come back when their lease ends (moved to now: what time would do)."""
                nonlocal worker, restarts
                if worker.poll() is None:
                    return
                restarts += 1
                OutboxMessage.objects.filter(state="running").update(lease_expires_at=timezone.now())
                log = tmp_path / f"worker-{restarts}.log"
                worker = workers.enter_context(halo_process(celery_worker(tmp_path / "beat"), env=env, log=log))

            def all_delivered() -> bool:
                supervise()
                return not OutboxMessage.objects.filter(task=SUMMARY_TASK).exclude(state="done").exists()

            base = f"http://127.0.0.1:{web_port}"
            hand_off(base, workspace, "Before the outage: my invoice is wrong")
            wait_until(all_delivered, timeout=60, what="the first summary")

            redis.stop()
            during = [hand_off(base, workspace, f"During the outage #{n}: I was charged twice") for n in range(5)]
            tickets_during = Ticket.objects.filter(workspace=workspace).count()
            summaries_pending = OutboxMessage.objects.filter(task=SUMMARY_TASK).exclude(state="done").count()

            redis.start()
            after = hand_off(base, workspace, "After the outage: please call me")
            wait_until(all_delivered, timeout=90, what="the queued summaries to be delivered")

    assert restarts <= 1
    # Every widget request succeeded and opened its own ticket (each visitor is a new contact).
    assert len({handoff["ticket"]["id"] for handoff in [*during, after]}) == 6
    assert tickets_during == 6
    assert summaries_pending >= 1  # work was queued while Redis was down (not delivered behind its back)
    tickets = list(Ticket.objects.filter(workspace=workspace))
    assert len(tickets) == 7
    assert all(ticket.summary for ticket in tickets)
    # Exactly once: one summary message per ticket, each delivered once.
    summaries = OutboxMessage.objects.filter(task=SUMMARY_TASK)
    assert sorted(m.payload["ticket_id"] for m in summaries) == sorted(t.pk for t in tickets)
    ready = list(
        InboxEvent.objects.filter(workspace=workspace, type="summary.ready").values_list("ticket_id", flat=True)
    )
    assert sorted(ready) == sorted(t.pk for t in tickets)
