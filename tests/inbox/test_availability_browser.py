"""The teammate's availability toggle in the inbox header, in a real headless Chromium against the embedded
default (``manage.py serve``): it says "Available", a click makes the teammate away (and says so), another
makes them available again; axe-core finds no serious or critical problem with either state."""

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.accessibility import axe_violations, page_overflow
from tests.browser import halo_server_running, serve_command

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)


@pytest.fixture(scope="module")
def halo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-availability-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def test_the_header_toggle_sets_away_and_back(halo_url: str, browser: Any) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{halo_url}/accounts/login/?next=/inbox/open/")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/open/")
    page.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)

    toggle = page.get_by_role("button", name="Available")
    assert toggle.get_attribute("aria-pressed") == "true"
    assert axe_violations(page, browser, ".halo-topbar") == []

    toggle.click()
    page.wait_for_url("**/inbox/open/")
    away = page.get_by_role("button", name="Away")
    assert away.get_attribute("aria-pressed") == "false"
    assert "You're away" in page.inner_text("#inbox-toasts")
    assert axe_violations(page, browser, ".halo-topbar") == []

    page.reload()  # it is stored, not only shown
    away = page.get_by_role("button", name="Away")
    away.click()
    page.wait_for_url("**/inbox/open/")
    assert page.get_by_role("button", name="Available").get_attribute("aria-pressed") == "true"

    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state())
    small = phone.new_page()
    small.goto(f"{halo_url}/inbox/open/")
    assert small.get_by_role("button", name="Available").is_visible()
    assert page_overflow(small) == 0
    assert errors == []
