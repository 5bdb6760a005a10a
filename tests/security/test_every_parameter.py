"""Every 500 (finding 7 of the hardening pass): generated hostile values at every integer and text parameter
of every URL pattern and socket; the answer is never a 5xx.

The routes come from the URL resolver (``test_isolation.routes``), so a new route is thrown at the day it is
added. Each example picks one route, one place (a path parameter, a query parameter, a form field, a JSON
body field, a socket's query or first frame) and one value: Unicode digits (superscripts, Arabic-Indic and
mathematical digits), numbers past BIGINT, negative numbers, lone surrogates, NUL characters, or any text.
Everything else in the request is valid (our own ids, the right key, token or session), so the value under
test is what is judged.

Values reach the server as a real client would send them: percent-encoded UTF-8 in paths, query strings and
forms (a lone surrogate as the bytes ``surrogatepass`` gives, which are not UTF-8), JSON with ``\\udfff``
escapes in bodies and socket frames. Run on PostgreSQL too: a lone surrogate only fails a write there.
"""

import base64
import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halo.routing import websocket_urlpatterns
from tests.security.conftest import Tenant
from tests.security.test_isolation import parameters, route_methods, routes

EXAMPLES = int(os.environ.get("HALO_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The query and form parameters the pages and APIs read (ids, cursors, filters, identities, search text).
QUERY_NAMES = [
    "after", "before", "assignee", "inbox", "offset", "limit", "q", "status", "sort", "agent", "app_id",
    "user_id", "user_hash", "user_jwt", "visitor_id", "token", "partial", "workspace", "open",
]  # fmt: skip
# Fields of the JSON bodies and forms the write routes take.
BODY_NAMES = [
    "name", "email", "body", "title", "url", "rule", "status", "assignee", "inbox", "agent", "app_id",
    "custom_fields", "company", "plan", "role", "user_id", "user_hash", "user_jwt", "visitor_id", "reply",
    "confidence", "tools", "sources", "mode", "tickets", "action", "workspace", "verdict", "conversation",
    "statuses", "default_assignee", "expected_reply_time", "greeting", "last_seq",
]  # fmt: skip

UNICODE_DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=25)
HUGE = st.one_of(st.integers(min_value=2**63 - 2, max_value=10**40), st.integers(max_value=-1)).map(str)
SURROGATES = st.tuples(
    st.text(max_size=5), st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3), st.text(max_size=5)
).map("".join)
NUL = st.tuples(st.text(max_size=5), st.text(max_size=5)).map("\x00".join)
HOSTILE = st.one_of(
    UNICODE_DIGITS, HUGE, SURROGATES, NUL, st.text(max_size=40), st.sampled_from(["²", "9" * 23, "\udfff", ""])
)
# JSON adds values a query string cannot carry: numbers past BIGINT, floats, nesting.
JSON_VALUES = st.one_of(
    HOSTILE,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.lists(HOSTILE, max_size=3),
    st.dictionaries(HOSTILE, HOSTILE, max_size=2),
)


def encode(value: str) -> str:
    """``value`` as a client puts it in a URL: percent-encoded UTF-8 (a lone surrogate as its raw bytes)."""
    return quote(value, safe="", errors="surrogatepass")


def own_values(tenant: Tenant) -> dict[str, str]:
    return {
        "user_id": tenant.contact.user_id or "",
        "segment_id": str(tenant.segment.pk),
        "agent_id": str(tenant.agent.pk),
        "article_id": str(tenant.article.pk),
        "conversation_id": str(tenant.conversation.pk),
        "ticket_id": str(tenant.ticket.pk),
        "view_id": str(tenant.saved_view.pk),
        "endpoint_id": str(tenant.webhook_endpoint.pk),
        "inbox_id": str(tenant.custom_inbox.pk),
        "gap_id": "password",
        "action": "assign",
        "key": f"inbox-{tenant.custom_inbox.pk}",
        "uidb64": "MQ",
        "token": "set-password",
    }


def fill(route: str, values: dict[str, str]) -> str:
    path = "/" + route
    for name in parameters(route):
        start = path.index("<")
        path = path[:start] + values[name] + path[path.index(">", start) + 1 :]
    return path


def client_for(tenant: Tenant, path: str) -> Any:
    if path.startswith("/api/v1/"):
        client = tenant.api
    elif path.startswith("/api/widget/"):
        client = tenant.extra.setdefault("widget", type(tenant.api)())
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.conversation_token}")
    else:
        client = tenant.extra.setdefault("staff", tenant.staff_client())
    client.raise_request_exception = False
    return client


ROUTES = sorted({route: callback for route, callback in routes()}.items())


@pytest.mark.django_db
@FUZZ
@given(data=st.data())
def test_no_value_anywhere_in_any_route_is_a_server_error(ours: Tenant, data: st.DataObject) -> None:
    cache.clear()  # the rate limits would answer 429 and hide the route
    route, callback = data.draw(st.sampled_from(ROUTES), label="route")
    method = data.draw(st.sampled_from(route_methods(callback)), label="method")
    values = own_values(ours)
    params = parameters(route)
    places = ["query"] + (["path"] if params else []) + (["body"] if method != "get" else [])
    place = data.draw(st.sampled_from(places), label="place")
    value = data.draw(HOSTILE, label="value")
    query = {"app_id": ours.workspace.app_id}
    body: dict[str, Any] = {}
    if place == "path":
        values[data.draw(st.sampled_from(params), label="parameter")] = encode(value)
    elif place == "query":
        query[data.draw(st.sampled_from(QUERY_NAMES), label="name")] = value
    path = fill(route, values) + "?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in query.items())
    client = client_for(ours, path)
    kwargs: dict[str, Any] = {}
    if place == "body":
        name = data.draw(st.sampled_from(BODY_NAMES), label="field")
        if path.startswith("/api/"):
            body = {"app_id": ours.workspace.app_id, "body": "hello", name: data.draw(JSON_VALUES, label="json")}
            kwargs = {"data": json.dumps(body), "content_type": "application/json"}
        else:
            form = f"{encode(name)}={encode(value)}"
            kwargs = {"data": form, "content_type": "application/x-www-form-urlencoded"}
    elif method != "get":
        kwargs = {"data": "{}" if path.startswith("/api/") else "", "content_type": "application/json"}
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code < 500, (method, path, kwargs, response.status_code)


SOCKETS = URLRouter(websocket_urlpatterns)


async def _socket_case(path: str, headers: list[tuple[bytes, bytes]], frame: str | None) -> None:
    communicator = WebsocketCommunicator(SOCKETS, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    if not connected:
        assert isinstance(code, int), (path, code)
        assert 4000 <= code < 5000, (path, code)
        return
    if frame is not None:
        await communicator.send_to(text_data=frame)
        output = await communicator.receive_output(timeout=5)
        assert output["type"] in ("websocket.send", "websocket.close"), output
        if output["type"] == "websocket.close":
            assert 4000 <= output.get("code", 1000) < 5000 or output.get("code") == 1000, output
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(data=st.data())
def test_no_value_in_a_socket_path_query_or_frame_is_a_server_error(ours: Tenant, data: st.DataObject) -> None:
    value = data.draw(HOSTILE, label="value")
    staff = ours.extra.setdefault("staff", ours.staff_client())
    cookie = staff.cookies["sessionid"].value
    inbox_headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    widget_headers = [(b"host", b"testserver")]
    case = data.draw(st.sampled_from(["inbox-query", "inbox-frame", "widget-path", "widget-query", "widget-frame"]))
    conversation = ours.conversation.pk
    if case == "inbox-query":
        args = (f"/ws/inbox/?workspace={encode(value)}", inbox_headers, None)
    elif case == "inbox-frame":
        last_seq = data.draw(JSON_VALUES, label="last_seq")
        frame = json.dumps({"type": "resume", "last_seq": last_seq})
        args = (f"/ws/inbox/?workspace={ours.workspace.pk}", inbox_headers, frame)
    elif case == "widget-path":
        args = (f"/ws/widget/conversations/{encode(value)}/", widget_headers, None)
    elif case == "widget-query":
        args = (f"/ws/widget/conversations/{conversation}/?token={encode(value)}", widget_headers, None)
    else:
        frame = json.dumps({"type": "auth", "token": value})
        args = (f"/ws/widget/conversations/{conversation}/", widget_headers, frame)
    async_to_sync(_socket_case)(*args)


# --- The cases the attack found, one by one --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["assignee=²", "inbox=²", "before=²", "assignee=" + "9" * 23, "before=-1"])
def test_a_list_page_refuses_a_malformed_id_in_its_query(ours: Tenant, query: str) -> None:
    response = ours.staff_client().get(f"/inbox/open/?{query}")

    assert response.status_code == 400
    assert "must be an id (ASCII digits)" in response.content.decode()


@pytest.mark.django_db
def test_unicode_digits_and_huge_ids_in_paths_and_forms_are_not_found(ours: Tenant) -> None:
    staff = ours.staff_client()
    huge = "9" * 23
    for path in ["/inbox/inbox-²/", "/inbox/view-²/", f"/inbox/inbox-{huge}/", f"/inbox/view-{huge}/"]:
        assert staff.get(path).status_code == 404, path
    assert staff.post("/inbox/workspace", {"workspace": "²"}).status_code == 404
    assert staff.post("/inbox/workspace", {"workspace": huge}).status_code == 404
    id_routes = [route for route, _ in ROUTES if "<id:" in route]
    assert len(id_routes) >= 10
    for route in id_routes:
        path = fill(route, {**own_values(ours), **{name: huge for name in parameters(route) if name.endswith("_id")}})
        response = client_for(ours, path).get(path)
        assert response.status_code == 404, path
        if path.startswith("/api/"):
            assert response.json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        '{"custom_fields": {"plan_note": "\\udfff"}}',
        '{"name": "Eve \\ud800"}',
        '{"company": {"company_id": "c1", "name": "\\udfff"}}',
        '{"custom_fields": {"ok": ["\\udc00"]}}',
    ],
)
def test_the_api_refuses_text_with_a_lone_surrogate(ours: Tenant, body: str) -> None:
    response = ours.api.put("/api/v1/contacts/u-surrogate", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": "JSON parse error - Text may not contain a lone surrogate (U+D800 to U+DFFF).",
    }


@pytest.mark.django_db
def test_the_admin_refuses_a_json_field_with_a_lone_surrogate(ours: Tenant) -> None:
    ours.admin.is_staff = ours.admin.is_superuser = True
    ours.admin.save()
    client = ours.admin_client()
    url = f"/admin/halo/contact/{ours.contact.pk}/change/"
    form = {"workspace": ours.workspace.pk, "user_id": "u1", "name": "Eve", "custom_fields": '{"note": "\\udfff"}'}

    response = client.post(url, form)

    assert response.status_code == 200
    assert "Text may not contain a lone surrogate" in response.content.decode()
    ours.contact.refresh_from_db()
    assert ours.contact.custom_fields == {}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/contacts/u-big", "/api/widget/v1/conversations"])
def test_a_body_over_the_limit_gets_the_apis_json_error(ours: Tenant, path: str) -> None:
    body = json.dumps({"app_id": ours.workspace.app_id, "name": "x" * 3_000_000})
    client = client_for(ours, path)

    response = (
        client.put(path, body, content_type="application/json")
        if "contacts" in path
        else client.post(path, body, content_type="application/json")
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db(transaction=True)
async def test_sockets_refuse_unicode_digits_and_huge_ids_with_a_close_code(ours: Tenant) -> None:
    cookie = await sync_to_async(lambda: ours.staff_client().cookies["sessionid"].value)()
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())]
    for query in ("workspace=²", "workspace=" + "9" * 23, "workspace=%ED%BF%BF"):
        communicator = WebsocketCommunicator(SOCKETS, f"/ws/inbox/?{query}", headers=headers)
        assert await communicator.connect(timeout=5) == (False, 4403), query
    for path in ("/ws/widget/conversations/²/", "/ws/widget/conversations/" + "9" * 23 + "/", "/ws/nothing/"):
        communicator = WebsocketCommunicator(SOCKETS, path, headers=[(b"host", b"testserver")])
        assert await communicator.connect(timeout=5) == (False, 4404), path
    for token in ("\ud800", "\ud800:signed"):  # a raw token, and what a signed link token looks like
        widget = WebsocketCommunicator(
            SOCKETS, f"/ws/widget/conversations/{ours.conversation.pk}/", headers=[(b"host", b"testserver")]
        )
        assert (await widget.connect(timeout=5))[0]
        await widget.send_to(text_data=json.dumps({"type": "auth", "token": token}))
        assert await widget.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    communicator = WebsocketCommunicator(SOCKETS, f"/ws/inbox/?workspace={ours.workspace.pk}", headers=headers)
    assert (await communicator.connect(timeout=5))[0]
    await communicator.receive_json_from(timeout=5)  # hello
    for last_seq in (10**30, "²", -1, 1.5, True):
        await communicator.send_json_to({"type": "resume", "last_seq": last_seq})
        assert (await communicator.receive_json_from(timeout=5))["type"] == "error", last_seq
    await communicator.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["o=0&p=abc", "o=0&p=" + "9" * 23, "o=0&p=-1", "o=x"])
@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/conversations"])
def test_a_forged_cursor_is_a_400(ours: Tenant, query: str, path: str) -> None:
    """The cursor is base64 anyone can write: its position reaches the database only in its column's type."""
    cursor = base64.b64encode(query.encode()).decode()

    response = ours.api.get(path, {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
