"""Widget API: identity, anonymous visitors, conversation tokens, CORS, throttling, bad input, query counts."""

import hashlib
import hmac
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.test import APIClient

from agents.knowledge import knowledge_search
from agents.models import Agent, Conversation, KnowledgeArticle, Message
from agents.services import message_post
from escalation.api.widget.auth import WidgetRateThrottle
from escalation.api.widget.serializers import TicketRefSerializer
from escalation.services import escalation_settings_ensure
from halo.models import Contact, Workspace
from inbox.models import Ticket
from tests.agents.factories import TEST_TOKEN, AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://shop.example.com"


def user_hash(workspace: Workspace, user_id: str) -> str:
    return hmac.new(workspace.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def start(widget: APIClient, workspace: Workspace, body: str = "How do I reset my password?", **extra: Any) -> Any:
    return widget.post(
        "/api/widget/v1/conversations", {"app_id": workspace.app_id, "body": body, **extra}, format="json"
    )


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


class TestConfig:
    def test_config_shows_the_agent(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        response = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}")

        assert response.status_code == 200
        assert response.json() == {
            "app_id": workspace.app_id,
            "name": "Ada",
            "greeting": "Hi, I'm Ada!",
            "human_handoff_available": response.json()["human_handoff_available"],
            # A workspace without business hours is open around the clock; no reply measured yet.
            "expected_reply": {
                "open_now": True,
                "text": "Our team usually replies within a few hours",
                "next_open_at": None,
            },
        }
        assert isinstance(response.json()["human_handoff_available"], bool)

    def test_unknown_app_is_a_404(self, widget: APIClient, db: None) -> None:
        response = widget.get("/api/widget/v1/config?app_id=nope")

        assert (response.status_code, response.json()["code"]) == (404, "unknown_app")

    def test_wrong_user_hash_is_refused(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        response = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}&user_id=u1&user_hash=00")

        assert (response.status_code, response.json()["code"]) == (401, "invalid_user_hash")

    def test_right_user_hash_is_accepted(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        query = f"app_id={workspace.app_id}&user_id=u1&user_hash={user_hash(workspace, 'u1')}"

        assert widget.get(f"/api/widget/v1/config?{query}").status_code == 200


class TestStartConversation:
    def test_anonymous_visitor_gets_an_answer_a_token_and_a_visitor_id(
        self, widget: APIClient, agent: Agent, workspace: Workspace, help_center: list[KnowledgeArticle]
    ) -> None:
        response = start(widget, workspace)

        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "open"
        assert body["ticket"] is None
        assert body["token"]
        assert body["visitor_id"]
        user, ai = body["messages"]
        assert (user["author"], user["body"]) == ("user", "How do I reset my password?")
        assert ai["author"] == "ai"
        assert ai["sources"] == [
            {"title": "How to reset your password", "url": "https://help.example.com/reset-password"}
        ]
        conversation = Conversation.objects.get(pk=body["id"])
        assert conversation.token_matches(body["token"])
        assert body["token"] not in conversation.token_hash
        assert conversation.contact.visitor_id == body["visitor_id"]
        assert conversation.contact.user_id is None

    def test_returning_visitor_keeps_its_contact(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        first = start(widget, workspace, user={"visitor_id": "visitor-123456"}).json()
        second = start(widget, workspace, user={"visitor_id": "visitor-123456"}).json()

        contacts = Conversation.objects.filter(pk__in=[first["id"], second["id"]]).values_list("contact", flat=True)
        assert len(set(contacts)) == 1
        assert Contact.objects.filter(workspace=workspace).count() == 1

    def test_identified_user_is_verified_and_unsigned_traits_ignored(
        self, widget: APIClient, agent: Agent, workspace: Workspace
    ) -> None:
        existing = ContactFactory(workspace=workspace, user_id="u-42", email="old@example.com", name="Ada")
        user = {"user_id": "u-42", "user_hash": user_hash(workspace, "u-42"), "email": "ceo@example.com", "name": "X"}

        response = start(widget, workspace, user=user)

        assert response.status_code == 201
        existing.refresh_from_db()
        assert (existing.email, existing.name) == ("old@example.com", "Ada")
        assert Conversation.objects.get(pk=response.json()["id"]).contact_id == existing.pk

    def test_wrong_user_hash_creates_nothing(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        ContactFactory(workspace=workspace, user_id="u-42")

        response = start(widget, workspace, user={"user_id": "u-42", "user_hash": user_hash(workspace, "u-43")})
        missing = start(widget, workspace, user={"user_id": "u-42"})

        assert (response.status_code, response.json()["code"]) == (401, "invalid_user_hash")
        assert missing.status_code == 401
        assert not Conversation.objects.exists()

    def test_hash_of_another_workspace_is_refused(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        other = WorkspaceFactory()

        response = start(widget, workspace, user={"user_id": "u1", "user_hash": user_hash(other, "u1")})

        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ({"body": ""}, "invalid"),
            ({"body": "   "}, "invalid"),
            ({"body": "x" * 4001}, "message_too_long"),
            ({"body": 42, "extra": 1}, "invalid"),
            ({"body": "hi", "user": {"visitor_id": "short"}}, "invalid"),
            ({"body": "hi", "user": "nope"}, "invalid"),
        ],
    )
    def test_bad_input_is_a_400_with_a_code(
        self, widget: APIClient, agent: Agent, workspace: Workspace, payload: dict[str, Any], code: str
    ) -> None:
        response = widget.post("/api/widget/v1/conversations", {"app_id": workspace.app_id, **payload}, format="json")

        assert (response.status_code, response.json()["code"]) == (400, code)
        assert not Conversation.objects.exists()

    def test_non_json_body_is_a_400(self, widget: APIClient, agent: Agent) -> None:
        response = widget.post("/api/widget/v1/conversations", "{", content_type="application/json")

        assert response.status_code in (400, 404)
        assert "code" in response.json()

    def test_workspace_without_agent_is_a_404(self, widget: APIClient, workspace: Workspace) -> None:
        assert start(widget, workspace).status_code == 404


class TestConversationMessages:
    def test_post_returns_the_new_messages_status_and_ticket(
        self, widget: APIClient, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)

        response = widget.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages",
            {"body": "How do I connect Slack?"},
            format="json",
            **bearer(TEST_TOKEN),
        )

        assert response.status_code == 201
        body = response.json()
        assert [m["author"] for m in body["messages"]] == ["user", "ai"]
        assert body["messages"][1]["sources"][0]["url"] == "https://help.example.com/slack"
        assert (body["status"], body["ticket"]) == ("open", None)

    def test_token_in_the_query_string_works_too(self, widget: APIClient, agent: Agent) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)

        response = widget.get(f"/api/widget/v1/conversations/{conversation.pk}/messages?token={TEST_TOKEN}")

        assert response.status_code == 200

    def test_after_returns_only_newer_messages(self, widget: APIClient, agent: Agent) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
        first = Message.objects.create(conversation=conversation, author="user", body="one")
        message_post(conversation=conversation, author="teammate", body="Hi, I'm Sam.")

        response = widget.get(
            f"/api/widget/v1/conversations/{conversation.pk}/messages?after={first.pk}", **bearer(TEST_TOKEN)
        )

        assert response.status_code == 200
        assert [(m["author"], m["body"]) for m in response.json()["messages"]] == [("teammate", "Hi, I'm Sam.")]
        assert (
            widget.get(
                f"/api/widget/v1/conversations/{conversation.pk}/messages?after=x", **bearer(TEST_TOKEN)
            ).status_code
            == 400
        )

    def test_a_token_opens_only_its_own_conversation(
        self, widget: APIClient, agent: Agent, workspace: Workspace
    ) -> None:
        mine = start(widget, workspace).json()
        other = ConversationFactory(workspace=workspace, agent=agent)
        foreign = ConversationFactory(workspace=AgentFactory().workspace)

        for conversation_id in (other.pk, foreign.pk, 999999):
            url = f"/api/widget/v1/conversations/{conversation_id}/messages"
            assert widget.get(url, **bearer(mine["token"])).status_code == 404
            assert widget.post(url, {"body": "hi"}, format="json", **bearer(mine["token"])).status_code == 404
        assert Message.objects.filter(conversation__in=[other, foreign]).count() == 0

    def test_missing_token_is_a_401(self, widget: APIClient, agent: Agent) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)

        response = widget.get(f"/api/widget/v1/conversations/{conversation.pk}/messages")

        assert (response.status_code, response.json()["code"]) == (401, "token_required")

    def test_a_staff_session_is_ignored(self, widget: APIClient, agent: Agent, django_user_model: Any) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
        widget.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw"))
        client = APIClient(enforce_csrf_checks=True)
        client.cookies = widget.cookies

        response = client.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages",
            {"body": "hi"},
            format="json",
            **bearer(TEST_TOKEN),
        )

        assert response.status_code == 201  # token-authenticated: no CSRF demanded by a session

    def test_oversize_message_is_refused(self, widget: APIClient, agent: Agent) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)

        response = widget.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages",
            {"body": "x" * 4001},
            format="json",
            **bearer(TEST_TOKEN),
        )

        assert (response.status_code, response.json()["code"]) == (400, "message_too_long")
        assert not Message.objects.exists()

    def test_external_responder_leaves_the_answer_to_the_workspaces_bot(self, widget: APIClient, agent: Agent) -> None:
        agent.responder = Agent.Responder.EXTERNAL
        agent.save()
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)

        response = widget.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages",
            {"body": "hi"},
            format="json",
            **bearer(TEST_TOKEN),
        )

        assert [m["author"] for m in response.json()["messages"]] == ["user"]
        assert not conversation.turns.exists()

    def test_ai_stays_silent_while_a_human_owns_the_conversation(self, widget: APIClient, agent: Agent) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent, status="handed_off")

        response = widget.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages",
            {"body": "hello?"},
            format="json",
            **bearer(TEST_TOKEN),
        )

        assert [m["author"] for m in response.json()["messages"]] == ["user"]
        assert response.json()["status"] == "handed_off"

    def test_queries_per_message_are_fixed_for_each_outcome(
        self, widget: APIClient, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        escalation_settings_ensure(agent=agent)
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
        url = f"/api/widget/v1/conversations/{conversation.pk}/messages"
        # A process reads a workspace's search statistics once (one more query), then only when they change.
        knowledge_search(workspace=agent.workspace, text="warm up")
        outcomes = []
        for text in ("How do I reset my password?", "I want a refund for last month", "thanks, waiting"):
            with CaptureQueriesContext(connection) as queries:
                response = widget.post(url, {"body": text}, format="json", **bearer(TEST_TOKEN))
            payload = response.json()
            outcomes.append(([m["author"] for m in payload["messages"]], payload["ticket"] is not None, len(queries)))

        assert outcomes == [
            # The first message of a contact never seen active also writes its last_active_at (at most once a
            # minute: the next two messages do not).
            (["user", "ai"], False, QUERIES_AI_ANSWER + 1),
            (["user", "ai", "system"], True, QUERIES_ESCALATING_TURN),  # the handoff message, read from no query
            (["user"], True, QUERIES_HANDED_OFF),
        ]

    def test_queries_per_message_with_escalation_do_not_grow(
        self, widget: APIClient, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
        url = f"/api/widget/v1/conversations/{conversation.pk}/messages"
        widget.post(url, {"body": "warm up"}, format="json", **bearer(TEST_TOKEN))
        counts = []
        for text in ("How do I reset my password?", "export csv", "update billing details", "slack"):
            with CaptureQueriesContext(connection) as queries:
                widget.post(url, {"body": text}, format="json", **bearer(TEST_TOKEN))
            counts.append(len(queries))

        assert len(set(counts)) == 1, counts
        assert counts[0] <= QUERIES_ESCALATING_TURN


# Queries per widget message (B1; in tests the message's transaction is a SAVEPOINT/RELEASE pair):
# the conversation with its workspace, contact, agent and escalation settings (1); SAVEPOINT (1); the user's
# message and the conversation's touch (2); the conversation's recent messages with their turns, which the
# responder reads and which say whether the AI just offered a teammate (1; none for a first message); then,
# when the AI answers: knowledge search, AI message, AI turn stored with its decision (3) — no turn history
# read without a signal; RELEASE (1).
QUERIES_AI_ANSWER = 9
# An AI turn that hands off adds: the turn history (1); the ticket, one INSERT that the "one open ticket per
# contact" constraint may refuse (1); the conversation link and the escalation event (2); the handoff message
# and the conversation's status (2); the summary's outbox row (1); the sidebar's count cells (1); the inbox
# counter and event (2); the team's measured reply time, for the handoff message (1, then cached for a few
# minutes). The workspace's business hours come with the conversation's own read.
QUERIES_ESCALATING_TURN = 20
# A message on a handed-off conversation: conversation, SAVEPOINT, message, touch; the ticket; the inbox
# counter and event; RELEASE.
QUERIES_HANDED_OFF = 8


class TestCors:
    def test_allowed_origin_gets_cors_headers(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        response = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}", HTTP_ORIGIN=ORIGIN)

        assert response["Access-Control-Allow-Origin"] == ORIGIN
        assert "Origin" in response["Vary"]

    def test_other_origin_gets_none(self, widget: APIClient, agent: Agent, workspace: Workspace) -> None:
        response = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}", HTTP_ORIGIN="https://evil.example")

        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response

    def test_origin_of_another_workspace_gets_none(self, widget: APIClient, agent: Agent) -> None:
        other = WorkspaceFactory(allowed_origins=["https://other.example"])
        AgentFactory(workspace=other)

        response = widget.get(f"/api/widget/v1/config?app_id={other.app_id}", HTTP_ORIGIN=ORIGIN)

        assert "Access-Control-Allow-Origin" not in response

    def test_preflight_for_start_uses_the_app_id_in_the_query(
        self, widget: APIClient, agent: Agent, workspace: Workspace
    ) -> None:
        response = widget.options(
            f"/api/widget/v1/conversations?app_id={workspace.app_id}",
            HTTP_ORIGIN=ORIGIN,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
        )

        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        assert "POST" in response["Access-Control-Allow-Methods"]
        assert "Content-Type" in response["Access-Control-Allow-Headers"]

    def test_preflight_for_a_conversation_uses_its_workspace(self, widget: APIClient, agent: Agent) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
        url = f"/api/widget/v1/conversations/{conversation.pk}/messages"

        allowed = widget.options(url, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
        refused = widget.options(url, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

        assert allowed["Access-Control-Allow-Origin"] == ORIGIN
        assert "Access-Control-Allow-Origin" not in refused

    def test_errors_carry_cors_headers_so_the_widget_can_read_them(
        self, widget: APIClient, agent: Agent, workspace: Workspace
    ) -> None:
        response = widget.post(
            "/api/widget/v1/conversations", {"app_id": workspace.app_id, "body": ""}, format="json", HTTP_ORIGIN=ORIGIN
        )

        assert response.status_code == 400
        assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_widget_requests_are_throttled(
    widget: APIClient, agent: Agent, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WidgetRateThrottle, "THROTTLE_RATES", {"widget": "3/min"})

    statuses = [widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


class TestHostileInput:
    """Never a 500: NUL bytes, non-ASCII digits and out-of-range ids are plain 4xx (PostgreSQL rejects NUL)."""

    def test_nul_bytes_and_odd_ids_are_client_errors(
        self, widget: APIClient, agent: Agent, workspace: Workspace
    ) -> None:
        conversation = ConversationFactory(workspace=workspace, agent=agent)
        base = f"/api/widget/v1/conversations/{conversation.pk}/messages"

        assert widget.get("/api/widget/v1/config?app_id=a%00b").status_code == 404
        config = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}&visitor_id=abc%00defghij")
        assert config.status_code == 200
        assert (
            widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}&user_id=a%00b&user_hash=x").status_code == 400
        )
        assert widget.get(f"{base}?after=%C2%B2", **bearer(TEST_TOKEN)).status_code == 400
        assert widget.get(f"{base}?after=99999999999999999999", **bearer(TEST_TOKEN)).status_code == 400
        assert widget.options("/api/widget/v1/conversations?app_id=%00", HTTP_ORIGIN=ORIGIN).status_code == 204
        huge = "/api/widget/v1/conversations/99999999999999999999999/messages"
        assert widget.get(huge, **bearer(TEST_TOKEN)).status_code == 404
        body = {"app_id": workspace.app_id, "body": "hi\x00there", "user": {"visitor_id": "visitor-123456"}}
        assert widget.post("/api/widget/v1/conversations", body, format="json").status_code == 400
        assert widget.get("/widget/demo/?app_id=%00").status_code == 404

    def test_server_api_odd_ids(self, api: APIClient) -> None:
        assert api.get("/api/v1/agents/99999999999999999999999").status_code == 404
        assert api.get("/api/v1/conversations/99999999999999999999999").status_code == 404
        assert api.get("/api/v1/knowledge/articles?after=%C2%B2").status_code == 400


@pytest.mark.django_db
def test_the_ticket_reference_is_drf_s_rendering_of_its_fields(widget: APIClient, agent: Agent) -> None:
    escalation_settings_ensure(agent=agent)
    conversation = ConversationFactory(workspace=agent.workspace, agent=agent)

    body = widget.post(
        f"/api/widget/v1/conversations/{conversation.pk}/handoff", {}, format="json", **bearer(TEST_TOKEN)
    ).json()

    ticket = Ticket.objects.get(pk=body["ticket"]["id"])
    as_drf_renders_them = serializers.ModelSerializer.to_representation(TicketRefSerializer(ticket), ticket)
    assert body["ticket"] == dict(as_drf_renders_them)
    assert body["ticket"] == {
        "id": ticket.pk,
        "status": "open",
        "created_at": ticket.created_at.isoformat().replace("+00:00", "Z"),
    }
