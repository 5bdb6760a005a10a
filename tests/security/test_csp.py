"""Content-Security-Policy (security bar S11): on every HTML page, strict on everything that is not a page.

In process: every page route answers with the policy (scripts, styles and connections from Halo's origin only,
nothing inline, no framing); the APIs' and the widget's JSON answer with ``default-src 'none'``. In a real
headless Chromium (``tests/browser.py`` fails a browser test on any violation): a walk through every kind of
page a person opens (login, lock-out, password reset, inbox list and ticket, admin pages, the API docs, the
widget demo with a question asked) renders, runs its scripts and opens its sockets under the policy.
"""

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from halo.models import Workspace
from tests.browser import halo_server_running, serve_command
from tests.security.conftest import Tenant

PAGE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(header: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in header.split(";")) if part}


def assert_page_policy(response: Any) -> None:
    policy = directives(response["Content-Security-Policy"])
    for name, value in PAGE_POLICY.items():
        assert policy[name] == value, (response.wsgi_request.path, name, policy)
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_every_page_carries_the_policy(ours: Tenant) -> None:
    staff = ours.staff_client()
    admin = ours.admin_client()
    pages = [
        (Client(), "/accounts/login/"),
        (Client(), "/accounts/password_reset/"),
        (Client(), f"/widget/demo/?app_id={ours.workspace.app_id}"),
        (Client(), "/api/docs/"),
        (staff, "/inbox/open/"),
        (staff, f"/inbox/tickets/{ours.ticket.pk}/"),
        (admin, "/admin/"),
        (admin, f"/admin/halo/workspace/{ours.workspace.pk}/change/"),
        (admin, f"/admin/agents/agent/{ours.agent.pk}/change/"),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html")
        assert_page_policy(response)
        body = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url  # no inline script
        assert "<style" not in body, url
        assert " style=" not in body, url


@pytest.mark.django_db
def test_there_is_no_redoc_page() -> None:
    """Redoc needs inline styles, a blob: worker and third-party fonts and images: Swagger UI serves the docs."""
    assert Client().get("/api/redoc/").status_code == 404


@pytest.mark.django_db
def test_json_answers_are_not_pages(workspace: Workspace, api: APIClient) -> None:
    from tests.agents.factories import AgentFactory

    AgentFactory(workspace=workspace)
    answers = [
        APIClient().get(f"/api/widget/v1/config?app_id={workspace.app_id}"),
        APIClient().post("/api/widget/v1/conversations", {"app_id": workspace.app_id, "body": "hi"}, format="json"),
        APIClient().get("/api/widget/v1/conversations/1/messages"),  # 401
        api.get("/api/v1/agents"),
        Client().get("/healthz"),
        Client().get("/api/v1/nothing-here"),  # the JSON 404
    ]
    for response in answers:
        assert response["Content-Type"].startswith("application/json")
        policy = directives(response["Content-Security-Policy"])
        assert policy == {
            "default-src": "'none'",
            "base-uri": "'none'",
            "form-action": "'none'",
            "frame-ancestors": "'none'",
        }, response.wsgi_request.path


# --- In a real browser ----------------------------------------------------------------------------------

STAFF_EMAIL = "admin@acme.test"
STAFF_PASSWORD = "halo-demo-password"  # the seeded demo login (halo.demo)


@pytest.fixture(scope="module")
def halo_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("halo-csp-browser")
    with halo_server_running(
        data_dir, command=serve_command, start_timeout=40, stop_timeout=20, stdout=subprocess.DEVNULL
    ) as url:
        yield url


def visit(page: Any, url: str, ready: str, shots: Path, name: str) -> None:
    response = page.goto(url)
    assert response.status in (200, 429), (url, response.status)
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_selector(ready, timeout=20_000)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=False)


@pytest.mark.browser
@pytest.mark.slow
def test_every_kind_of_page_works_under_the_policy(halo_embedded: str, browser: Any, tmp_path: Path) -> None:
    base = halo_embedded
    errors: list[str] = []
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))

    visit(page, f"{base}/accounts/password_reset/", "input[name=email]", tmp_path, "password-reset")
    visit(page, f"{base}/accounts/login/?next=/inbox/open/", "input[name=username]", tmp_path, "login")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/open/")
    page.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)  # the socket connected
    page.screenshot(path=str(tmp_path / "inbox.png"))
    page.click("a.ticket-row")
    page.wait_for_selector(".context-card", timeout=15_000)
    page.wait_for_selector("#inbox-live-state[data-state='live']", timeout=15_000)
    page.screenshot(path=str(tmp_path / "ticket.png"))

    visit(page, f"{base}/admin/", "#content", tmp_path, "admin")
    visit(page, f"{base}/admin/halo/workspace/", "#result_list", tmp_path, "admin-workspaces")
    page.click("#result_list tbody tr a")
    page.wait_for_selector("form#workspace_form", timeout=15_000)
    page.screenshot(path=str(tmp_path / "admin-workspace.png"))
    visit(page, f"{base}/admin/agents/agent/", "#result_list", tmp_path, "admin-agents")
    page.click("#result_list tbody tr a")
    page.wait_for_selector("form#agent_form", timeout=15_000)
    page.click(".halo-agent-actions a")  # the agent's Actions > Ticket Escalation form
    page.wait_for_selector("#content form", timeout=15_000)
    page.screenshot(path=str(tmp_path / "admin-escalation.png"))
    visit(page, f"{base}/admin/inbox/ticket/?status__exact=open", "#result_list", tmp_path, "admin-tickets")

    visit(page, f"{base}/api/docs/", ".swagger-ui .opblock", tmp_path, "api-docs")

    visitor = browser.new_context().new_page()
    visitor.on("pageerror", lambda error: errors.append(str(error)))
    visit(visitor, f"{base}/widget/demo/?open=1", "[data-halo-widget][data-ready='true']", tmp_path, "widget-demo")
    visitor.fill(".halo-input", "How do I reset my password?")
    visitor.click(".halo-send")
    visitor.wait_for_selector(".halo-message--ai", timeout=15_000)
    visitor.screenshot(path=str(tmp_path / "widget-answer.png"))

    stranger = browser.new_context().new_page()
    for _ in range(5):
        stranger.goto(f"{base}/accounts/login/")
        stranger.fill("input[name=username]", "someone@acme.test")
        stranger.fill("input[name=password]", "wrong")
        stranger.click("button[type=submit]")
    stranger.wait_for_selector("#lockout-message")
    stranger.screenshot(path=str(tmp_path / "locked-out.png"))
    assert "Too many failed logins" in stranger.inner_text("h1")

    assert errors == []
