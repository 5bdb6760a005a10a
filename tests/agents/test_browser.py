"""A real headless Chromium on the demo page: ask a question, see the AI's answer with its source link.

Halo runs in a subprocess ASGI server (uvicorn, ``halo.asgi:application``) on a free loopback port, over a
fresh SQLite data directory that is migrated and seeded with the demo first (whatever ``DATABASE_URL`` the
suite runs with: the server is a separate process and must not touch the test database).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _serve(data_dir: Path, **extra_env: str) -> Iterator[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"HALO_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "halo.settings", **extra_env})
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "halo.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen([*uvicorn, "--lifespan", "off", "--log-level", "warning"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the Halo server did not start")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def halo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(tmp_path_factory.mktemp("halo-browser")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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
    page.goto(f"{halo_server}/widget/demo/?open=1")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")

    page.fill(".halo-input", "<img src=x onerror=\"document.body.dataset.pwned='1'\"> billing")
    page.click(".halo-send")
    page.wait_for_selector(".halo-message--ai", timeout=15_000)

    assert page.locator(".halo-message--user img").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None
    page.close()


def test_talk_to_a_human_hands_off_and_hides_the_button(halo_server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{halo_server}/widget/demo/?open=1")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")
    page.fill(".halo-input", "How do I export my data?")
    page.click(".halo-send")
    page.wait_for_selector(".halo-message--ai", timeout=15_000)

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
    with _serve(data_dir, REDIS_URL=redis_url) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{url}/widget/demo/?open=1")
        page.wait_for_selector("[data-halo-widget][data-ready='true']")
        page.fill(".halo-input", "How do I export my data?")
        page.click(".halo-send")
        page.wait_for_selector(".halo-message--ai", timeout=15_000)
        conversation_id = page.evaluate(
            "JSON.parse(Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]).id"
        )
        time.sleep(0.5)  # let the socket join its group

        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env.update({"HALO_DATA_DIR": str(data_dir), "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "halo.settings"})
        post = (
            "from agents.models import Conversation; from agents.services import conversation_post_message; "
            f"conversation_post_message(conversation=Conversation.objects.get(pk={int(conversation_id)}), "
            "author='teammate', body='Hi, this is Sam from the support team.')"
        )
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", post], cwd=ROOT, env=env, check=True)

        reply = page.wait_for_selector(".halo-message--teammate", timeout=10_000)
        assert reply is not None
        assert "Sam from the support team" in reply.inner_text()
        page.close()
