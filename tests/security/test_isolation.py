"""S1: the tenant-isolation matrix. Every endpoint, page, socket and admin page, called by one workspace with
another workspace's objects, answers 404/403 and changes nothing.

The routes are enumerated from the URL resolver and the admin registry, not listed by hand: a new endpoint
is in the matrix the day it is added. A route whose path parameter this file does not know fails
``test_every_route_parameter_is_known`` until someone says which of their objects it addresses.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.contrib import admin
from django.core import signing
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from agents.knowledge.text import stem
from agents.links import conversation_link_token
from halo.admin import WorkspaceScopedAdmin
from halo.routing import websocket_urlpatterns
from inbox.views import ACTIONS
from tests.security.conftest import THEIRS_MARKER, Tenant

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
# Path prefixes of routes that do not address tenant data (or are Django's own auth pages).
NOT_TENANT_DATA = ("healthz", "favicon.ico", "accounts/", "api/schema/", "api/docs/", "widget/demo/")


def routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (route, callback) of the project except the admin (covered through its registry)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if prefix == "" and str(pattern.pattern) == "admin/":
                continue
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def route_methods(callback: Any) -> list[str]:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return [m for m in METHODS if hasattr(view_class, m)]
    # A function view: its @require_GET / @require_POST decide; try both.
    return ["get", "post"]


def their_values(theirs: Tenant) -> dict[str, list[str]]:
    """For each path parameter: the values that address an object of theirs."""
    return {
        # A contact's own id (contacts/…) and a teammate's user id (members/…).
        "user_id": [theirs.contact.user_id, str(theirs.teammate.pk)],
        "inbox_id": [str(theirs.custom_inbox.pk)],
        "segment_id": [str(theirs.segment.pk)],
        "agent_id": [str(theirs.agent.pk)],
        "article_id": [str(theirs.article.pk)],
        "conversation_id": [str(theirs.conversation.pk)],
        "ticket_id": [str(theirs.ticket.pk)],
        "view_id": [str(theirs.saved_view.pk)],
        "endpoint_id": [str(theirs.webhook_endpoint.pk)],
        "action": list(ACTIONS),
        "key": [f"inbox-{theirs.custom_inbox.pk}", f"view-{theirs.saved_view.pk}"],
        # The pages of customer emails take a signed token, not an id: one signed with another key.
        "token": [signing.dumps({"conversation": theirs.conversation.pk}, key="not-this-servers-key")],
        "gap_id": [stem(theirs.marker.lower())],  # their knowledge-gap topic (tests/security/conftest.py)
    }


def parameters(route: str) -> list[str]:
    return [part.split(">")[0].split(":")[-1] for part in route.split("<")[1:]]


def expand(route: str, values: dict[str, list[str]]) -> list[str]:
    paths = ["/" + route]
    for name in parameters(route):
        expanded = []
        for path in paths:
            start = path.index("<")
            end = path.index(">", start)
            expanded += [path[:start] + value + path[end + 1 :] for value in values[name]]
        paths = expanded
    return paths


# A body that a write endpoint would accept from its own workspace, so that a 404 is not just a 400.
WRITE_BODIES: dict[str, dict[str, Any]] = {
    "segment-detail": {"name": "pwned", "rule": "user.plan = pro"},
    "agent": {"name": "pwned"},
    "knowledge-article": {"title": "pwned", "body": "pwned"},
    "escalation-settings": {"mode": "off"},
    "ai-turns": {"reply": "pwned", "confidence": 5, "tools": [{"name": "escalate"}]},
    "ticket": {"status": "closed"},
    "knowledge-gap": {"article": None},
    "escalation-settings-preview": {"settings": {"mode": "off"}},
    "escalation-shadow": {"mode": "off"},
    "inbox": {"assignment": "round_robin"},
    "member": {"available": False},
    "widget-messages": {"body": "pwned"},
    "widget-rating": {"score": 1, "comment": "pwned"},
}


# Bookkeeping that a refused request may still touch (an API key's last use).
VOLATILE_FIELDS = {"last_used_at"}


def snapshot(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    """Every row of every model that belongs to ``tenant``'s workspace (through the admin's lookup)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, WorkspaceScopedAdmin):
            queryset = model._default_manager.filter(**{model_admin.workspace_lookup(): {tenant.workspace.pk}})
            rows[model._meta.label] = [
                {k: v for k, v in row.items() if k not in VOLATILE_FIELDS} for row in queryset.order_by("pk").values()
            ]
    rows["agents.Message"] = list(
        apps.get_model("agents", "Message").objects.filter(conversation__workspace=tenant.workspace).values()
    )
    return rows


def api_routes() -> list[tuple[str, Any]]:
    return [(r, c) for r, c in routes() if r.startswith("api/v1/")]


def page_routes() -> list[tuple[str, Any]]:
    return [(r, c) for r, c in routes() if r.startswith("inbox/")]


def test_every_route_parameter_is_known(theirs: Tenant) -> None:
    known = their_values(theirs)
    for route, _ in routes():
        if route.startswith(NOT_TENANT_DATA):
            continue
        unknown = set(parameters(route)) - set(known)
        assert not unknown, f"{route}: say in their_values() which object of theirs {unknown} addresses"


def test_every_route_is_in_a_matrix() -> None:
    covered = {r for r, _ in api_routes()} | {r for r, _ in page_routes()}
    covered |= {r for r, _ in routes() if r.startswith(("api/widget/v1/", "chat/"))}
    missing = [r for r, _ in routes() if not r.startswith(NOT_TENANT_DATA) and r not in covered and r]
    assert missing == []


def test_server_api_with_another_workspaces_ids_is_404_and_changes_nothing(ours: Tenant, theirs: Tenant) -> None:
    before = snapshot(theirs)
    values = their_values(theirs)
    checked = 0
    for route, callback in api_routes():
        if not parameters(route):
            continue
        name = next(p.name for p in _patterns_named(route))
        for path in expand(route, values):
            for method in route_methods(callback):
                body = WRITE_BODIES.get(name, {})
                response = getattr(ours.api, method)(path, body, format="json")
                text = response.content.decode()
                assert THEIRS_MARKER not in text, f"{method.upper()} {path} leaks their data"
                if name in ("contact", "contact-events") and method in ("put", "post"):
                    # Contacts are addressed by the workspace's own user ids: this upserts a contact of ours.
                    assert response.status_code < 300 or response.status_code == 400, (method, path, text)
                else:
                    assert response.status_code in (403, 404), f"{method.upper()} {path}: {response.status_code} {text}"
                checked += 1
    assert checked >= 15
    assert snapshot(theirs) == before


def _patterns_named(route: str) -> Iterator[Any]:
    """The URLPattern objects whose full route is ``route``."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    yield from (p for r, p in walk(get_resolver().url_patterns, "") if r == route)


def test_server_api_lists_show_nothing_of_another_workspace(ours: Tenant, theirs: Tenant) -> None:
    for route, callback in api_routes():
        if parameters(route) or "get" not in route_methods(callback):
            continue
        response = ours.api.get("/" + route)
        assert response.status_code == 200, (route, response.content)
        assert THEIRS_MARKER not in response.content.decode(), route
    for query in (f"?assignee={theirs.teammate.pk}", f"?inbox={theirs.custom_inbox.pk}"):
        response = ours.api.get("/api/v1/tickets" + query)
        assert response.status_code in (200, 400)
        assert THEIRS_MARKER not in response.content.decode()


def test_server_api_key_of_a_workspace_cannot_reach_their_contact_by_upsert(ours: Tenant, theirs: Tenant) -> None:
    response = ours.api.put(f"/api/v1/contacts/{theirs.contact.user_id}", {"name": "pwned"}, format="json")

    assert response.status_code in (200, 201)
    theirs.contact.refresh_from_db()
    assert theirs.contact.name == f"Customer {THEIRS_MARKER}"
    assert ours.workspace.contacts.filter(user_id=theirs.contact.user_id, name="pwned").exists()


def test_widget_token_of_one_conversation_reaches_no_other(ours: Tenant, theirs: Tenant) -> None:
    before = snapshot(theirs)
    widget = APIClient()
    for route, callback in routes():
        if not route.startswith("api/widget/v1/") or "conversation_id" not in parameters(route):
            continue
        name = next(p.name for p in _patterns_named(route))
        for path in expand(route, their_values(theirs)):
            for method in route_methods(callback):
                for auth in ({"HTTP_AUTHORIZATION": f"Bearer {ours.conversation_token}"}, {}):
                    response = getattr(widget, method)(path, WRITE_BODIES.get(name, {}), format="json", **auth)
                    assert response.status_code in (401, 403, 404), (method, path, auth, response.content)
                    assert THEIRS_MARKER not in response.content.decode()
    assert snapshot(theirs) == before


def test_a_signed_link_opens_its_own_conversation_only(ours: Tenant, theirs: Tenant) -> None:
    """The reply email's link is a credential for one conversation: ours never opens theirs, and a token that
    was not signed by this server opens nothing (the customer pages answer 404, never their data)."""
    before = snapshot(theirs)
    widget = APIClient()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {conversation_link_token(conversation=ours.conversation)}")
    for route, callback in routes():
        if not route.startswith("api/widget/v1/") or "conversation_id" not in parameters(route):
            continue
        name = next(p.name for p in _patterns_named(route))
        for path in expand(route, their_values(theirs)):
            for method in route_methods(callback):
                response = getattr(widget, method)(path, WRITE_BODIES.get(name, {}), format="json")
                assert response.status_code == 404, (method, path, response.content)
    pages = Client()
    for route, _ in routes():
        if route.startswith("chat/"):
            for path in expand(route, their_values(theirs)):
                for response in (pages.get(path), pages.post(path)):
                    assert response.status_code == 404, path
                    assert THEIRS_MARKER not in response.content.decode()
    assert snapshot(theirs) == before


def test_widget_start_with_another_workspaces_user_id_but_no_hash_is_not_their_contact(
    ours: Tenant, theirs: Tenant
) -> None:
    response = APIClient().post(
        "/api/widget/v1/conversations",
        {"app_id": theirs.workspace.app_id, "body": "hello", "user": {"user_id": theirs.contact.user_id}},
        format="json",
    )
    assert response.status_code in (400, 401)
    assert THEIRS_MARKER not in response.content.decode()


def test_widget_embed_with_another_workspaces_agent_is_404_and_changes_nothing(ours: Tenant, theirs: Tenant) -> None:
    """``agent`` on the widget's config and start: their agent id under our app_id is unknown, not theirs."""
    before = snapshot(theirs)
    widget = APIClient()
    ours_app = ours.workspace.app_id
    responses = [
        widget.get("/api/widget/v1/config", {"app_id": ours_app, "agent": theirs.agent.pk}),
        widget.post(
            "/api/widget/v1/conversations",
            {"app_id": ours_app, "agent": theirs.agent.pk, "body": "hello"},
            format="json",
        ),
    ]
    for response in responses:
        assert (response.status_code, response.json()["code"]) == (404, "unknown_agent")
        assert THEIRS_MARKER not in response.content.decode()
    assert snapshot(theirs) == before


def test_inbox_pages_and_actions_with_another_workspaces_ids_are_404(ours: Tenant, theirs: Tenant) -> None:
    before = snapshot(theirs)
    staff = ours.staff_client()
    values = their_values(theirs)
    for route, callback in page_routes():
        if not parameters(route):
            continue
        for path in expand(route, values):
            for method in route_methods(callback):
                data = {"assignee": "me", "status": "closed", "body": "pwned", "verdict": "right_to_escalate"}
                response = getattr(staff, method)(path, data if method == "post" else {})
                if response.status_code == 405:
                    continue
                assert response.status_code in (403, 404), f"{method.upper()} {path}: {response.status_code}"
                assert THEIRS_MARKER not in response.content.decode()
    response = staff.post("/inbox/workspace", {"workspace": theirs.workspace.pk})
    assert response.status_code == 404
    assert snapshot(theirs) == before


def test_bulk_actions_on_another_workspaces_tickets_change_nothing(ours: Tenant, theirs: Tenant) -> None:
    before = snapshot(theirs)
    staff = ours.staff_client()
    for action in ("close", "snooze", "assign", "move", "reopen"):
        data = {"action": action, "ticket": [theirs.ticket.pk], "assignee": "me", "next": "/inbox/open/"}
        response = staff.post("/inbox/bulk", data, follow=True)
        assert response.status_code == 200
        assert THEIRS_MARKER not in response.content.decode()
    assert snapshot(theirs) == before


def test_inbox_search_finds_nothing_of_another_workspace(ours: Tenant, theirs: Tenant) -> None:
    staff = ours.staff_client()
    for text in (THEIRS_MARKER, theirs.contact.name or "", theirs.contact.email or ""):
        html = staff.get("/inbox/all/", {"q": text}).content.decode()
        assert f'data-ticket-id="{theirs.ticket.pk}"' not in html
        assert "No ticket matches" in html
        api_rows = ours.api.get("/api/v1/tickets", {"q": text}).json()["results"]
        assert theirs.ticket.pk not in [row["id"] for row in api_rows]


def test_admin_rule_preview_of_another_workspaces_settings_is_404(ours: Tenant, theirs: Tenant) -> None:
    from escalation.services import escalation_settings_ensure

    settings = escalation_settings_ensure(agent=theirs.agent)
    response = ours.admin_client().get(
        f"/admin/escalation/escalationsettings/{settings.pk}/rule-preview", {"rule": "user.plan = pro"}
    )
    assert response.status_code == 404


def test_widget_page_view_cannot_reach_another_workspaces_contact(ours: Tenant, theirs: Tenant) -> None:
    before = snapshot(theirs)
    widget = APIClient()
    visitor = theirs.contact.visitor_id or "their-visitor-123"
    for user in ({"user_id": theirs.contact.user_id or "u"}, {"visitor_id": visitor}):
        widget.post(
            "/api/widget/v1/page-views", {"app_id": ours.workspace.app_id, "user": user, "url": "/x"}, format="json"
        )
    assert snapshot(theirs) == before


def test_staff_of_one_workspace_see_nothing_of_another_in_the_inbox(ours: Tenant, theirs: Tenant) -> None:
    staff = ours.staff_client()
    pages = ["/inbox/", "/inbox/views/new"]
    pages += [f"/inbox/{key}/" for key in ("open", "priority", "unassigned", "mine", "closed", "all")]
    pages += [f"/inbox/inbox-{ours.custom_inbox.pk}/", f"/inbox/view-{ours.saved_view.pk}/"]
    pages += [f"/inbox/tickets/{ours.ticket.pk}/"]
    for page in pages:
        for query in ("", "?partial=1"):
            response = staff.get(page + query, follow=True)
            assert response.status_code == 200, page
            html = response.content.decode()
            assert ours.marker in html or page.startswith("/inbox/views/"), page
            assert THEIRS_MARKER not in html, page


# --- Admin -------------------------------------------------------------------------------------------


def admin_cases() -> list[tuple[str, str]]:
    """(model label, url name suffix) for every registered model admin and each of its object pages."""
    return [(model._meta.label, suffix) for model in admin.site._registry for suffix in ("change", "delete", "history")]


def their_rows(label: str, theirs: Tenant) -> list[Any]:
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    if isinstance(model_admin, WorkspaceScopedAdmin):
        return list(model._default_manager.filter(**{model_admin.workspace_lookup(): {theirs.workspace.pk}}))
    if label == "auth.User":
        return [theirs.teammate, theirs.admin]
    return list(model._default_manager.all())


def test_every_admin_object_page_of_another_workspace_is_refused(ours: Tenant, theirs: Tenant) -> None:
    client = ours.admin_client()
    before = snapshot(theirs)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        rows = their_rows(model._meta.label, theirs)
        if isinstance(model_admin, WorkspaceScopedAdmin):
            assert rows, f"{model._meta.label}: the tenant fixture should create one to test isolation"
        for row in rows:
            for suffix in ("change", "delete", "history"):
                url = f"/admin/{info[0]}/{info[1]}/{row.pk}/{suffix}/"
                for method in ("get", "post"):
                    response = getattr(client, method)(
                        url, {"post": "yes", "name": "pwned"} if method == "post" else {}
                    )
                    assert response.status_code in (302, 403, 404), f"{method.upper()} {url}: {response.status_code}"
                    if response.status_code == 302:
                        assert response["Location"] in ("/admin/", "/admin/login/?next=" + url) or response[
                            "Location"
                        ].startswith("/admin/login/"), (url, response["Location"])
                    checked += 1
    escalation_page = f"/admin/escalation/escalationsettings/agent/{theirs.agent.pk}/"
    for method in ("get", "post"):
        response = getattr(client, method)(escalation_page, {"mode": "off"} if method == "post" else {})
        assert response.status_code in (302, 403, 404), (method, response.status_code)
    assert checked > 50
    assert snapshot(theirs) == before


def test_admin_lists_and_add_forms_show_nothing_of_another_workspace(ours: Tenant, theirs: Tenant) -> None:
    client = ours.admin_client()
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        for page in ("", "add/", f"?q={THEIRS_MARKER[:8]}"):  # the search box echoes the query
            response = client.get(f"/admin/{info[0]}/{info[1]}/{page}")
            if not isinstance(model_admin, WorkspaceScopedAdmin):
                assert response.status_code == 403, (info, page)
                continue
            assert response.status_code in (200, 403), (info, page, response.status_code)
            html = response.content.decode()
            assert THEIRS_MARKER not in html, (info, page)
            for row in their_rows(model._meta.label, theirs):
                assert f"/{info[1]}/{row.pk}/change/" not in html, (info, page, row.pk)
    index = client.get("/admin/").content.decode()
    assert THEIRS_MARKER not in index


# --- Sockets -----------------------------------------------------------------------------------------

SOCKETS = URLRouter(websocket_urlpatterns)


def session_cookie(client: Client) -> str:
    return client.cookies["sessionid"].value


@pytest.mark.django_db(transaction=True)
async def test_every_socket_refuses_another_workspaces_objects(ours: Tenant, theirs: Tenant) -> None:
    cookie = await sync_to_async(lambda: session_cookie(ours.staff_client()))()
    inbox_headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(SOCKETS, f"/ws/inbox/?workspace={theirs.workspace.pk}", headers=inbox_headers)
    connected, code = await communicator.connect(timeout=5)
    assert (connected, code) == (False, 4403)

    origin = f"https://{ours.workspace.slug}.example.com".encode()
    for token in (ours.conversation_token, "x" * 64):  # in the URL, as older widgets send it
        communicator = WebsocketCommunicator(
            SOCKETS,
            f"/ws/widget/conversations/{theirs.conversation.pk}/?token={token}",
            headers=[(b"host", b"testserver"), (b"origin", origin)],
        )
        connected, code = await communicator.connect(timeout=5)
        assert (connected, code) == (False, 4401), token
    # In the first frame: from our site's origin their socket is refused before any frame; without an origin
    # (not a browser) it waits for the frame and refuses our token.
    communicator = WebsocketCommunicator(
        SOCKETS,
        f"/ws/widget/conversations/{theirs.conversation.pk}/",
        headers=[(b"host", b"testserver"), (b"origin", origin)],
    )
    assert await communicator.connect(timeout=5) == (False, 4403)
    for token in (ours.conversation_token, "", "x" * 64):
        communicator = WebsocketCommunicator(
            SOCKETS, f"/ws/widget/conversations/{theirs.conversation.pk}/", headers=[(b"host", b"testserver")]
        )
        assert (await communicator.connect(timeout=5))[0]
        await communicator.send_json_to({"type": "auth", "token": token})
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}, token

    # Our own sockets do connect, so the refusals above are about the workspace, not the set-up.
    communicator = WebsocketCommunicator(SOCKETS, f"/ws/inbox/?workspace={ours.workspace.pk}", headers=inbox_headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    hello = json.loads(await communicator.receive_from(timeout=5))
    assert THEIRS_MARKER not in json.dumps(hello)
    await communicator.disconnect()


def test_socket_routes_are_all_in_the_matrix() -> None:
    assert sorted(str(p.pattern) for p in websocket_urlpatterns) == [
        "ws/inbox/",
        "ws/widget/conversations/<int:conversation_id>/",
    ], "a new socket route: add it to test_every_socket_refuses_another_workspaces_objects"
