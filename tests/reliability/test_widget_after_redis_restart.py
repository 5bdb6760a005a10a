"""Finding 6 of the hardening pass: a teammate's reply reaches the widget after Redis was killed and restarted.

The production layout: gunicorn serves the inbox (the teammate's reply) and the widget API, uvicorn serves the
widget's socket (the ``ws`` process), both on a Redis of the test's own. The widget is driven as widget.js
drives it: the socket (first frame ``auth``, then live ``message`` frames) and ``GET messages?after=`` when the
socket reconnects, when a live message's id skips ahead of the last one seen, and on a slow timer while a
teammate owns the conversation. Redis is killed with SIGKILL (no goodbye to any client) and restarted on the
same port, and the teammate replies twice:

- at once: the ws process may not have subscribed again yet (its receive loop retries every second), so the
  broadcast can miss the open socket, which never closed. The widget's slow timer brings the reply.
- once the ws process listens again (``PUBSUB NUMSUB`` on the conversation's channel, polled): the broadcast
  itself must bring the reply, within a few seconds, well under the slow timer.

Before the fix both were lost to the widget until a reload: the web process's first publish after the
restart failed on its dead pooled connection, the 5 s pause after a failed send dropped the next ones, and
the widget only caught up on a reconnect.
"""

import json
import re
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from redis import Redis, RedisError
from websockets.sync.client import ClientConnection, connect

from escalation.services import escalation_settings_ensure
from halo.models import Membership
from halo.services import membership_set
from tests.agents.factories import AgentFactory
from tests.halo.factories import UserFactory, WorkspaceFactory
from tests.reliability.processes import (
    RedisServer,
    gunicorn,
    halo_process,
    http_json,
    process_env,
    redis_server,
    require_postgresql,
    uvicorn,
)
from tests.support.processes import free_port, port_open, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# widget.js catches up this often while a teammate owns the conversation (``HANDOFF_POLL_MS``).
SLOW_TIMER_SECONDS = 10.0
# A reply sent once the ws process listens again: well under the slow timer, so only the live path passes.
LIVE_DEADLINE_SECONDS = 3.0


class Widget:
    """The widget's view of one conversation, kept as widget.js keeps it: messages by id, from the socket
    and from catch-ups, whichever comes first; a reconnect or a gap in the ids triggers a catch-up."""

    def __init__(self, http_base: str, ws_base: str, conversation: dict[str, Any]) -> None:
        self.http_base, self.ws_base = http_base, ws_base
        self.id, self.token = conversation["id"], conversation["token"]
        self.messages: dict[int, dict[str, Any]] = {m["id"]: m for m in conversation["messages"]}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.timer = threading.Thread(target=self._slow_timer, daemon=True)
        self.timer.start()

    def _slow_timer(self) -> None:
        # The conversation is handed off for the whole test, so the timer always runs.
        while not self.stopped.wait(SLOW_TIMER_SECONDS):
            self.catch_up()

    @property
    def last_id(self) -> int:
        with self.lock:
            return max(self.messages, default=0)

    def bodies(self) -> list[str]:
        with self.lock:
            return [self.messages[key]["body"] for key in sorted(self.messages)]

    def catch_up(self) -> None:
        status, page = http_json(
            "GET",
            f"{self.http_base}/api/widget/v1/conversations/{self.id}/messages?after={self.last_id}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if status == 200:
            with self.lock:
                self.messages.update({m["id"]: m for m in page["messages"]})

    def _connect(self) -> ClientConnection:
        socket = connect(f"{self.ws_base}/ws/widget/conversations/{self.id}/", proxy=None, open_timeout=5)
        socket.send(json.dumps({"type": "auth", "token": self.token}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "ready"}
        return socket

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                socket = self._connect()
            except Exception:  # the ws process cannot take the socket yet: retry, as widget.js backs off
                self.stopped.wait(0.2)  # the reconnect backoff, cut short when the test stops the client
                continue
            self.catch_up()  # every (re)connect catches up with what the socket missed
            self.ready.set()
            try:
                while not self.stopped.is_set():
                    try:
                        frame = json.loads(socket.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if frame.get("type") != "message":
                        continue
                    message = frame["message"]
                    gap = message["id"] > self.last_id + 1
                    with self.lock:
                        self.messages[message["id"]] = message
                    if gap:
                        self.catch_up()
            except Exception:  # noqa: S112 (the socket closed: reconnect, as widget.js does)
                continue
            finally:
                socket.close()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.timer.join(timeout=5)


class Teammate:
    """A signed-in teammate's browser against the web process: session cookie and CSRF token as the ticket
    page gives them, replies posted as the reply form posts them."""

    def __init__(self, base: str, session: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.session = session

    def _open(self, request: urllib.request.Request) -> str:
        request.add_header("Cookie", f"sessionid={self.session}" + self._csrf_cookie())
        with self.opener.open(request, timeout=30) as response:
            return str(response.read().decode())

    def _csrf_cookie(self) -> str:
        token = next((c.value for c in self.jar if c.name == "csrftoken"), None)
        return f"; csrftoken={token}" if token else ""

    def reply(self, ticket_id: int, body: str) -> None:
        page = self._open(urllib.request.Request(f"{self.base}/inbox/tickets/{ticket_id}/"))
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert match is not None
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": match.group(1), "body": body}).encode()
        request = urllib.request.Request(f"{self.base}/inbox/tickets/{ticket_id}/reply", data=form, method="POST")
        request.add_header("Referer", f"{self.base}/inbox/tickets/{ticket_id}/")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        self._open(request)


def kill_and_restart(redis: RedisServer) -> None:
    assert redis.process is not None
    redis.process.kill()  # SIGKILL: no client is told
    redis.process.wait()
    wait_until(lambda: not port_open(redis.port), timeout=5, what="Redis to be gone")
    redis.start()


class ListensAgain:
    """Whether the ws process subscribed again to the conversation's channel (its receive loop retries every
    second after losing Redis), read from Redis itself."""

    def __init__(self, url: str, env: dict[str, str], conversation_id: int) -> None:
        self.client = Redis.from_url(url)
        prefix = env.get("CHANNEL_LAYER_PREFIX", "asgi")
        self.channel = f"{prefix}__group__widget.conversation.{conversation_id}"

    def subscribed(self) -> bool:
        try:
            return int(self.client.pubsub_numsub(self.channel)[0][1]) > 0
        except RedisError:
            return False

    def wait(self) -> None:
        wait_until(self.subscribed, timeout=15, what="the ws process to listen on the conversation again")


def test_a_teammate_reply_reaches_the_widget_within_seconds_after_redis_is_killed_and_restarted(
    tmp_path: Path,
) -> None:
    require_postgresql()
    workspace = WorkspaceFactory(name="Acme")
    escalation_settings_ensure(agent=AgentFactory(workspace=workspace, name="Ada"))
    teammate = UserFactory(username="sam@acme.test", first_name="Sam")
    membership_set(workspace=workspace, user=teammate, role=Membership.Role.TEAMMATE)
    browser = Client()
    browser.force_login(teammate)
    web_port, ws_port = free_port(), free_port()
    web, ws = f"http://127.0.0.1:{web_port}", f"ws://127.0.0.1:{ws_port}"

    with redis_server(tmp_path) as redis:
        env = process_env(redis_url=redis.url, data_dir=tmp_path)
        with (
            halo_process(gunicorn(web_port), env=env, log=tmp_path / "web.log", port=web_port),
            halo_process(uvicorn(ws_port), env=env, log=tmp_path / "ws.log", port=ws_port),
        ):
            status, started = http_json(
                "POST",
                f"{web}/api/widget/v1/conversations",
                json.dumps({"app_id": workspace.app_id, "body": "My invoice is wrong"}).encode(),
            )
            assert status == 201, started
            auth = {"Authorization": f"Bearer {started['token']}"}
            status, handed_off = http_json(
                "POST", f"{web}/api/widget/v1/conversations/{started['id']}/handoff", b"{}", auth
            )
            assert status == 201, handed_off
            widget = Widget(web, ws, started)
            try:
                assert widget.ready.wait(timeout=10)
                sam = Teammate(web, browser.cookies["sessionid"].value)
                # The web process's pooled Redis connection is in use before the kill.
                sam.reply(handed_off["ticket"]["id"], "Hi, Sam here: looking at it now.")
                wait_until(
                    lambda: "Hi, Sam here: looking at it now." in widget.bodies(), timeout=10, what="the first reply"
                )

                ticket_id = handed_off["ticket"]["id"]
                listens = ListensAgain(redis.url, env, started["id"])

                # 1. The live path: the first publish of the web process after the restart is this reply's.
                kill_and_restart(redis)
                listens.wait()
                replied_at = time.monotonic()
                sam.reply(ticket_id, "Fixed: the credit note is on its way.")
                wait_until(
                    lambda: "Fixed: the credit note is on its way." in widget.bodies(),
                    timeout=LIVE_DEADLINE_SECONDS,
                    what="the reply once the ws process listens again (live)",
                )
                assert time.monotonic() - replied_at < LIVE_DEADLINE_SECONDS

                # 2. The slow timer: a reply at once after a restart, while the ws process may not listen yet.
                kill_and_restart(redis)
                replied_at = time.monotonic()
                sam.reply(ticket_id, "One more thing: check your inbox.")
                wait_until(
                    lambda: "One more thing: check your inbox." in widget.bodies(),
                    timeout=SLOW_TIMER_SECONDS + 5,
                    what="the reply sent right after the Redis restart (live or slow timer)",
                )
                assert time.monotonic() - replied_at < SLOW_TIMER_SECONDS + 5
            finally:
                widget.stop()
