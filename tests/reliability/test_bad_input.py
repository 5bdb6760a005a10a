"""R6: bad input anywhere gets a clear 4xx or a form error, never a 500, and writes nothing.

Generic sweeps (every API route from the URL resolver, every admin add form, every inbox action) plus the
cases schemathesis found: lax JSON types in the escalation-settings and AI-turn inputs, and an invalid
``limit`` silently replaced by the default. Segment rules (``tests/segments/test_api.py``), inbox socket
frames (``tests/inbox/test_consumers.py::test_bad_frames_get_an_error_and_the_socket_stays_open``) and
the widget's parameters (``tests/escalation/widget/test_api.py``) have their own tests; see docs/hardening.md.
"""

import json
import re
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.test import Client
from rest_framework.test import APIClient

from escalation.models import EscalationSettings
from halo.routing import websocket_urlpatterns
from inbox.views import ACTIONS
from tests.halo.factories import UserFactory
from tests.security.conftest import Tenant
from tests.security.test_isolation import expand, parameters, route_methods, routes, snapshot, their_values

pytestmark = pytest.mark.django_db

HOSTILE_TEXT = ["\x00", "x" * 100_000, "-1", "99999999999999999999999", "\u202e\ufeff"]


def all_rows(*tenants: Tenant) -> list[Any]:
    return [snapshot(tenant) for tenant in tenants]


@pytest.mark.parametrize(
    "body",
    [
        {"require_web_search": 0},
        {"require_knowledge_search": "true"},
        {"confidence_threshold": "12"},
        {"max_attempts": 2.5},
        {"handoff_phrases": [0]},
        {"escalation_phrases": ["ok", None]},
        {"expected_reply_time": 0},
        {"default_assignee": "1"},
        {"mode": ["off"]},
    ],
)
def test_escalation_settings_refuse_json_of_the_wrong_type(ours: Tenant, body: dict[str, Any]) -> None:
    before = EscalationSettings.objects.filter(agent=ours.agent).values().get()

    response = ours.api.patch(f"/api/v1/agents/{ours.agent.pk}/escalation-settings", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == set(body)
    assert EscalationSettings.objects.filter(agent=ours.agent).values().get() == before


@pytest.mark.parametrize(
    "body",
    [
        {"reply": 1, "confidence": 5, "tools": []},
        {"reply": "hi", "confidence": "5", "tools": []},
        {"reply": "hi", "confidence": 5, "tools": [{"name": 7}]},
        {"reply": "hi", "confidence": 5, "tools": [{"name": "knowledge_search"}], "sources": [{"title": 3}]},
    ],
)
def test_ai_turns_refuse_json_of_the_wrong_type(ours: Tenant, body: dict[str, Any]) -> None:
    before = snapshot(ours)

    response = ours.api.post(f"/api/v1/conversations/{ours.conversation.pk}/ai-turns", body, format="json")

    assert response.status_code == 400, response.content
    assert snapshot(ours) == before


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "201", "1.5", "null", "\u0661"])
def test_ticket_list_refuses_a_bad_limit(ours: Tenant, limit: str) -> None:
    response = ours.api.get("/api/v1/tickets", {"limit": limit})

    assert response.status_code == 400
    assert response.json()["fields"] == {"limit": ["An integer from 1 to 200."]}


def test_ticket_list_takes_a_good_limit(ours: Tenant) -> None:
    response = ours.api.get("/api/v1/tickets", {"limit": "1"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


MALFORMED_BODIES = ["{", "[]", '"text"', "null", "1e999999", '{"a": ' * 5000 + "1" + "}" * 5000, "\x00"]


def test_every_api_route_answers_malformed_json_with_a_4xx_and_writes_nothing(ours: Tenant) -> None:
    """Server and widget API, every write method, their own objects (so the body is what is judged)."""
    before = all_rows(ours)
    values = {name: [str(getattr(ours, attr).pk)] for name, attr in ID_ATTRIBUTES.items()}
    values["user_id"] = [ours.contact.user_id, str(ours.teammate.pk)]
    checked = 0
    for route, callback in routes():
        if not route.startswith(("api/v1/", "api/widget/v1/")):
            continue
        for path in expand(route, values):
            for method in route_methods(callback):
                if method in ("get", "delete"):
                    continue
                for body in MALFORMED_BODIES:
                    response = getattr(ours.api, method)(
                        path,
                        body,
                        content_type="application/json",
                        HTTP_AUTHORIZATION=auth_for(path, ours),
                    )
                    assert 400 <= response.status_code < 500, (method, path, body[:20], response.status_code)
                    assert response.json()["code"], (method, path)
                    checked += 1
    assert checked > 50
    assert all_rows(ours) == before


ID_ATTRIBUTES = {
    "segment_id": "segment",
    "agent_id": "agent",
    "article_id": "article",
    "conversation_id": "conversation",
    "ticket_id": "ticket",
    "inbox_id": "custom_inbox",
    "endpoint_id": "webhook_endpoint",
}


def auth_for(path: str, tenant: Tenant) -> str:
    if path.startswith("/api/widget/"):
        return f"Bearer {tenant.conversation_token}"
    return f"Bearer {tenant.api_key}"


def test_every_admin_add_form_refuses_hostile_values_without_a_500(ours: Tenant, theirs: Tenant) -> None:
    """A superuser posts NUL characters, huge and negative values into every field of every add form."""
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    failures = []
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/"
        page = client.get(url)
        if page.status_code == 403:  # read-only admins (events, outbox) have no add form
            continue
        assert page.status_code == 200, url
        names = sorted(set(re.findall(r'name="([a-z_][\w-]*)"', page.content.decode())) - {"csrfmiddlewaretoken"})
        for value in HOSTILE_TEXT:
            count = model._default_manager.count()
            try:
                response = client.post(url, dict.fromkeys(names, value))
            except Exception as error:  # the test client re-raises a view's exception
                failures.append((url, value[:10], repr(error)[:200]))
                continue
            if response.status_code not in (200, 302, 400):
                failures.append((url, value[:10], response.status_code))
            elif response.status_code != 302 and model._default_manager.count() != count:
                failures.append((url, value[:10], "half-written"))
    assert failures == [], failures


def test_every_inbox_action_refuses_garbage_without_a_500(ours: Tenant) -> None:
    staff = ours.staff_client()
    garbage = {
        "assignee": "99999999999999999999",
        "status": "\x00",
        "inbox": "-1",
        "body": "",
        "conversation": "abc",
        "verdict": "x" * 10_000,
    }
    for action in ACTIONS:
        for data in (garbage, {}, {key: ["a", "b"] for key in garbage}):
            response = staff.post(f"/inbox/tickets/{ours.ticket.pk}/{action}", data)
            assert response.status_code in (200, 302, 400), (action, response.status_code)
    ours.ticket.refresh_from_db()
    assert ours.ticket.status == "open"
    for page in ("/inbox/open/?before=abc", "/inbox/open/?before=99999999999999999999999", "/inbox/%00/"):
        assert staff.get(page).status_code in (200, 404), page
    response = staff.post("/inbox/views/new", {"name": "\x00", "rule": "user.name = ", "statuses": "zzz"})
    assert response.status_code in (200, 400)


@pytest.mark.django_db(transaction=True)
async def test_widget_socket_ignores_garbage_frames_and_refuses_a_huge_id(ours: Tenant) -> None:
    app = URLRouter(websocket_urlpatterns)
    headers = [(b"host", b"testserver")]
    path = f"/ws/widget/conversations/{ours.conversation.pk}/?token={ours.conversation_token}"
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    for frame in ("not json", json.dumps({"type": "x" * 10_000}), "\x00"):
        await communicator.send_to(text_data=frame)
    await communicator.send_to(bytes_data=b"\xff\xfe")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()

    huge = WebsocketCommunicator(app, "/ws/widget/conversations/99999999999999999999999/?token=x", headers=headers)
    connected, code = await huge.connect(timeout=5)
    assert (connected, code) == (False, 4401)


def test_unknown_parameters_of_their_routes_are_known(theirs: Tenant) -> None:
    """The sweeps above address every id parameter the URL map has."""
    known = set(their_values(theirs))
    for route, _ in routes():
        if route.startswith(("api/v1/", "api/widget/v1/")):
            assert set(parameters(route)) <= known | {"user_id"}, route


@pytest.mark.parametrize("after", ["", "-1", "1.0", "abc", "9" * 19])
def test_message_and_article_pages_refuse_a_bad_after(ours: Tenant, after: str) -> None:
    widget = APIClient().get(
        f"/api/widget/v1/conversations/{ours.conversation.pk}/messages",
        {"after": after},
        HTTP_AUTHORIZATION=f"Bearer {ours.conversation_token}",
    )
    server = ours.api.get("/api/v1/knowledge/articles", {"after": after})

    assert (widget.status_code, server.status_code) == (400, 400)
    assert widget.json()["fields"] == server.json()["fields"] == {"after": ["An id (a non-negative integer)."]}
