"""Screenshots of every surface of Halo, for docs/screenshots/ (linked from the README).

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --only inbox

Starts Halo's embedded default (``manage.py serve``) over a fresh, seeded SQLite data directory on a free
loopback port (the same harness as the browser tests), drives the system Chromium at /usr/bin/chromium with
Playwright, and saves one PNG per surface: the inbox list, a search, a bulk selection, the ticket page with the
customer panel, the macro picker, the widget (closed with its unread badge, open, and on a phone), and the
admin (home, an AI agent, its Ticket Escalation settings). Nothing it does depends on the machine's clock or
on the network.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, halo_server_running, serve_command  # noqa: E402

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # noqa: S105 (the seeded demo login, printed by make run)
DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}


def log_in(page: Any, url: str, next_path: str = "/inbox/open/") -> None:
    page.goto(f"{url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def shoot_inbox(browser: Any, url: str, out: Path) -> None:
    page = browser.new_page(viewport=DESKTOP)
    log_in(page, url)
    page.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    page.screenshot(path=out / "inbox-list.png")
    page.fill("#ticket-search", "invoice")
    page.press("#ticket-search", "Enter")
    page.wait_for_selector(".ticket-row mark", timeout=10_000)
    page.screenshot(path=out / "inbox-search.png")
    page.goto(f"{url}/inbox/open/")
    page.wait_for_selector(".ticket-row")
    for box in page.locator(".ticket-select").all()[:2]:
        box.check()
    page.screenshot(path=out / "inbox-bulk.png")
    page.locator(".ticket-row").first.click()
    page.wait_for_selector("#customer-panel")
    page.wait_for_selector("#ticket-summary[data-state='ready']", timeout=20_000)
    page.screenshot(path=out / "ticket.png")
    page.screenshot(path=out / "ticket-full.png", full_page=True)
    page.click("#open-macros")
    page.wait_for_selector("#macro-picker[open]")
    page.screenshot(path=out / "ticket-macros.png")
    page.keyboard.press("Escape")
    page.goto(f"{url}/inbox/open/")
    page.get_by_role("button", name="Available").click()  # the header's switch: away, then back
    page.wait_for_selector(".inbox-availability-toggle[data-available='false']")
    page.screenshot(path=out / "inbox-availability.png")
    page.get_by_role("button", name="Away").click()
    page.wait_for_selector(".inbox-availability-toggle[data-available='true']")
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(phone, url)
    phone.screenshot(path=out / "inbox-phone.png")
    page.close()
    phone.close()


def shoot_widget(browser: Any, url: str, out: Path) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{url}/widget/demo/?open=1")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")
    page.fill(".halo-input", "How do I reset my password?")
    page.press(".halo-input", "Enter")
    page.wait_for_selector(".halo-message--ai", timeout=15_000)
    page.screenshot(path=out / "widget-open.png")
    staff = browser.new_page(viewport=DESKTOP)
    log_in(staff, url)
    page.click(".halo-handoff")
    page.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    page.click(".halo-close")
    staff.goto(f"{url}/inbox/open/")
    staff.locator(".ticket-row").first.click()
    staff.fill("#reply-body", "Hi! I've just sent you a fresh reset link. It works for one hour.")
    staff.click("#reply-form button[type=submit]")
    page.wait_for_selector(".halo-unread:not([hidden])", timeout=15_000)
    page.screenshot(path=out / "widget-unread.png")
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(f"{url}/widget/demo/?open=1")
    phone.wait_for_selector("[data-halo-widget][data-ready='true']")
    phone.fill(".halo-input", "Can I export my data?")
    phone.press(".halo-input", "Enter")
    phone.wait_for_selector(".halo-message--ai", timeout=15_000)
    phone.screenshot(path=out / "widget-phone.png")
    for item in (page, staff, phone):
        item.close()


def shoot_admin(browser: Any, url: str, out: Path) -> None:
    page = browser.new_page(viewport=DESKTOP)
    log_in(page, url, "/admin/")
    page.screenshot(path=out / "admin-home.png", full_page=True)
    page.goto(f"{url}/admin/agents/agent/")
    page.locator("#result_list tbody a").first.click()
    page.wait_for_selector(".halo-agent-actions")
    page.screenshot(path=out / "admin-agent.png")
    page.click(".halo-agent-actions a")
    page.wait_for_selector("#escalationsettings_form")
    page.screenshot(path=out / "admin-escalation.png", full_page=True)
    page.close()


SURFACES = {"inbox": shoot_inbox, "widget": shoot_widget, "admin": shoot_admin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", choices=sorted(SURFACES), action="append")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="halo-shots-") as data_dir,
        halo_server_running(
            Path(data_dir), command=serve_command, start_timeout=60, stop_timeout=20, stdout=subprocess.DEVNULL
        ) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in args.only or SURFACES:
            SURFACES[name](browser, url, args.out)
            print(f"{name}: done")
        browser.close()
    print(f"Screenshots in {args.out}")


if __name__ == "__main__":
    main()
