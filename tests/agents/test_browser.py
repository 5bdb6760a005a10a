"""A real headless Chromium on the demo page: ask a question, see the AI's answer with its source link.

Halo runs in a subprocess ASGI server (uvicorn, ``halo.asgi:application``) on a free loopback port, over a
fresh SQLite data directory that is migrated and seeded with the demo first (whatever ``DATABASE_URL`` the
suite runs with: the server is a separate process and must not touch the test database). The harness is
``tests/browser.py``.
"""

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.browser import MANAGE, ROOT, halo_server_running, server_env, uvicorn_command, widget_ask

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def halo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-browser")
    with halo_server_running(data_dir, command=uvicorn_command, start_timeout=30, stop_timeout=10) as url:
        yield url


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
        widget_ask(page, url, "How do I export my data?")
        conversation_id = page.evaluate(
            "JSON.parse(Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]).id"
        )
        time.sleep(0.5)  # let the socket join its group

        env = server_env(data_dir, REDIS_URL=redis_url)
        post = (
            "from agents.models import Conversation; from agents.services import conversation_post_message; "
            f"conversation_post_message(conversation=Conversation.objects.get(pk={int(conversation_id)}), "
            "author='teammate', body='Hi, this is Sam from the support team.')"
        )
        subprocess.run([*MANAGE, "shell", "-c", post], cwd=ROOT, env=env, check=True)

        reply = page.wait_for_selector(".halo-message--teammate", timeout=10_000)
        assert reply is not None
        assert "Sam from the support team" in reply.inner_text()
        page.close()
