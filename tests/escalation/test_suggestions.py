"""Suggested settings: from teammates' verdicts, re-opened tickets and held-back conversations that asked for a
human, each with its effect computed by the replay and its evidence; never applied on their own."""

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from agents.turns import ToolCall
from escalation.flow import ai_turn_submit, handoff_request
from escalation.gaps import AI_COULD_HAVE_ANSWERED as AI_COULD_VERDICTS
from escalation.models import EscalationSettings, EscalationSettingsVersion
from escalation.services import escalation_settings_update
from halo.models import Membership, Workspace
from inbox.models import Ticket
from inbox.services import ticket_update, ticket_verdict_set
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db
# The verdict "AI could have answered", under whichever value this release gives it.
AI_COULD_HAVE_ANSWERED = next(value for value in Ticket.Verdict.values if value in AI_COULD_VERDICTS)
SEARCH = ToolCall.list_from_json([{"name": "knowledge_search", "arguments": {"query": "q"}}])
SEARCH_AND_ESCALATE = ToolCall.list_from_json(
    [{"name": "knowledge_search", "arguments": {"query": "q"}}, {"name": "escalate", "arguments": {"reason": "refund"}}]
)


def url(agent: Agent) -> str:
    return f"/api/v1/agents/{agent.pk}/escalation-settings/suggestions"


def answer(workspace: Workspace, agent: Agent, confidence: int) -> Any:
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    return ai_turn_submit(
        conversation=conversation, reply="Here is how.", confidence=confidence, tools=SEARCH, knowledge_sources=[]
    )


def test_needless_escalations_suggest_a_lower_threshold(
    api: APIClient,
    agent: Agent,
    workspace: Workspace,
    escalation_settings: EscalationSettings,
    teammate: Membership,
    django_assert_max_num_queries: Any,
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})
    needless = [answer(workspace, agent, confidence) for confidence in (45, 41)]
    rightful = answer(workspace, agent, 20)
    for judged in needless:
        ticket_verdict_set(ticket=judged.handoff.ticket, user=teammate.user, verdict=AI_COULD_HAVE_ANSWERED)
    ticket_verdict_set(ticket=rightful.handoff.ticket, user=teammate.user, verdict="right_to_escalate")
    versions = EscalationSettingsVersion.objects.count()

    with django_assert_max_num_queries(14):
        response = api.get(url(agent))

    assert response.status_code == 200
    [suggestion] = [item for item in response.json() if item["field"] == "confidence_threshold"]
    assert (suggestion["value"], suggestion["current"]) == (40, 50)  # the smallest change that avoids both
    assert suggestion["effect"] == {
        "tickets_delta": -2,
        "conversations": sorted(judged.turn.conversation_id for judged in needless),
    }
    assert suggestion["evidence"] == sorted(judged.handoff.ticket.pk for judged in needless)
    assert EscalationSettingsVersion.objects.count() == versions  # never applied on its own
    escalation_settings.refresh_from_db()
    assert escalation_settings.confidence_threshold == 50


def test_a_held_back_conversation_that_asked_for_a_human_suggests_fewer_attempts(
    api: APIClient, agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings
) -> None:
    held = answer(workspace, agent, 30)  # low confidence, held back: one attempt of three
    assert held.decision.suppressed_by is not None
    handoff_request(conversation=Conversation.objects.get(pk=held.turn.conversation_id))

    suggestions = {item["field"]: item for item in api.get(url(agent)).json()}

    assert suggestions["max_attempts"]["value"] == 1
    assert suggestions["max_attempts"]["evidence"] == [held.turn.conversation_id]
    assert suggestions["max_attempts"]["evidence_detail"] == [
        {"kind": "asked_for_human", "id": held.turn.conversation_id, "type": "conversation"}
    ]
    assert suggestions["max_attempts"]["effect"]["conversations"] == [held.turn.conversation_id]


def test_no_evidence_no_suggestion_and_no_replay(
    api: APIClient, agent: Agent, workspace: Workspace, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        answer(workspace, agent, 30)

    with django_assert_max_num_queries(6):  # the key (2), the agent, its settings, the two kinds of evidence
        assert api.get(url(agent)).json() == []


def test_applying_a_suggestion_is_the_normal_versioned_save(
    api: APIClient, agent: Agent, escalation_settings: EscalationSettings
) -> None:
    response = api.patch(f"/api/v1/agents/{agent.pk}/escalation-settings", {"confidence_threshold": 40}, format="json")
    assert response.json()["version"] == escalation_settings.version + 1


def test_another_workspaces_agent_gets_no_suggestions(api: APIClient) -> None:
    assert api.get(url(AgentFactory(workspace=WorkspaceFactory()))).status_code == 404
    assert api.get(url(AgentFactory(workspace=WorkspaceFactory())) + "?days=x").status_code == 404


def reopened_after_the_ai_held_back(workspace: Workspace, agent: Agent) -> Any:
    """The AI hands a refund off (escalate tool); a teammate closes the ticket, which gives the conversation back
    to the AI; the customer comes back, the AI holds back a low-confidence turn (one attempt of three), and a
    teammate re-opens the ticket."""
    first = answer(workspace, agent, 80)
    conversation = Conversation.objects.get(pk=first.turn.conversation_id)
    opened = ai_turn_submit(
        conversation=conversation, reply="Let me check.", confidence=70, tools=SEARCH_AND_ESCALATE, knowledge_sources=[]
    )
    ticket = opened.handoff.ticket
    ticket_update(ticket=ticket, data={"status": "closed"})
    conversation.refresh_from_db()
    held = ai_turn_submit(conversation=conversation, reply="Hmm.", confidence=30, tools=SEARCH, knowledge_sources=[])
    assert held.decision.suppressed_by == "gate_attempts"
    ticket_update(ticket=Ticket.objects.get(pk=ticket.pk), data={"status": "open"})
    assert Ticket.objects.get(pk=ticket.pk).reopened_count == 1
    return ticket


def test_a_ticket_reopened_after_the_ai_held_the_customer_back_suggests_fewer_attempts(
    api: APIClient, agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings
) -> None:
    ticket = reopened_after_the_ai_held_back(workspace, agent)

    suggestions = {item["field"]: item for item in api.get(url(agent)).json()}

    assert set(suggestions) == {"max_attempts"}  # the held-back turn's confidence is already below the threshold
    suggestion = suggestions["max_attempts"]
    assert (suggestion["value"], suggestion["current"]) == (1, 3)
    assert suggestion["evidence"] == [ticket.pk]
    assert suggestion["evidence_detail"] == [{"kind": "held_back_then_reopened", "id": ticket.pk, "type": "ticket"}]
    assert suggestion["evidence_against"] == []
    # The AI hands the returning customer off itself: one more ticket, in that conversation.
    assert suggestion["effect"] == {
        "tickets_delta": 1,
        "conversations": [ticket.escalation_events.get().conversation_id],
    }


def test_a_reopened_ticket_counts_against_a_value_that_would_not_have_opened_it(
    api: APIClient,
    admin_client_of: Any,
    agent: Agent,
    workspace: Workspace,
    escalation_settings: EscalationSettings,
    teammate: Membership,
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})
    needless = [answer(workspace, agent, confidence) for confidence in (44, 43)]
    for judged in needless:
        ticket_verdict_set(ticket=judged.handoff.ticket, user=teammate.user, verdict=AI_COULD_HAVE_ANSWERED)
    needed = answer(workspace, agent, 42).handoff.ticket
    ticket_update(ticket=needed, data={"status": "closed"})
    ticket_update(ticket=Ticket.objects.get(pk=needed.pk), data={"status": "open"})  # the customer came back

    [suggestion] = [item for item in api.get(url(agent)).json() if item["field"] == "confidence_threshold"]

    # 40 avoids both needless tickets and the re-opened one: two for, one against.
    assert (suggestion["value"], suggestion["current"]) == (40, 50)
    assert suggestion["evidence"] == sorted(judged.handoff.ticket.pk for judged in needless)
    assert suggestion["evidence_against"] == [{"kind": "reopened", "id": needed.pk, "type": "ticket"}]
    assert suggestion["effect"]["tickets_delta"] == -3
    page = admin_client_of.get(reverse("admin:escalation_escalationsettings_change", args=[escalation_settings.pk]))
    against = reverse("inbox:ticket", args=[needed.pk])
    assert f'Against it: <a href="{against}">ticket #{needed.pk}</a> (re-opened' in page.content.decode().replace(
        "\n", ""
    )


def test_reopened_tickets_outweighing_the_verdicts_leave_the_threshold_alone(
    api: APIClient, agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings, teammate: Membership
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})
    needless = answer(workspace, agent, 44).handoff.ticket
    ticket_verdict_set(ticket=needless, user=teammate.user, verdict=AI_COULD_HAVE_ANSWERED)
    for confidence in (43, 42):
        needed = answer(workspace, agent, confidence).handoff.ticket
        ticket_update(ticket=needed, data={"status": "closed"})
        ticket_update(ticket=Ticket.objects.get(pk=needed.pk), data={"status": "open"})

    fields = [item["field"] for item in api.get(url(agent)).json()]

    assert "confidence_threshold" not in fields  # 40 would avoid one needless ticket and two re-opened ones


def test_reopened_evidence_is_shown_on_the_ticket_escalation_page(
    admin_client_of: Any, agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings
) -> None:
    ticket = reopened_after_the_ai_held_back(workspace, agent)

    page = admin_client_of.get(reverse("admin:escalation_escalationsettings_change", args=[escalation_settings.pk]))

    html = page.content.decode()
    assert "Max attempts: 3 → 1" in html
    assert f"ticket #{ticket.pk}</a> (held back after the close, then re-opened)" in html
