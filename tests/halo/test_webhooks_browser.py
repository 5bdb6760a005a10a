"""Webhook endpoints in the admin, in a real headless Chromium against the embedded default (``manage.py
serve``, its in-process worker): an admin adds an endpoint and sees its secret once, a widget message is
delivered to a local receiver, the delivery log shows the response code, and "Redeliver" sends the same
event again. axe-core finds no serious or critical problem on the pages; screenshots for the docs."""

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.accessibility import axe_violations
from tests.browser import halo_server_running, serve_command, widget_ask
from tests.support.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.events: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/halo"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.server.events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def halo_url(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("halo-webhooks-browser")
    with halo_server_running(
        data_dir,
        command=serve_command,
        start_timeout=40,
        stop_timeout=20,
        stdout=subprocess.DEVNULL,
        HALO_OUTBOUND_ALLOW_HOSTS="127.0.0.1",
    ) as url:
        yield url


def test_an_admin_adds_an_endpoint_sees_deliveries_and_redelivers(
    halo_url: str, browser: Any, receiver: Receiver, tmp_path: Path
) -> None:
    # The docs' screenshots are taken with HALO_SCREENSHOTS=docs/screenshots; a test run leaves the repo alone.
    shots = Path(os.environ.get("HALO_SCREENSHOTS") or tmp_path)
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{halo_url}/accounts/login/?next=/admin/")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto(f"{halo_url}/admin/halo/webhookendpoint/add/")
    assert axe_violations(page, browser, "#content") == []
    page.select_option("#id_workspace", label="Acme")
    page.fill("#id_url", "ftp://nowhere")
    page.check("input[name=events][value='message.created']")
    page.click("input[name=_save]")
    assert "Enter a valid http or https URL." in page.inner_text(".field-url")

    page.fill("#id_url", receiver.url)
    page.click("input[name=_save]")
    warning = page.inner_text(".messagelist .warning")
    assert "it will not be shown again: whsec_" in warning
    secret = warning.split("again: ")[1].split()[0]
    page.screenshot(path=str(shots / "admin-webhook-endpoints.png"), full_page=True)
    assert axe_violations(page, browser, "#content") == []
    page.goto(page.url)  # the list again: the secret is never shown twice
    assert secret not in page.content()

    visitor = browser.new_context().new_page()
    widget_ask(visitor, halo_url, "How do I reset my password?")
    wait_until(lambda: len(receiver.events) >= 2, timeout=30, what="the widget's messages at the receiver")
    # Deliveries are independent (each its own job): they may arrive in either order.
    by_author = {event["data"]["message"]["author"]: event for event in receiver.events[:2]}
    assert sorted(by_author) == ["ai", "user"]
    assert by_author["user"]["data"]["message"]["body"] == "How do I reset my password?"

    page.click("#result_list tbody th a")
    page.click(".field-delivery_log a")
    page.wait_for_selector("#result_list")

    def log_shows_both_delivered() -> bool:
        page.reload()
        return page.locator("#result_list tbody td.field-last_response", has_text="204").count() >= 2

    wait_until(log_shows_both_delivered, timeout=30, what="the delivery log to show both deliveries")
    assert axe_violations(page, browser, "#content") == []
    page.screenshot(path=str(shots / "admin-webhook-deliveries.png"), full_page=True)

    received = len(receiver.events)
    sent_ids = {event["id"] for event in receiver.events}
    page.locator("#result_list tbody tr").last.locator("input.action-select").check()
    page.select_option("select[name=action]", "redeliver")
    page.click("button[name=index]")
    assert "Queued 1 event(s) for delivery again." in page.inner_text(".messagelist")
    wait_until(lambda: len(receiver.events) > received, timeout=30, what="the redelivery")
    assert receiver.events[-1]["id"] in sent_ids  # an event sent before, again under its id
