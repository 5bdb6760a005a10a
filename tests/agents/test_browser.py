"""A real headless Chromium on the demo page: ask a question, see the AI's answer with its source link; see
the handoff message as soon as a message hands off (once, though the socket brings it too); pick an agent.

Halo runs in a subprocess ASGI server (uvicorn, ``halo.asgi:application``) on a free loopback port, over a
fresh SQLite data directory that is migrated and seeded with the demo first (whatever ``DATABASE_URL`` the
suite runs with: the server is a separate process and must not touch the test database). The harness is
``tests/browser.py``.
"""

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import MANAGE, ROOT, halo_server_running, server_env, uvicorn_command, widget_ask
from tests.support.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def halo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("halo-browser")


@pytest.fixture(scope="module")
def halo_server(halo_data_dir: Path) -> Iterator[str]:
    with halo_server_running(halo_data_dir, command=uvicorn_command, start_timeout=30, stop_timeout=10) as url:
        yield url


def manage_shell(data_dir: Path, code: str) -> str:
    """Run ``code`` in ``manage.py shell`` over the server's data directory; its standard output."""
    done = subprocess.run(
        [*MANAGE, "shell", "-v0", "-c", code],
        cwd=ROOT,
        env=server_env(data_dir),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


HANDOFF_TEXT = "passed this conversation to our team"
# Replaces the browser's WebSocket with one that never connects: what the widget shows then came over HTTP.
# Counts the page's sockets that opened. The widget socket's consumer joins its group before it accepts, so
# an open socket is one that live messages reach.
SOCKETS_OPENED = """
const NativeWebSocket = window.WebSocket;
window.haloSocketsOpened = 0;
window.WebSocket = function (url, protocols) {
  const socket = new NativeWebSocket(url, protocols);
  socket.addEventListener("open", () => { window.haloSocketsOpened += 1; });
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
"""


def wait_for_live_socket(page: Any) -> None:
    # Polled from here: Playwright's own polling of a predicate compiles it in the page, which the widget's
    # Content-Security-Policy (no eval) refuses; a plain evaluate is not compiled by the page.
    wait_until(lambda: page.evaluate("() => window.haloSocketsOpened || 0") >= 1, timeout=10, what="a live socket")


NO_SOCKET = """
window.WebSocket = function () {
  this.readyState = 0;
  this.close = function () {};
  this.send = function () {};
};
"""


def test_visitor_asks_and_sees_an_answer_with_its_source_link(halo_server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{halo_server}/widget/demo/")
    page.click(".halo-launcher")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")
    assert "Ada" in page.inner_text(".halo-title")
    assert "Acme's assistant" in page.inner_text(".halo-message--greeting")

    page.fill(".halo-input", "How do I reset my password?")
    page.click(".halo-send")
    source = page.wait_for_selector(".halo-message--ai .halo-source", timeout=15_000)

    assert source is not None
    assert source.inner_text() == "How to reset your password"
    assert source.get_attribute("href") == "https://help.acme.test/articles/how-to-reset-your-password"
    assert "Forgot password" in page.inner_text(".halo-message--ai .halo-body")
    assert page.inner_text(".halo-message--user .halo-body") == "How do I reset my password?"

    # The conversation survives a reload: the widget catches up from the API with its stored token.
    page.reload()
    page.click(".halo-launcher")
    page.wait_for_selector(".halo-message--ai .halo-source", timeout=15_000)
    assert page.locator(".halo-message--user").count() == 1
    assert errors == []
    page.close()


def test_user_text_is_shown_as_text_never_as_html(halo_server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    widget_ask(page, halo_server, "<img src=x onerror=\"document.body.dataset.pwned='1'\"> billing")

    assert page.locator(".halo-message--user img").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None
    page.close()


def test_talk_to_a_human_hands_off_and_hides_the_button(halo_server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    widget_ask(page, halo_server, "How do I export my data?")

    page.click(".halo-handoff")
    page.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)

    assert page.locator(".halo-message--system").count() >= 1
    assert page.locator(".halo-handoff").is_hidden()
    page.close()


@pytest.mark.redis
def test_teammate_reply_from_another_process_arrives_live(
    tmp_path_factory: pytest.TempPathFactory, browser: object
) -> None:
    """The widget's socket is served by one process; the teammate's reply is posted by another (as a
    worker or a second web process would), through the Redis channel layer."""
    redis_url = os.environ.get("HALO_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except Exception:  # no Redis here: this test needs one
        pytest.skip(f"Redis is not reachable at {redis_url}")
    data_dir = tmp_path_factory.mktemp("halo-browser-redis")
    with halo_server_running(
        data_dir, command=uvicorn_command, start_timeout=30, stop_timeout=10, REDIS_URL=redis_url
    ) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.add_init_script(SOCKETS_OPENED)
        widget_ask(page, url, "How do I export my data?")
        conversation_id = page.evaluate(
            "JSON.parse(Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]).id"
        )
        wait_for_live_socket(page)

        env = server_env(data_dir, REDIS_URL=redis_url)
        post = (
            "from agents.models import Conversation; from agents.services import message_post; "
            f"message_post(conversation=Conversation.objects.get(pk={int(conversation_id)}), "
            "author='teammate', body='Hi, this is Sam from the support team.')"
        )
        subprocess.run([*MANAGE, "shell", "-c", post], cwd=ROOT, env=env, check=True)

        reply = page.wait_for_selector(".halo-message--teammate", timeout=10_000)
        assert reply is not None
        assert "Sam from the support team" in reply.inner_text()
        page.close()


def test_handoff_message_shows_right_after_sending_without_waiting_for_the_socket(
    halo_server: str, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.add_init_script(NO_SOCKET)
    widget_ask(page, halo_server, "How do I export my data?")

    page.fill(".halo-input", "I was charged twice and want a refund")
    page.click(".halo-send")
    # From the POST's reply alone: no socket, and no catch-up (that runs only on a reconnect or a reload).
    notice = page.wait_for_selector(".halo-message--system", timeout=5_000)

    assert notice is not None
    assert HANDOFF_TEXT in notice.inner_text()
    assert "leave your email" in notice.inner_text()  # an anonymous visitor without an email
    page.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=5_000)
    authors = page.eval_on_selector_all(
        "[data-message-id]", "items => items.map(item => item.className.replace('halo-message halo-message--', ''))"
    )
    assert authors == ["user", "ai", "user", "ai", "system"]
    page.close()


def test_handoff_message_that_also_arrives_over_the_socket_is_shown_once(halo_server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    socket_messages: list[dict[str, Any]] = []

    def watch(socket: Any) -> None:
        def received(payload: str | bytes) -> None:
            data = json.loads(payload)
            if data.get("type") == "message":
                socket_messages.append(data["message"])

        socket.on("framereceived", received)

    page.on("websocket", watch)
    page.add_init_script(SOCKETS_OPENED)
    widget_ask(page, halo_server, "How do I export my data?")
    wait_for_live_socket(page)

    page.fill(".halo-input", "I was charged twice and want a refund")
    page.click(".halo-send")
    page.wait_for_selector(".halo-message--system", timeout=15_000)
    deadline = time.monotonic() + 10
    while not any(message["author"] == "system" for message in socket_messages) and time.monotonic() < deadline:
        page.wait_for_timeout(100)

    [system] = [message for message in socket_messages if message["author"] == "system"]
    assert page.locator(".halo-message--system").count() == 1
    assert page.get_attribute(".halo-message--system", "data-message-id") == str(system["id"])
    page.close()


def test_embed_with_data_agent_talks_to_that_agent(halo_server: str, halo_data_dir: Path, browser: object) -> None:
    agent_id = int(
        manage_shell(
            halo_data_dir,
            "from agents.models import Agent; from halo.models import Workspace; "
            "print(Agent.objects.create(workspace=Workspace.objects.get(slug='acme'), name='Sol from Sales', "
            "greeting='Questions about our plans? Ask me.').pk)",
        )
    )
    page = browser.new_page()  # type: ignore[attr-defined]

    page.goto(f"{halo_server}/widget/demo/?open=1&agent={agent_id}")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")
    assert page.inner_text(".halo-title") == "Sol from Sales"
    assert page.inner_text(".halo-message--greeting") == "Questions about our plans? Ask me."
    page.fill(".halo-input", "How do I reset my password?")
    page.click(".halo-send")
    page.wait_for_selector(".halo-message--ai", timeout=15_000)

    stored = page.evaluate(
        f"localStorage.getItem(Object.keys(localStorage).find(k => k.endsWith(':agent:{agent_id}')))"
    )
    conversation_id = int(json.loads(stored)["id"])
    stored_agent = manage_shell(
        halo_data_dir,
        f"from agents.models import Conversation; print(Conversation.objects.get(pk={conversation_id}).agent_id)",
    )
    assert int(stored_agent) == agent_id
    assert page.locator(".halo-message--ai .halo-author-name").first.inner_text() == "Sol from Sales"
    page.close()


# --- Catching up on what the socket missed ----------------------------------------------------------------
# A message posted by a ``manage.py shell`` beside the server is broadcast on that process's own in-memory
# channel layer, which no socket listens to: a broadcast lost as one is while Redis restarts.


def conversation_of_page(page: Any) -> int:
    return int(
        page.evaluate("JSON.parse(Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]).id")
    )


def post_unseen_teammate_message(data_dir: Path, conversation_id: int, body: str) -> None:
    manage_shell(
        data_dir,
        "from agents.models import Conversation; from agents.services import message_post; "
        f"message_post(conversation=Conversation.objects.get(pk={conversation_id}), author='teammate', body={body!r})",
    )


def staff_reply(base_url: str, data_dir: Path, conversation_id: int, body: str) -> None:
    """A teammate's reply through the server's own inbox (its broadcast reaches the widget's socket)."""
    ticket_id = manage_shell(
        data_dir,
        "from inbox.models import Ticket; "
        f"print(Ticket.objects.filter(conversations={conversation_id}).values_list('pk', flat=True).first())",
    )
    with httpx.Client(base_url=base_url, timeout=30) as client:
        login = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token is not None
        credentials = {"username": "admin@acme.test", "password": "halo-demo-password"}
        signed_in = client.post("/accounts/login/", data={"csrfmiddlewaretoken": token.group(1), **credentials})
        assert signed_in.status_code == 302, signed_in.text[:300]
        page = client.get(f"/inbox/tickets/{ticket_id}/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        replied = client.post(
            f"/inbox/tickets/{ticket_id}/reply",
            data={"csrfmiddlewaretoken": token.group(1), "body": body},
            headers={"Referer": f"{base_url}/inbox/tickets/{ticket_id}/"},
        )
        assert replied.status_code == 302, replied.text[:300]


def test_a_reply_whose_broadcast_was_lost_shows_on_the_slow_timer_while_handed_off(
    halo_server: str, halo_data_dir: Path, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.add_init_script(SOCKETS_OPENED)
    widget_ask(page, halo_server, "How do I export my data?")
    page.click(".halo-handoff")
    page.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    wait_for_live_socket(page)

    post_unseen_teammate_message(halo_data_dir, conversation_of_page(page), "Sam here: the export is on its way.")

    # widget.js catches up every 10 s while a teammate owns the conversation (HANDOFF_POLL_MS).
    reply = page.wait_for_selector(".halo-message--teammate", timeout=15_000)
    assert reply is not None
    assert "the export is on its way" in reply.inner_text()
    assert page.evaluate("window.haloSocketsOpened") == 1  # no reconnect brought it
    page.close()


def test_a_live_message_that_skips_ids_makes_the_widget_fetch_what_it_missed(
    halo_server: str, halo_data_dir: Path, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.add_init_script(SOCKETS_OPENED)
    widget_ask(page, halo_server, "How do I export my data?")
    page.click(".halo-handoff")
    page.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    wait_for_live_socket(page)
    conversation_id = conversation_of_page(page)

    post_unseen_teammate_message(halo_data_dir, conversation_id, "First: I am looking into it.")
    staff_reply(halo_server, halo_data_dir, conversation_id, "Second: all done.")

    # The live "Second" skips past "First": the widget fetches ?after= at once, well before its slow timer.
    page.locator(".halo-message--teammate").nth(1).wait_for(timeout=5_000)
    texts = page.locator(".halo-message--teammate").all_inner_texts()
    assert "First: I am looking into it." in texts[0]
    assert "Second: all done." in texts[1]
    page.close()
