"""R3 when Redis does not answer at all (blackholed, a hung server): unlike a Redis that is down, which
refuses connections at once, a silent one accepts the connection and never replies, so every client without
a timeout waits forever. The production layout runs for real (gunicorn, on this run's PostgreSQL database)
with ``REDIS_URL`` pointing at such a server: the widget requests still succeed, within the few seconds the
Redis clients' timeouts cost (cache, channel layer and Celery broker all give up), and the ticket, its inbox
events and its outbox rows are written; the live events are recovered by sequence replay, the queued work by
the outbox sweep once Redis answers again.

The pauses after a failure (``halo.pause``) run on the test's ``clock``, stopped (``StoppedClock``): a test
steps over one instead of waiting it out, and a loaded machine running the requests slowly cannot end one
early. What the silent server costs (the clients' socket timeouts) is real time.
"""

import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from escalation.services import escalation_settings_ensure
from halo import outbox
from halo.api import throttling
from halo.celery import app as celery_app
from halo.clock import clock_use
from halo.models import OutboxMessage
from halo.outbox import outbox_enqueue
from halo.services import api_key_create
from inbox.models import InboxEvent, Ticket
from inbox.services import SUMMARY_TASK
from tests.agents.factories import AgentFactory
from tests.halo.factories import WorkspaceFactory
from tests.reliability.processes import gunicorn, halo_process, http_json, process_env, require_postgresql
from tests.support.clock import ManualClock, StoppedClock
from tests.support.processes import free_port

# Far below "forever" (what a widget request waited before the timeouts), far above what the timeouts cost
# (about 1 s per Redis call that gives up), so a loaded machine does not make the test flaky.
REQUEST_BOUND_SECONDS = 20


@dataclass
class SilentServer:
    """Connections complete in the kernel (the listening socket's backlog), so a client connects and sends,
    and nothing ever reads or answers. ``connections()`` takes what the backlog holds and counts it."""

    listener: socket.socket
    accepted: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def connections(self) -> int:
        """How many connections were made so far. A client's connect returns once the kernel has queued the
        connection, so after the client's call this count is exact: no waiting."""
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except BlockingIOError:
                return len(self.accepted)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with clock_use(StoppedClock()) as stopped:
        yield stopped


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A TCP server that takes every connection and never reads or answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.setblocking(False)
    server = SilentServer(listener)
    try:
        yield server
    finally:
        server.connections()
        for connection in server.accepted:
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

    with silent_server() as redis:
        env = process_env(redis_url=redis.url, data_dir=tmp_path)
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


@pytest.mark.django_db
def test_after_one_failed_publish_requests_leave_a_silent_broker_alone_for_a_few_seconds(
    settings: Any, django_capture_on_commit_callbacks: Any, clock: ManualClock
) -> None:
    """In process, on any database: the Celery broker (with production's timeouts) is a Redis that never
    answers. The first message queued costs its request the publish timeouts; the messages queued during
    the next seconds are left to the sweep without trying the broker (no connection, no wait); after the
    pause the broker is tried again. Every row stays pending for the sweep."""
    workspace = WorkspaceFactory()

    def enqueue_one(n: int) -> OutboxMessage:
        with django_capture_on_commit_callbacks(execute=True):
            return outbox_enqueue(workspace=workspace, task=SUMMARY_TASK, payload={"ticket_id": n})

    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_transport_options, celery_app._pool, celery_app.amqp._producer_pool)
    with silent_server() as redis:
        conf.broker_url, conf.broker_transport_options = redis.url, {**settings.REDIS_TIMEOUTS}
        celery_app._pool = celery_app.amqp._producer_pool = None  # built again, lazily, on the silent server
        try:
            enqueue_one(1)
            tried_first = redis.connections()
            clock.advance(outbox.PUBLISH_PAUSE_SECONDS - 0.5)
            enqueue_one(2)
            enqueue_one(3)
            tried_while_paused = redis.connections()
            clock.advance(0.5)
            enqueue_one(4)
            tried_after_pause = redis.connections()
        finally:
            if celery_app._pool is not None:
                celery_app._pool.force_close_all()
            conf.broker_url, conf.broker_transport_options, celery_app._pool, celery_app.amqp._producer_pool = saved

    assert tried_first >= 1
    assert tried_while_paused == tried_first  # not even a connection: no request waited on it
    assert tried_after_pause > tried_first
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"pending"}
    assert OutboxMessage.objects.count() == 4


def test_after_one_failed_broadcast_requests_leave_a_silent_channel_layer_alone(
    settings: Any, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    """The production channel layer (pub/sub, with production's timeouts) on a Redis that never answers:
    the first broadcast costs its caller the socket timeout and raises (the caller logs it); the next ones
    during the pause raise at once, without a connection; after the pause the layer is tried again."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from halo import layers

    with silent_server() as redis:
        layer = RedisPubSubChannelLayer(hosts=[{"address": redis.url, **settings.REDIS_TIMEOUTS}])
        monkeypatch.setattr(layers, "get_channel_layer", lambda: layer)

        def broadcast() -> float:
            started = time.monotonic()
            with pytest.raises(Exception):  # noqa: B017, PT011 — whatever the layer raises, the caller logs it
                layers.group_send_sync("inbox.workspace.1", {"type": "inbox.event", "text": "{}"})
            return time.monotonic() - started

        first = broadcast()
        tried_first = redis.connections()
        clock.advance(layers.SEND_PAUSE_SECONDS - 0.5)
        for _ in range(3):
            broadcast()
        tried_while_paused = redis.connections()
        clock.advance(0.5)
        broadcast()
        tried_after_pause = redis.connections()

    assert 0.5 < first < 3  # the socket timeout (1 s), not SEND_TIMEOUT_SECONDS nor forever
    # No connection while paused, so no socket timeout paid: counted, not timed (the machine's load decides
    # a request's time).
    assert tried_while_paused == tried_first >= 1
    assert tried_after_pause > tried_first


@pytest.mark.django_db
def test_after_one_failed_rate_limit_check_requests_leave_a_silent_cache_alone_for_a_few_seconds(
    settings: Any, caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    """In process, on any database: the throttles' cache (production's Redis cache, with its timeouts) is a
    Redis that never answers. The first widget request pays the cache's socket timeout and is let through;
    the widget and server API requests of the next seconds are let through at once, without a connection,
    and only one warning is logged; after the pause the rate limit is tried again."""
    workspace = WorkspaceFactory(name="Acme")
    AgentFactory(workspace=workspace, name="Ada")
    api_key = api_key_create(workspace=workspace)[1]

    def widget_config() -> float:
        started = time.monotonic()
        response = APIClient().get("/api/widget/v1/config", {"app_id": workspace.app_id})
        assert response.status_code == 200, response.content
        return time.monotonic() - started

    def server_agents() -> float:
        started = time.monotonic()
        response = APIClient().get("/api/v1/agents", HTTP_AUTHORIZATION=f"Bearer {api_key}")
        assert response.status_code == 200, response.content
        return time.monotonic() - started

    def warnings() -> int:
        return sum(1 for r in caplog.records if r.name == throttling.__name__ and r.levelno == logging.WARNING)

    caplog.set_level(logging.WARNING, logger=throttling.__name__)
    with silent_server() as redis:
        settings.CACHES = {
            "default": {
                "BACKEND": "halo.cache.RedisCache",
                "LOCATION": redis.url,
                "OPTIONS": dict(settings.REDIS_TIMEOUTS),
            }
        }
        first = widget_config()
        tried_first = redis.connections()
        clock.advance(throttling.CACHE_PAUSE_SECONDS - 0.5)
        for request in (widget_config, server_agents, widget_config, server_agents):
            request()
        tried_while_paused = redis.connections()
        warnings_while_paused = warnings()
        clock.advance(0.5)
        after_pause = widget_config()
        tried_after_pause = redis.connections()

    assert 0.5 < first < REQUEST_BOUND_SECONDS  # the cache's socket timeout (1 s), then let through
    # Not asked at all while paused (no connection, so no socket timeout to wait for; each request answered
    # 200): the connection count shows it whatever the machine's load, where a bound on their time would not.
    assert tried_while_paused == tried_first >= 1
    assert warnings_while_paused == 1  # one warning for the pause, not one per request
    assert after_pause > 0.5  # tried again: the cache's timeout once more
    assert tried_after_pause > tried_first
    assert warnings() == 2
