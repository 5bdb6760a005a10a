"""Screenshots of every surface of Halo, for docs/screenshots/ (linked from the README).

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --only inbox

Starts Halo's embedded default (``manage.py serve``) over a fresh, seeded SQLite data directory on a free
loopback port (the same harness as the browser tests), drives the system Chromium at /usr/bin/chromium with
Playwright, and saves every PNG the docs show: the inbox list, a search, a bulk selection, the availability
switch, the ticket page with the customer panel, the macro picker, the first-reply badges of a list sorted by
due time, the widget (closed with its unread badge, open, on a phone, and a closed conversation asking for
its 1-5 rating), the reply email, the escalation report, and the admin (home, an AI agent, its Ticket
Escalation settings, a draft previewed, a shadow draft, the knowledge gaps). Nothing it depends on comes from
the network; due times are set relative to the machine's clock, so the badges read the same on any day.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MANAGE,
    halo_server_running,
    serve_command,
    server_env,
    widget_ask,
)

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # noqa: S105 (the seeded demo login, printed by make run)
DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
TALL = {"width": 1280, "height": 900}
# Questions the demo's help center cannot answer: the knowledge gaps' topic, and what a stricter draft escalates.
UNANSWERED = [
    "do you have a dark mode",
    "how do I switch the app to dark mode",
    "is there a dark mode for working at night",
]


def in_server(data_dir: Path, code: str) -> None:
    """Run ``code`` in a Django shell over the server's own database (what time or an admin would change)."""
    command = [*MANAGE, "shell", "-c", code]  # this script's own code, never input
    subprocess.run(command, cwd=ROOT, env=server_env(data_dir), check=True)  # noqa: S603


def log_in(page: Any, url: str, next_path: str = "/inbox/open/") -> None:
    page.goto(f"{url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def shoot_inbox(browser: Any, url: str, out: Path, data_dir: Path) -> None:
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


def shoot_widget(browser: Any, url: str, out: Path, data_dir: Path) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{url}/widget/demo/?open=1")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")
    page.fill(".halo-input", "How do I reset my password?")
    page.press(".halo-input", "Enter")
    page.wait_for_selector(".halo-message--ai", timeout=15_000)
    page.screenshot(path=out / "widget-open.png", animations="disabled")  # the widget's rise, finished
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
    page.screenshot(path=out / "widget-unread.png", animations="disabled")  # the widget's rise, finished
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(f"{url}/widget/demo/?open=1")
    phone.wait_for_selector("[data-halo-widget][data-ready='true']")
    phone.fill(".halo-input", "Can I export my data?")
    phone.press(".halo-input", "Enter")
    phone.wait_for_selector(".halo-message--ai", timeout=15_000)
    phone.screenshot(path=out / "widget-phone.png", animations="disabled")  # the widget's rise, finished
    for item in (page, staff, phone):
        item.close()


def shoot_admin(browser: Any, url: str, out: Path, data_dir: Path) -> None:
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


def shoot_closing(browser: Any, url: str, out: Path, data_dir: Path) -> None:
    """A teammate answers and closes a handed-off conversation: the widget asks for a rating. Then the email a
    customer gets for replies they did not see, rendered from its template for that conversation."""
    widget = browser.new_page(viewport={"width": 1280, "height": 800})
    widget_ask(widget, url, "Where is my invoice for March?")
    widget.click(".halo-handoff")
    widget.wait_for_selector("[data-halo-widget][data-status='handed_off']", timeout=15_000)
    staff = browser.new_page(viewport=DESKTOP)
    log_in(staff, url)
    staff.locator(".ticket-row").first.click()
    staff.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    staff.fill("#reply-body", "Found it: the March invoice is on your billing page now.")
    staff.click("#reply-form button[type=submit]")
    widget.wait_for_selector(".halo-message--teammate", timeout=15_000)
    staff.click("#status-form [data-status='closed']")
    widget.wait_for_selector(".halo-rating:not([hidden])", timeout=15_000)
    widget.click(".halo-score[data-score='4']")
    widget.fill(".halo-rating-comment", "Quick and friendly.")
    widget.screenshot(path=out / "widget-rating.png", animations="disabled")  # the widget's rise, finished
    # Two replies four minutes apart, as one email gathers them; built in memory, nothing is sent or saved.
    email_html = data_dir / "email-reply.html"
    in_server(
        data_dir,
        "from datetime import timedelta; from django.utils import timezone; "
        "from agents.models import Message; from inbox.notifications.replies import reply_email_build; "
        "reply = Message.objects.filter(author='teammate').order_by('-id').first(); "
        "now = timezone.now(); "
        "replies = [Message(conversation=reply.conversation, author='teammate', teammate=reply.teammate, body=body, "
        "created_at=now - timedelta(minutes=minutes)) for body, minutes in ("
        '("I\'m looking into the duplicate charge now.", 4), '
        "('Found it: the March invoice was sent twice.\\nI have refunded one of them; it shows in 3-5 days.', 0))]; "
        "email = reply_email_build(conversation=reply.conversation, replies=replies, message_id='<shot@halo>'); "
        f"open({str(email_html)!r}, 'w').write(email.alternatives[0][0])",
    )
    email = browser.new_page(viewport={"width": 700, "height": 400})
    email.goto(email_html.as_uri())
    email.screenshot(path=out / "email-reply.png", full_page=True)
    for item in (widget, staff, email):
        item.close()


def shoot_sla(browser: Any, url: str, out: Path, data_dir: Path) -> None:
    """The open list sorted by first-reply due time: one ticket 25 minutes late, one due in 9 minutes."""
    in_server(
        data_dir,
        "from datetime import timedelta; from django.utils import timezone; from inbox.models import Ticket; "
        "waiting = Ticket.objects.filter(workspace__slug='acme', status='open', first_replied_at__isnull=True)"
        ".order_by('-id'); late, soon = waiting[0], waiting[1]; "
        "Ticket.objects.filter(pk=late.pk).update(first_reply_due_at=timezone.now() - timedelta(minutes=25)); "
        "Ticket.objects.filter(pk=soon.pk)"
        ".update(first_reply_due_at=timezone.now() + timedelta(minutes=9, seconds=30))",
    )
    page = browser.new_page(viewport=DESKTOP)
    log_in(page, url, "/inbox/open/?sort=due")
    page.wait_for_selector(".ticket-row .sla-badge.sla-breached")
    page.screenshot(path=out / "inbox-sla.png")
    page.close()


def shoot_report(browser: Any, url: str, out: Path, data_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    log_in(page, url, "/inbox/reports/escalation")
    page.wait_for_selector("svg")
    page.screenshot(path=out / "escalation-report.png", full_page=True)
    page.close()


def shoot_tuning(browser: Any, url: str, out: Path, data_dir: Path) -> None:
    """The escalation settings' preview and shadow of a stricter draft, and the knowledge gaps, after visitors
    asked what the help center cannot answer."""
    for question in UNANSWERED:
        visitor = browser.new_context()
        widget_ask(visitor.new_page(), url, question)
        visitor.close()
    page = browser.new_page(viewport=TALL)
    log_in(page, url, "/admin/agents/agent/")
    page.locator("#result_list tbody a").first.click()
    page.click(".halo-agent-actions a")
    page.wait_for_selector("#escalationsettings_form")
    page.fill("#id_max_attempts", "1")
    page.click("#halo-preview-button")
    page.wait_for_selector("#halo-preview[data-state='done'] .halo-tuning-card")
    page.locator("#halo-preview").scroll_into_view_if_needed()
    page.screenshot(path=out / "admin-escalation-preview.png")
    page.click("button[formaction$='/shadow']")
    page.wait_for_selector("#halo-shadow-summary")
    page.screenshot(path=out / "admin-escalation-shadow.png")
    page.goto(f"{url}/admin/escalation/knowledgegaplink/")
    page.wait_for_selector(".halo-gap")
    page.screenshot(path=out / "admin-knowledge-gaps.png")
    page.close()


# In this order: the later surfaces change data the earlier ones show (a closed ticket, due times, a shadow).
SURFACES = {
    "inbox": shoot_inbox,
    "widget": shoot_widget,
    "admin": shoot_admin,
    "closing": shoot_closing,
    "sla": shoot_sla,
    "report": shoot_report,
    "tuning": shoot_tuning,
}


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
        # The demo's admin has no name, and customers see a teammate by first name: give them one, as teams do.
        in_server(
            Path(data_dir),
            "from django.contrib.auth.models import User; "
            f"User.objects.filter(username={STAFF_EMAIL!r}).update(first_name='Kim', last_name='Lee')",
        )
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in [name for name in SURFACES if name in (args.only or SURFACES)]:
            SURFACES[name](browser, url, args.out, Path(data_dir))
            print(f"{name}: done")
        browser.close()
    print(f"Screenshots in {args.out}")


if __name__ == "__main__":
    main()
