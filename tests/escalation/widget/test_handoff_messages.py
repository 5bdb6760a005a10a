"""Widget API: a message that hands off returns the handoff's system message in its 201, with the others.

``POST conversations`` and ``POST conversations/{id}/messages`` return the messages the request
created — the user's, the AI's reply if any, and the system message that tells the customer a teammate will
reply (asking an anonymous visitor without an email for one) — in id order, so the widget shows it at once
instead of waiting for the socket or the next ``?after=`` poll.
"""

import hashlib
import hmac
from typing import Any

import pytest
from rest_framework.test import APIClient

from agents.models import Agent, KnowledgeArticle, Message
from escalation.services import escalation_settings_ensure
from halo.models import Workspace
from tests.agents.factories import TEST_TOKEN, ConversationFactory
from tests.halo.factories import ContactFactory

pytestmark = pytest.mark.django_db

ASK_FOR_EMAIL = "Please leave your email address"


def user_hash(workspace: Workspace, user_id: str) -> str:
    return hmac.new(workspace.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def start(widget: APIClient, workspace: Workspace, body: str, **extra: Any) -> Any:
    return widget.post(
        "/api/widget/v1/conversations", {"app_id": workspace.app_id, "body": body, **extra}, format="json"
    )


def post(widget: APIClient, conversation_id: int, body: str, token: str = TEST_TOKEN) -> Any:
    return widget.post(
        f"/api/widget/v1/conversations/{conversation_id}/messages",
        {"body": body},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def stored_after(widget: APIClient, conversation_id: int, after_id: int, token: str = TEST_TOKEN) -> list[Any]:
    response = widget.get(
        f"/api/widget/v1/conversations/{conversation_id}/messages?after={after_id}",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return list(response.json()["messages"])


@pytest.fixture(autouse=True)
def escalation_on(agent: Agent) -> None:
    escalation_settings_ensure(agent=agent)


def test_escalating_answer_returns_the_handoff_message_asking_an_anonymous_visitor_for_an_email(
    widget: APIClient, agent: Agent, workspace: Workspace, help_center: list[KnowledgeArticle]
) -> None:
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact__user_id=None, contact__email=None)
    before = Message.objects.filter(conversation=conversation).count()

    response = post(widget, conversation.pk, "I want a refund for last month")

    assert response.status_code == 201
    body = response.json()
    assert [m["author"] for m in body["messages"]] == ["user", "ai", "system"]
    assert body["messages"] == sorted(body["messages"], key=lambda m: m["id"])
    system = body["messages"][2]
    assert "passed this conversation to our team" in system["body"]
    assert ASK_FOR_EMAIL in system["body"]
    assert (body["status"], body["ticket"]["status"]) == ("handed_off", "open")
    # Every message the request created, and nothing else: what a catch-up from before it would read.
    assert before == 0
    assert body["messages"] == stored_after(widget, conversation.pk, 0)


def test_escalating_answer_to_an_identified_user_returns_the_handoff_message_without_asking_for_an_email(
    widget: APIClient, agent: Agent, workspace: Workspace, help_center: list[KnowledgeArticle]
) -> None:
    user = {"user_id": "u-7", "user_hash": user_hash(workspace, "u-7"), "email": "ada@example.com"}
    first = start(widget, workspace, "How do I reset my password?", user=user).json()

    response = post(widget, first["id"], "I want a refund for last month", token=first["token"])

    assert response.status_code == 201
    body = response.json()
    assert [m["author"] for m in body["messages"]] == ["user", "ai", "system"]
    assert "passed this conversation to our team" in body["messages"][2]["body"]
    assert ASK_FOR_EMAIL not in body["messages"][2]["body"]
    assert body["messages"] == stored_after(widget, first["id"], first["messages"][-1]["id"], token=first["token"])


def test_first_message_that_hands_off_returns_the_handoff_message_with_the_token(
    widget: APIClient, agent: Agent, workspace: Workspace
) -> None:
    response = start(widget, workspace, "Can I talk to a human please?")

    assert response.status_code == 201
    body = response.json()
    # A handoff phrase: the AI does not answer; the customer is told at once, before any socket is open.
    assert [m["author"] for m in body["messages"]] == ["user", "system"]
    assert ASK_FOR_EMAIL in body["messages"][1]["body"]
    assert (body["status"], body["ticket"]["status"]) == ("handed_off", "open")
    assert body["messages"] == stored_after(widget, body["id"], 0, token=body["token"])


def test_first_message_on_a_human_only_topic_returns_the_ai_reply_and_the_handoff_message(
    widget: APIClient, agent: Agent, workspace: Workspace, help_center: list[KnowledgeArticle]
) -> None:
    response = start(widget, workspace, "I want a refund for last month")

    body = response.json()
    assert [m["author"] for m in body["messages"]] == ["user", "ai", "system"]
    assert body["messages"] == stored_after(widget, body["id"], 0, token=body["token"])


def test_message_on_a_handed_off_conversation_gets_no_second_handoff_message(
    widget: APIClient, agent: Agent, workspace: Workspace, help_center: list[KnowledgeArticle]
) -> None:
    conversation = ConversationFactory(workspace=workspace, agent=agent)
    post(widget, conversation.pk, "I want a refund for last month")

    response = post(widget, conversation.pk, "thanks, waiting")

    assert [m["author"] for m in response.json()["messages"]] == ["user"]
    assert Message.objects.filter(conversation=conversation, author=Message.Author.SYSTEM).count() == 1


def test_identified_contact_with_an_email_is_not_asked_for_one_in_a_handoff_by_phrase(
    widget: APIClient, agent: Agent, workspace: Workspace
) -> None:
    contact = ContactFactory(workspace=workspace, user_id="u-9", email="grace@example.com")
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)

    body = post(widget, conversation.pk, "I'd like to talk to a human.").json()

    assert [m["author"] for m in body["messages"]] == ["user", "system"]
    assert ASK_FOR_EMAIL not in body["messages"][1]["body"]
