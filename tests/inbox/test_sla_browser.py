"""Business hours and the first-reply SLA in a real headless Chromium against the embedded default.

Outside the team's hours the widget's header says when it is back, on the visitor's clock, and the handoff
message asks for an email first; a ticket past its first-reply due time shows a "Reply overdue" badge in the
inbox list and on its page. axe finds no serious or critical violation on either. With ``HALO_SCREENSHOTS``
set to a directory, the widget header and the inbox's SLA badges are saved there.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accessibility import axe_violations
from tests.browser import halo_server_running, serve_command, server_env
from tests.support.processes import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)
SHOTS = Path(os.environ["HALO_SCREENSHOTS"]) if os.environ.get("HALO_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("halo-sla-browser")


@pytest.fixture(scope="module")
def halo(data_dir: Path) -> Iterator[str]:
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def in_server(data_dir: Path, code: str) -> None:
    """Run ``code`` in a Django shell over the server's own database (what an admin or time would change)."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code], cwd=ROOT, env=server_env(data_dir), check=True
    )


def test_outside_hours_the_widget_says_when_the_team_is_back_and_the_inbox_shows_a_late_ticket(
    halo: str, data_dir: Path, browser: Any
) -> None:
    # Acme opens only three days from now, 09:00-17:30 in Berlin: closed whatever the time of the run.
    opening_day = (datetime.now(UTC) + timedelta(days=3)).weekday()
    in_server(
        data_dir,
        "from halo.models import Workspace; from halo.services import business_hours_set; "
        "business_hours_set(workspace=Workspace.objects.get(slug='acme'), data={'timezone': 'Europe/Berlin', "
        f"'weekly': [{{'day': {opening_day}, 'open': '09:00', 'close': '17:30'}}]}})",
    )
    app_id = httpx.get(f"{halo}/widget/demo/").text.split('data-app-id="')[1].split('"')[0]
    expected = httpx.get(f"{halo}/api/widget/v1/config", params={"app_id": app_id, "timezone": "Europe/Berlin"}).json()[
        "expected_reply"
    ]
    assert expected["open_now"] is False
    assert expected["text"].startswith("We're back ")
    assert expected["text"].endswith(" at 09:00")
    back = expected["text"].removeprefix("We're back ")

    errors: list[str] = []
    widget = browser.new_context(timezone_id="Europe/Berlin").new_page()
    widget.on("pageerror", lambda error: errors.append(str(error)))
    widget.goto(f"{halo}/widget/demo/?open=1")
    widget.wait_for_selector("[data-halo-widget][data-ready='true']")
    assert widget.inner_text(".halo-expected") == expected["text"]
    assert widget.get_attribute("[data-halo-widget]", "data-team") == "away"
    assert axe_violations(widget, browser, "[data-halo-widget]") == []
    if SHOTS:
        widget.locator(".halo-panel").screenshot(path=SHOTS / "widget-away.png")

    # The visitor asks for a human: the handoff asks for an email first and says when the team is back.
    widget.fill(".halo-input", "Where is my invoice?")
    widget.click(".halo-send")
    widget.wait_for_selector(".halo-message--ai", timeout=15_000)
    widget.click(".halo-handoff")
    widget.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    notice = widget.locator(".halo-message--system").last.inner_text()
    assert notice.startswith(f"Our team is away right now: we're back {back}.")
    assert "Please leave your email address here first" in notice
    assert widget.get_attribute(".halo-input", "placeholder") == "Your email address, or more details…"
    if SHOTS:
        widget.locator(".halo-panel").screenshot(path=SHOTS / "widget-away-handoff.png")

    # Time passes: the ticket's first reply is 25 minutes late (and another ticket is due soon).
    in_server(
        data_dir,
        "from datetime import timedelta; from django.utils import timezone; from inbox.models import Ticket; "
        "late = Ticket.objects.filter(workspace__slug='acme').order_by('-id').first(); "
        "Ticket.objects.filter(pk=late.pk).update(first_reply_due_at=timezone.now() - timedelta(minutes=25)); "
        "soon = Ticket.objects.filter(workspace__slug='acme', first_replied_at__isnull=True, status='open')"
        ".exclude(pk=late.pk).order_by('-id').first(); "
        "Ticket.objects.filter(pk=soon.pk)"
        ".update(first_reply_due_at=timezone.now() + timedelta(minutes=9, seconds=30))",
    )
    inbox = browser.new_context().new_page()
    inbox.on("pageerror", lambda error: errors.append(str(error)))
    inbox.goto(f"{halo}/accounts/login/?next=/inbox/open/%3Fsort%3Ddue")
    inbox.fill("input[name=username]", STAFF_EMAIL)
    inbox.fill("input[name=password]", STAFF_PASSWORD)
    inbox.click("button[type=submit]")
    inbox.wait_for_url("**/inbox/open/?sort=due")
    first_row = inbox.locator(".ticket-row").first
    assert first_row.locator(".sla-badge.sla-breached").inner_text() == "Reply overdue by 25 min"
    assert inbox.locator(".ticket-row").nth(1).locator(".sla-badge.sla-due_soon").inner_text() == "Reply due in 9 min"
    assert axe_violations(inbox, browser) == []
    if SHOTS:
        inbox.screenshot(path=SHOTS / "inbox-sla.png")
    first_row.click()
    inbox.wait_for_selector("#ticket-sla")
    assert inbox.inner_text("#ticket-sla").startswith("Reply overdue by 25 min · due ")
    assert axe_violations(inbox, browser) == []
    if SHOTS:
        inbox.screenshot(path=SHOTS / "ticket-sla.png")
    assert errors == []
