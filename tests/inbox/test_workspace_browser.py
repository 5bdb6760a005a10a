"""The support team's workspace in a real headless Chromium against the embedded default (``manage.py serve``):
search, a bulk close, the customer panel, a macro, "Close and next", the widget's unread badge and its phone
layout, with axe-core finding no serious or critical accessibility problem on the widget (open and closed),
the inbox list, the ticket page and the Ticket Escalation form, and no page wider than a 390 px phone."""

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.accessibility import axe_violations, page_overflow
from tests.browser import halo_server_running, serve_command
from tests.support.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)
DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def halo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-workspace-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def staff_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP, path: str = "/inbox/open/") -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{url}/accounts/login/?next={path}")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")
    return page


def test_search_bulk_close_customer_panel_and_macro(halo_url: str, browser: Any) -> None:
    page = staff_page(browser, halo_url)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    assert axe_violations(page, browser) == []

    # Search from the keyboard: "/" focuses the box; matches come back highlighted, without a reload.
    page.evaluate("() => { window.__sameDocument = true; }")
    page.keyboard.press("/")
    page.keyboard.type("invoice")
    page.keyboard.press("Enter")
    page.wait_for_selector(".ticket-row mark")
    assert page.locator(".ticket-row mark").first.inner_text().lower() == "invoice"
    assert "q=invoice" in page.url
    assert page.evaluate("() => window.__sameDocument") is True

    # A bulk close: select two tickets (keyboard x, then a click), close them at once.
    page.goto(f"{halo_url}/inbox/open/")
    page.wait_for_selector(".ticket-row")
    rows_before = page.locator(".ticket-row").count()
    assert rows_before >= 3
    page.keyboard.press("x")
    page.locator(".ticket-select").nth(1).check()
    assert page.inner_text("#bulk-count") == "2 selected"
    page.click("#bulk-close")
    wait_until(lambda: page.locator(".ticket-row").count() == rows_before - 2, timeout=15, what="the closed rows to go")
    assert "Closed 2 tickets." in page.inner_text("#inbox-toasts")

    # The ticket page: assign and status in the header without scrolling, the customer panel, a macro.
    page.locator(".ticket-row").first.click()
    page.wait_for_selector("#customer-panel")
    for selector in ("#assignee", "#status-form [data-status='closed']", "#close-next"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] + box["height"] <= DESKTOP["height"], selector
    panel = page.inner_text("#customer-panel")
    for expected in ("Last active", "Custom fields", "Company", "Stripe", "Recent pages", "Past tickets"):
        assert expected.upper() in panel.upper(), expected
    assert axe_violations(page, browser) == []
    page.click("#reply-body")
    page.keyboard.press("Control+/")
    page.wait_for_selector("#macro-picker[open]")
    page.keyboard.type("reset link")
    page.keyboard.press("Enter")
    reply = page.input_value("#reply-body")
    assert reply.startswith("Hi ")
    assert "password reset link to" in reply
    assert "{{" not in reply
    assert errors == []


def test_close_and_next_opens_the_next_ticket_without_a_reload(halo_url: str, browser: Any) -> None:
    page = staff_page(browser, halo_url, path="/inbox/closed/")
    if page.locator(".ticket-row").count():  # re-open what the bulk close closed, by keyboard and in bulk
        page.keyboard.press("*")
        page.click("#bulk-form button[value=reopen]")
        page.wait_for_selector("text=Re-opened")
    page.goto(f"{halo_url}/inbox/open/")
    page.wait_for_selector(".ticket-row")
    assert page.locator(".ticket-row").count() >= 2
    first = page.locator(".ticket-row").first.get_attribute("data-ticket-id")
    page.locator(".ticket-row").first.click()
    page.wait_for_selector("#close-next")
    page.evaluate("() => { window.__sameDocument = true; }")
    page.keyboard.press("Shift+C")
    wait_until(
        lambda: f"/tickets/{first}/" not in page.evaluate("() => location.pathname"), timeout=15, what="the next ticket"
    )
    assert "/inbox/tickets/" in page.url
    assert page.evaluate("() => window.__sameDocument") is True


def test_saved_view_deletion_asks_first(halo_url: str, browser: Any) -> None:
    page = staff_page(browser, halo_url, path="/inbox/views/new")
    page.fill("#id_name", "Enterprise customers")
    page.fill("#id_rule", "company.plan = enterprise")
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_selector("text=Delete view")
    page.click("text=Delete view")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-dialog button[value=cancel]")
    assert page.locator(".inbox-list-link", has_text="Enterprise customers").count() == 1
    page.click("text=Delete view")
    page.click("#confirm-ok")
    deleted = page.locator(".inbox-list-link", has_text="Enterprise customers")
    wait_until(lambda: deleted.count() == 0, timeout=15, what="the deleted view to leave the sidebar")


def test_widget_unread_badge_phone_layout_and_accessibility(halo_url: str, browser: Any) -> None:
    widget = browser.new_context(viewport=DESKTOP).new_page()
    widget.goto(f"{halo_url}/widget/demo/")
    widget.wait_for_selector("[data-halo-widget][data-ready='true']")
    assert axe_violations(widget, browser, "[data-halo-widget]") == []  # closed
    widget.click(".halo-launcher")
    widget.fill(".halo-input", "How do I reset my password?")
    widget.press(".halo-input", "Enter")
    assert widget.locator(".halo-message--user").count() >= 1  # shown at once, before the server answers
    widget.wait_for_selector(".halo-message--ai", timeout=15_000)
    assert widget.locator(".halo-time").count() >= 2
    assert axe_violations(widget, browser, "[data-halo-widget]") == []  # open
    if widget.locator(".halo-handoff:not([hidden])").count():
        widget.click(".halo-handoff")
    widget.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    widget.keyboard.press("Escape")
    assert widget.evaluate("() => document.activeElement.classList.contains('halo-launcher')")

    staff = staff_page(browser, halo_url)
    staff.locator(".ticket-row").first.click()
    staff.fill("#reply-body", "Hi! I'm looking at your password reset right now.")
    staff.click("#reply-form button[type=submit]")
    widget.wait_for_selector(".halo-unread:not([hidden])", timeout=15_000)
    assert widget.inner_text(".halo-unread") == "1"
    assert "looking at your password reset" in widget.inner_text(".halo-preview")
    widget.click(".halo-launcher")
    assert widget.locator(".halo-unread:not([hidden])").count() == 0
    reply = widget.locator(".halo-message--teammate").last
    assert reply.locator(".halo-avatar").inner_text() == "A"  # the demo admin's initial
    assert "Support team" not in reply.inner_text()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"{halo_url}/widget/demo/?open=1")
    phone.wait_for_selector("[data-halo-widget][data-ready='true']")
    box = phone.locator(".halo-panel").bounding_box()
    assert box is not None
    assert (box["width"], box["height"]) == (PHONE["width"], PHONE["height"])
    assert phone.evaluate("() => getComputedStyle(document.querySelector('.halo-input')).fontSize") == "16px"
    assert page_overflow(phone) == 0


def test_pages_fit_a_phone_and_the_escalation_form_is_accessible(halo_url: str, browser: Any) -> None:
    page = staff_page(browser, halo_url, viewport=PHONE)
    for path in ("/inbox/open/", "/inbox/all/?q=invoice"):
        page.goto(f"{halo_url}{path}")
        assert page_overflow(page) == 0, path
    page.locator(".ticket-row").first.click()
    page.wait_for_selector("#customer-panel")
    assert page_overflow(page) == 0
    desktop = staff_page(browser, halo_url, path="/admin/")
    desktop.goto(f"{halo_url}/admin/agents/agent/")
    desktop.locator("#result_list tbody a").first.click()
    desktop.click(".halo-agent-actions a")
    desktop.wait_for_selector("#escalationsettings_form")
    assert axe_violations(desktop, browser, "#content") == []
    desktop.fill("#id_priority_filter", "company.plan = ")
    desktop.wait_for_selector(".halo-rule-preview[data-state='error']", timeout=10_000)
    assert "contacts match" not in desktop.inner_text(".field-priority_filter_matches")
    desktop.fill("#id_priority_filter", "company.plan = enterprise")
    desktop.wait_for_selector(".halo-rule-preview[data-state='ok']", timeout=10_000)
    assert "match now" in desktop.inner_text(".halo-rule-preview >> nth=1")
