"""Manual handoff through the widget API: the "Talk to a human" button and handoff phrases."""

from typing import Any

from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from escalation.services import escalation_settings_ensure, escalation_settings_update
from halo.models import Workspace
from inbox.models import EscalationEvent, Ticket
from inbox.services import ticket_update


def start(widget: APIClient, workspace: Workspace, body: str = "How do I reset my password?") -> dict[str, Any]:
    response = widget.post("/api/widget/v1/conversations", {"app_id": workspace.app_id, "body": body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def handoff(widget: APIClient, conversation: dict[str, Any], token: str | None = None) -> Any:
    return widget.post(
        f"/api/widget/v1/conversations/{conversation['id']}/handoff",
        {},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token or conversation['token']}",
    )


def test_config_offers_the_handoff_button_without_a_filter(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    body = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}").json()
    assert body["human_handoff_available"] is True


def test_talk_to_a_human_creates_a_ticket_and_tells_the_customer(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    conversation = start(widget, workspace)

    response = handoff(widget, conversation)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "handed_off"
    assert body["created"] is True
    assert body["ticket"]["status"] == "open"
    [notice] = body["messages"]
    assert notice["author"] == "system"
    assert "within a few hours" in notice["body"]
    assert "leave your email" in notice["body"]  # an anonymous visitor
    ticket = Ticket.objects.get()
    assert (ticket.reason, ticket.escalation_count) == ("manual", 1)


def test_pressing_twice_returns_the_same_ticket(widget: APIClient, workspace: Workspace, agent: Agent) -> None:
    conversation = start(widget, workspace)
    first = handoff(widget, conversation).json()
    second = handoff(widget, conversation).json()

    assert second["ticket"]["id"] == first["ticket"]["id"]
    assert second["created"] is False
    assert second["messages"] == []
    assert EscalationEvent.objects.count() == 1


def test_after_the_handoff_the_ai_stays_silent(widget: APIClient, workspace: Workspace, agent: Agent) -> None:
    conversation = start(widget, workspace)
    handoff(widget, conversation)

    response = widget.post(
        f"/api/widget/v1/conversations/{conversation['id']}/messages",
        {"body": "How do I export a CSV?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {conversation['token']}",
    )

    assert response.status_code == 201
    assert [message["author"] for message in response.json()["messages"]] == ["user"]
    assert response.json()["status"] == "handed_off"
    assert response.json()["ticket"]["status"] == "open"


def test_a_handoff_phrase_in_the_first_message_hands_off_at_once(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    conversation = start(widget, workspace, body="I want to speak to a HUMAN   agent please")

    assert conversation["status"] == "handed_off"
    assert conversation["ticket"]["status"] == "open"
    # The handoff message is in the reply (the new messages), not only live or on catch-up.
    assert [message["author"] for message in conversation["messages"]] == ["user", "system"]
    assert Ticket.objects.get().reason == "manual"
    after = conversation["messages"][-1]["id"]
    later = widget.get(
        f"/api/widget/v1/conversations/{conversation['id']}/messages?after={after}",
        HTTP_AUTHORIZATION=f"Bearer {conversation['token']}",
    ).json()
    assert later["messages"] == []


def test_handoff_needs_the_conversations_token(widget: APIClient, workspace: Workspace, agent: Agent) -> None:
    conversation = start(widget, workspace)
    other = start(widget, workspace, body="Another question")

    assert handoff(widget, conversation, token=other["token"]).status_code == 404
    no_token = widget.post(f"/api/widget/v1/conversations/{conversation['id']}/handoff", {}, format="json")
    assert no_token.status_code == 401
    assert not Ticket.objects.exists()
    assert Conversation.objects.get(pk=conversation["id"]).status == "open"


def test_contact_outside_the_escalation_filter_gets_no_button_and_a_403(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    settings = escalation_settings_ensure(agent=agent)
    escalation_settings_update(escalation_settings=settings, data={"escalation_filter": "company.plan = enterprise"})
    conversation = start(widget, workspace)

    config = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}").json()
    response = handoff(widget, conversation)

    assert config["human_handoff_available"] is False
    assert response.status_code == 403
    assert response.json()["code"] == "handoff_unavailable"
    assert "isn't available" in response.json()["message"]
    assert not Ticket.objects.exists()
    assert Conversation.objects.get(pk=conversation["id"]).status == "open"


def test_closing_the_ticket_gives_the_conversation_back_to_the_ai(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    conversation = start(widget, workspace)
    handoff(widget, conversation)
    ticket_update(ticket=Ticket.objects.get(), data={"status": "closed"})

    response = widget.post(
        f"/api/widget/v1/conversations/{conversation['id']}/messages",
        {"body": "One more thing: how do I export a CSV?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {conversation['token']}",
    )
    body = response.json()
    assert [message["author"] for message in body["messages"]] == ["user", "ai"]
    assert body["status"] == "open"
    assert body["ticket"] is None
    assert Ticket.objects.exclude(status="closed").count() == 0


def test_an_ai_turn_that_escalates_returns_the_new_ticket_and_the_handed_off_status(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    conversation = start(widget, workspace, body="I want a refund for last month")

    ticket = Ticket.objects.get()
    assert conversation["status"] == "handed_off"
    assert conversation["ticket"]["id"] == ticket.pk
    assert conversation["ticket"]["status"] == "open"
    assert [message["author"] for message in conversation["messages"]] == ["user", "ai", "system"]
    assert Conversation.objects.get(pk=conversation["id"]).status == "handed_off"
    assert ticket.reason != "manual"
