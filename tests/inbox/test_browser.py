"""A real headless Chromium against Halo's embedded default (``manage.py serve``: uvicorn, the in-memory
channel layer, the in-process Celery worker) over a fresh, seeded SQLite data directory.

A teammate has the inbox open; a visitor asks for a human in the widget demo page: the ticket appears in
the inbox without a reload, its AI summary arrives, the teammate's reply appears live in the widget, and
the visitor's next message appears live on the ticket page. The harness is ``tests/browser.py``.
"""

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import halo_server_running, serve_command, widget_ask

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)


@pytest.fixture(scope="module")
def halo_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-inbox-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def log_in(page: Any, url: str) -> None:
    page.goto(f"{url}/accounts/login/?next=/inbox/open/")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/open/")


def test_escalation_appears_live_in_the_inbox_and_the_reply_appears_live_in_the_widget(
    halo_embedded: str, browser: Any
) -> None:
    errors: list[str] = []
    inbox = browser.new_context().new_page()
    inbox.on("pageerror", lambda error: errors.append(str(error)))
    log_in(inbox, halo_embedded)
    inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    rows_before = inbox.locator(".ticket-row").count()
    open_before = int(inbox.inner_text("[data-count='open']"))

    widget = browser.new_context().new_page()
    widget.on("pageerror", lambda error: errors.append(str(error)))
    # A question the AI answers (a billing dispute would go to a human at once): the visitor presses the button.
    widget_ask(widget, halo_embedded, "Where is my invoice for <b>March</b>?")
    widget.click(".halo-handoff")
    widget.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)

    # The ticket appears in the open inbox page without a reload, counts included.
    inbox.locator(".ticket-row").nth(rows_before).wait_for(timeout=15_000)
    row = inbox.locator(".ticket-row").first
    assert "Where is my invoice for <b>March</b>?" in row.inner_text()  # shown as text, not HTML
    assert inbox.locator(".ticket-row b").count() == 0
    assert int(inbox.inner_text("[data-count='open']")) == open_before + 1
    assert "New ticket" in inbox.inner_text("#inbox-toasts")

    # The ticket page: the AI context card, the summary filled in by the background worker.
    row.click()
    inbox.wait_for_selector("text=AI Conversation Context")
    inbox.wait_for_selector("#ticket-summary[data-state='ready']", timeout=20_000)
    assert "Where is my invoice" in inbox.inner_text("#ticket-summary")
    inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)

    # The teammate's reply appears live in the widget.
    inbox.fill("#reply-body", "Sorry about that! I've refunded the duplicate charge.")
    inbox.click("#reply-form button[type=submit]")
    reply = widget.wait_for_selector(".halo-message--teammate", timeout=15_000)
    assert "refunded the duplicate charge" in reply.inner_text()

    # The visitor's next message appears live on the ticket page.
    inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    widget.fill(".halo-input", "Thank you so much!")
    widget.click(".halo-send")
    inbox.wait_for_selector(".message-user >> text=Thank you so much!", timeout=15_000)

    # Keyboard: "u" goes back to the list, "j" selects a row.
    inbox.keyboard.press("u")
    inbox.wait_for_url("**/inbox/open/")
    inbox.keyboard.press("j")
    assert inbox.locator(".ticket-row.selected").count() == 1
    assert errors == []


def test_inbox_stays_live_through_an_own_password_change_and_says_so_when_signed_out(
    halo_embedded: str, browser: Any
) -> None:
    """Changing one's password rotates the session (the open socket closes 4401): the page connects again
    with the browser's new session and stays live. Signing out in another tab closes it for good, and the
    page says so instead of showing a stale live list."""
    errors: list[str] = []
    context = browser.new_context()
    inbox = context.new_page()
    inbox.on("pageerror", lambda error: errors.append(str(error)))
    log_in(inbox, halo_embedded)
    inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    other_tab = context.new_page()

    def change_password(old: str, new: str) -> None:
        other_tab.goto(f"{halo_embedded}/accounts/password_change/")
        other_tab.fill("input[name=old_password]", old)
        other_tab.fill("input[name=new_password1]", new)
        other_tab.fill("input[name=new_password2]", new)
        other_tab.click("[type=submit]")
        other_tab.wait_for_url("**/password_change/done/")

    new_password = "a brand new demo password 42"
    change_password(STAFF_PASSWORD, new_password)
    try:
        inbox.wait_for_selector("#inbox-live-state[data-state='offline']", timeout=15_000)  # the old session
        inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)  # the new one
    finally:
        change_password(new_password, STAFF_PASSWORD)  # the module's other tests log in with the demo password
    inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)

    # Signing out in the other tab (what its logout button posts; the cookies are the context's).
    other_tab.goto(f"{halo_embedded}/inbox/open/")
    csrf = next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "csrftoken")
    response = context.request.post(f"{halo_embedded}/accounts/logout/", headers={"X-CSRFToken": csrf})
    assert response.ok
    inbox.locator("#inbox-live-state", has_text=re.compile("^Signed out")).wait_for(timeout=15_000)
    assert inbox.get_attribute("#inbox-live-state", "data-state") == "offline"
    assert errors == []
