"""The escalation report page in a real headless Chromium over the seeded demo (a month of history): figures,
the three SVG charts drawn, no row of figures or charts left part empty at common widths, the pickers, the CSV
export, and no serious accessibility problem (axe)."""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accessibility import axe_violations
from tests.browser import halo_server_running, serve_command

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)


@pytest.fixture(scope="module")
def halo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-report-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=60, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def part_empty_rows(page: Any, grid: str) -> list[int]:
    """The rows of the grid ``grid`` (by their top, in pixels) whose last tile ends short of the grid's right
    edge: a row left part empty."""
    frame = page.locator(grid).bounding_box()
    right_ends: dict[int, float] = {}
    for tile in page.locator(f"{grid} > *").all():
        found = tile.bounding_box()
        top = round(found["y"])
        right_ends[top] = max(right_ends.get(top, 0.0), found["x"] + found["width"])
    return [top for top, end in sorted(right_ends.items()) if frame["x"] + frame["width"] - end > 2]


def test_report_page_renders_charts_and_passes_axe(halo_url: str, browser: Any) -> None:
    page = browser.new_context(viewport={"width": 1360, "height": 1100}).new_page()
    page.goto(f"{halo_url}/accounts/login/?next=/inbox/open/")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/open/")
    page.click("text=Escalation report")  # linked from the inbox's navigation
    page.wait_for_url("**/inbox/reports/escalation")

    assert page.locator(".report-card").count() == 10
    # Styled although inbox.js swapped the page in: the figures are cards in a grid, the bars coloured.
    assert page.evaluate("() => getComputedStyle(document.querySelector('.report-cards')).display") == "grid"
    assert page.evaluate("() => getComputedStyle(document.querySelector('svg.chart-svg rect')).fill") != "rgb(0, 0, 0)"
    conversations = int(page.locator(".report-card").first.locator(".report-card-value").inner_text())
    assert conversations >= 250  # the demo's month of history
    assert "Of the conversations the AI took part in" in page.locator(".report-definition").inner_text()
    assert page.locator("svg.chart-svg").count() == 3
    drawn = page.locator("svg.chart-svg rect").first.bounding_box()
    assert drawn is not None
    assert drawn["height"] > 0
    assert page.locator("svg.chart-svg polyline").count() == 2
    assert axe_violations(page, browser) == []
    # The figures and the charts fill every row they start, at the common screen widths (and a narrow one).
    for width in (1920, 1440, 1360, 1280, 1024, 800):
        page.set_viewport_size({"width": width, "height": 1100})
        assert part_empty_rows(page, ".report-cards") == [], width
        assert part_empty_rows(page, ".report-charts") == [], width
    page.set_viewport_size({"width": 1360, "height": 1100})

    # One agent: its settings versions become choosable; the figures follow the pickers.
    page.select_option("#report-agent", index=1)
    page.click("button:has-text('Apply')")
    page.wait_for_url("**agent=*")
    assert page.locator("#report-version option").count() >= 2

    # From a verdict to the tickets behind it: the inbox's list filtered by that outcome.
    page.click("a:has-text('AI could have answered')")
    page.wait_for_url("**/inbox/all/?outcome=ai_could_have_answered")
    assert page.locator(".ticket-item").count() >= 1
    page.go_back()
    page.wait_for_url("**/inbox/reports/escalation?*")

    with page.expect_download() as download:
        page.click("text=Export CSV")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("date,conversations,")
    assert lines[-1].startswith("total,")
