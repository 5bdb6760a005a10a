"""A real headless Chromium against Halo's embedded default (``manage.py serve``): a teammate closes a ticket
in the inbox, and the visitor's open widget says so live — the closing notice, the conversation back with the
AI (no reload), the rating prompt (one row until a score is chosen, the conversation still readable above it)
— the visitor rates it, and the inbox shows the rating. axe finds no serious
or critical problem in the widget's rating state or on the ticket page. The harness is ``tests/browser.py``.
"""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accessibility import axe_violations
from tests.browser import halo_server_running, serve_command, widget_ask

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)


@pytest.fixture(scope="module")
def halo_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-closing-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def shoot(page: Any, name: str) -> None:
    """With ``HALO_SCREENSHOTS`` set to a directory, save a screenshot of the page there (for the docs)."""
    directory = os.environ.get("HALO_SCREENSHOTS")
    if directory:
        page.screenshot(path=str(Path(directory) / name))


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found  # type: ignore[no-any-return]


def on_one_row(first: dict[str, float], second: dict[str, float]) -> bool:
    """Whether two boxes sit on one line: their vertical middles within a few pixels."""
    return abs((first["y"] + first["height"] / 2) - (second["y"] + second["height"] / 2)) < 6


def widget_ticket_id(page: Any, url: str) -> int:
    """The ticket of the widget's conversation, read through the widget API with its stored token."""
    stored = page.evaluate("Object.entries(localStorage).find(([key]) => key.endsWith(':conversation'))[1]")
    conversation = json.loads(stored)
    response = httpx.get(
        f"{url}/api/widget/v1/conversations/{conversation['id']}/messages",
        headers={"Authorization": f"Bearer {conversation['token']}"},
    )
    return int(response.json()["ticket"]["id"])


def test_a_closed_ticket_shows_in_the_widget_live_and_the_rating_reaches_the_inbox(
    halo_embedded: str, browser: Any
) -> None:
    errors: list[str] = []
    widget = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    widget.on("pageerror", lambda error: errors.append(str(error)))
    widget_ask(widget, halo_embedded, "Where is my invoice for March?")
    widget.click(".halo-handoff")
    widget.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    ticket_id = widget_ticket_id(widget, halo_embedded)

    inbox = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    inbox.on("pageerror", lambda error: errors.append(str(error)))
    inbox.goto(f"{halo_embedded}/accounts/login/?next=/inbox/tickets/{ticket_id}/")
    inbox.fill("input[name=username]", STAFF_EMAIL)
    inbox.fill("input[name=password]", STAFF_PASSWORD)
    inbox.click("button[type=submit]")
    inbox.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    inbox.fill("#reply-body", "Found it: the March invoice is in your billing page now.")
    inbox.click("#reply-form button[type=submit]")
    widget.wait_for_selector(".halo-message--teammate", timeout=15_000)

    inbox.click("#status-form [data-status='closed']")

    # The widget, without a reload: the closing notice, the AI back, and the rating prompt.
    notice = widget.wait_for_selector(".halo-message--system >> text=closed this conversation", timeout=15_000)
    assert "is here again if you need anything else" in notice.inner_text()
    widget.wait_for_selector("[data-halo-widget][data-status='open']", timeout=15_000)
    widget.wait_for_selector(".halo-rating:not([hidden])", timeout=15_000)
    assert widget.inner_text(".halo-rating-title") == "How did we do?"
    # Compact, so the conversation stays readable at the widget's default size: the question, the five scores
    # and the dismiss on one row; the comment and its Send button only once a score is chosen.
    title, five, dismiss = (
        box(widget, name) for name in (".halo-rating-title", ".halo-score[data-score='5']", ".halo-rating-dismiss")
    )
    assert on_one_row(title, five)
    assert on_one_row(five, dismiss)
    assert not widget.locator(".halo-rating-comment").is_visible()
    assert widget.locator(".halo-rating-submit").is_disabled()
    widget.click(".halo-score[data-score='4']")
    widget.fill(".halo-rating-comment", "Quick and friendly.")
    # With the comment open, the messages keep more than half of the panel.
    assert box(widget, ".halo-messages")["height"] > box(widget, ".halo-panel")["height"] / 2
    assert axe_violations(widget, browser, "[data-halo-widget]") == []
    shoot(widget, "widget-rating.png")
    widget.click(".halo-rating-submit")
    widget.wait_for_selector(".halo-rating[data-state='thanks']", timeout=15_000)
    assert widget.inner_text(".halo-rating-title") == "Thanks for your rating!"
    shoot(widget, "widget-rating-thanks.png")

    # The AI answers again in the same conversation.
    widget.fill(".halo-input", "How do I reset my password?")
    widget.press(".halo-input", "Enter")
    widget.locator(".halo-message--ai").nth(1).wait_for(timeout=15_000)

    # The inbox: the rating on the ticket page (its live region updates) and in the Closed list's row.
    inbox.wait_for_selector("#ticket-rating", timeout=15_000)
    assert "4 out of 5" in inbox.inner_text("#ticket-rating")
    assert "Quick and friendly." in inbox.inner_text("#ticket-rating")
    assert axe_violations(inbox, browser) == []
    shoot(inbox, "ticket-rating.png")
    inbox.goto(f"{halo_embedded}/inbox/closed/")
    row = inbox.locator(f".ticket-row[data-ticket-id='{ticket_id}']")
    assert "★ 4/5" in row.inner_text()
    assert errors == []
