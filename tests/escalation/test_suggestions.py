"""Suggested settings: from teammates' verdicts and from held-back conversations that asked for a human, each
with its effect computed by the replay and its evidence; never applied on their own."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from agents.turns import ToolCall
from escalation.flow import ai_turn_submit, handoff_request
from escalation.gaps import AI_COULD_HAVE_ANSWERED as AI_COULD_VERDICTS
from escalation.models import EscalationSettings, EscalationSettingsVersion
from escalation.services import escalation_settings_update
from halo.models import Membership, Workspace
from inbox.models import Ticket
from inbox.services import ticket_verdict_set
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db
# The verdict "AI could have answered", under whichever value this release gives it.
AI_COULD_HAVE_ANSWERED = next(value for value in Ticket.Verdict.values if value in AI_COULD_VERDICTS)
SEARCH = ToolCall.list_from_json([{"name": "knowledge_search", "arguments": {"query": "q"}}])


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
