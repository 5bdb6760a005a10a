"""Tuning in a real headless Chromium against the embedded default (``manage.py serve``), as an admin would:
questions the demo's help center cannot answer are asked through the widget; the Ticket Escalation form's
"Preview these settings" shows, unsaved, which conversations a draft would hand off, with links, and the
form's own errors for an invalid draft; "Save as shadow" shows the shadow's card and "Promote" makes it
live; the Knowledge gaps backlog groups the questions and marks a topic handled. axe-core finds no serious
or critical problem on either page.

Screenshots go to ``HALO_SCREENSHOTS`` when set (the docs' are taken this way), else to the test's
temporary directory."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accessibility import axe_violations
from tests.browser import halo_server_running, serve_command, widget_ask

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)
# The demo's help center says nothing about a dark theme.
UNANSWERED = [
    "do you have a dark mode",
    "how do I switch the app to dark mode",
    "is there a dark mode for working at night",
]


@pytest.fixture(scope="module")
def halo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-tuning-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


@pytest.fixture(scope="module")
def asked(halo_url: str, browser: Any) -> None:
    """Each question from a visitor of their own: the AI finds no answer, and a teammate is only offered."""
    for question in UNANSWERED:
        context = browser.new_context()
        widget_ask(context.new_page(), halo_url, question)
        context.close()


def shots_dir(tmp_path: Path) -> Path:
    return Path(os.environ.get("HALO_SCREENSHOTS") or tmp_path)


def staff_page(browser: Any, url: str, path: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{url}/accounts/login/?next={path}")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")
    return page


def test_preview_shows_a_drafts_effect_without_saving_it(
    halo_url: str, browser: Any, asked: None, tmp_path: Path
) -> None:
    page = staff_page(browser, halo_url, "/admin/agents/agent/")
    page.locator("#result_list tbody a").first.click()
    page.click(".halo-agent-actions a")
    page.wait_for_selector("#escalationsettings_form")
    saved_attempts = page.input_value("#id_max_attempts")

    page.fill("#id_max_attempts", "1")
    page.click("#halo-preview-button")
    page.wait_for_selector("#halo-preview[data-state='done'] .halo-tuning-card")

    card = page.locator("#halo-preview .halo-tuning-card")
    assert card.get_attribute("data-state") == "ok"
    newly = page.locator("#halo-preview section").first
    assert "would newly escalate" in newly.inner_text().lower()
    links = newly.locator("a")
    assert links.count() >= len(UNANSWERED)
    assert "/admin/agents/conversation/" in (links.first.get_attribute("href") or "")
    assert "more ticket" in page.inner_text(".halo-preview-summary")
    assert axe_violations(page, browser, "#content") == []
    page.locator("#halo-preview").scroll_into_view_if_needed()
    page.screenshot(path=str(shots_dir(tmp_path) / "admin-escalation-preview.png"), full_page=False)

    page.fill("#id_confidence_threshold", "101")
    page.click("#halo-preview-button")
    page.wait_for_selector("#halo-preview .halo-tuning-card[data-state='error']")
    assert "Confidence threshold" in page.inner_text("#halo-preview")

    page.reload()
    page.wait_for_selector("#escalationsettings_form")
    assert page.input_value("#id_max_attempts") == saved_attempts  # nothing was saved

    # The same draft as the shadow: judged beside the live settings from now on, then promoted.
    page.fill("#id_max_attempts", "1")
    page.click("button[formaction$='/shadow']")
    page.wait_for_selector("#halo-shadow-summary")
    assert "max attempts</strong> → 1" in page.inner_html("#halo-shadow-summary")
    assert page.input_value("#id_max_attempts") == saved_attempts  # the live settings are unchanged
    assert axe_violations(page, browser, "#content") == []
    page.screenshot(path=str(shots_dir(tmp_path) / "admin-escalation-shadow.png"), full_page=False)
    page.click("text=Promote the shadow to live")
    page.wait_for_selector(".messagelist .success")
    assert page.input_value("#id_max_attempts") == "1"
    assert page.locator("#halo-shadow-summary").count() == 0


def test_the_backlog_groups_the_questions_and_marks_a_topic_handled(
    halo_url: str, browser: Any, asked: None, tmp_path: Path
) -> None:
    page = staff_page(browser, halo_url, "/admin/escalation/knowledgegaplink/")
    topic = page.locator(".halo-gap").first  # the most asked
    assert "asked 3 times" in topic.inner_text()
    for question in UNANSWERED:
        assert question in topic.inner_text()
    assert axe_violations(page, browser, "#content") == []
    page.screenshot(path=str(shots_dir(tmp_path) / "admin-knowledge-gaps.png"), full_page=False)

    topic_id = topic.get_attribute("id")
    topic.locator("select").select_option(label="Supported browsers")
    topic.locator("button[type=submit]").click()
    page.wait_for_selector(f"#{topic_id}[data-handled='true']")
    assert "of these questions now" in page.inner_text(f"#{topic_id}")
    assert axe_violations(page, browser, "#content") == []
