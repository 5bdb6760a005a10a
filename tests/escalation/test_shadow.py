"""Shadow settings: every live turn is also judged under them, recorded beside the live decision and never
acted on; their agreement with the live decisions; promotion as a new live version."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from agents.models import Agent, AgentTurn, Conversation
from agents.turns import ToolCall
from escalation.flow import ai_turn_submit
from escalation.models import EscalationSettings, EscalationSettingsVersion, EscalationShadow
from escalation.services import escalation_settings_update
from halo.models import Workspace
from inbox.models import Ticket
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db
SEARCH = ToolCall.list_from_json([{"name": "knowledge_search", "arguments": {"query": "q"}}])


def shadow_url(agent: Agent) -> str:
    return f"/api/v1/agents/{agent.pk}/escalation-settings/shadow"


def new_conversation(workspace: Workspace, agent: Agent) -> Conversation:
    return ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))


def answer(conversation: Conversation, confidence: int) -> Any:
    return ai_turn_submit(
        conversation=conversation, reply="Here is how.", confidence=confidence, tools=SEARCH, knowledge_sources=[]
    )


@pytest.fixture
def one_attempt(escalation_settings: EscalationSettings) -> EscalationSettings:
    return escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})


def test_a_turn_is_judged_under_the_shadow_without_acting_on_it(
    api: APIClient, agent: Agent, workspace: Workspace, one_attempt: EscalationSettings
) -> None:
    response = api.put(shadow_url(agent), {"confidence_threshold": 90}, format="json")
    assert response.status_code == 200, response.json()
    conversation = new_conversation(workspace, agent)

    judged = answer(conversation, confidence=70)

    assert judged.handoff is None  # live: 70 is not under 50
    turn = AgentTurn.objects.get(pk=judged.turn.pk)
    assert turn.escalated is False
    assert turn.shadow == {
        "version": 1,
        "escalated": True,
        "reason": "low_confidence",
        "suppressed_by": None,
        "signals": ["low_confidence"],
    }
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert not Ticket.objects.exists()
    body = api.get(shadow_url(agent)).json()
    assert (body["turns"], body["agreement_rate"], body["would_open"], body["would_avoid"]) == (
        1,
        0.0,
        [conversation.pk],
        [],
    )
    assert body["settings"]["confidence_threshold"] == 90
    assert body["settings"]["max_attempts"] == 1  # left out: the live value


def test_the_shadow_reports_the_tickets_it_would_have_avoided(
    api: APIClient, agent: Agent, workspace: Workspace, one_attempt: EscalationSettings, django_assert_max_num_queries
) -> None:
    api.put(shadow_url(agent), {"confidence_threshold": 20}, format="json")
    escalated = answer(new_conversation(workspace, agent), confidence=30)
    answer(new_conversation(workspace, agent), confidence=95)

    with django_assert_max_num_queries(6):  # the key (2), the agent, the shadow, the turns, the tickets
        body = api.get(shadow_url(agent)).json()

    assert escalated.handoff is not None
    assert (body["turns"], body["agreement_rate"]) == (2, 0.5)
    assert (body["would_open"], body["would_avoid"]) == ([], [escalated.handoff.ticket.pk])


def test_saving_the_shadow_again_restarts_the_comparison(
    api: APIClient, agent: Agent, workspace: Workspace, one_attempt: EscalationSettings
) -> None:
    api.put(shadow_url(agent), {"confidence_threshold": 90}, format="json")
    answer(new_conversation(workspace, agent), confidence=70)

    body = api.put(shadow_url(agent), {"confidence_threshold": 60}, format="json").json()

    assert (body["version"], body["turns"], body["agreement_rate"]) == (2, 0, None)


def test_promote_makes_the_shadow_a_new_live_version(
    api: APIClient, agent: Agent, escalation_settings: EscalationSettings
) -> None:
    api.put(shadow_url(agent), {"confidence_threshold": 65, "mode": "always"}, format="json")
    versions = EscalationSettingsVersion.objects.count()

    response = api.post(f"{shadow_url(agent)}/promote")

    assert response.status_code == 200, response.json()
    assert (response.json()["confidence_threshold"], response.json()["mode"]) == (65, "always")
    version = EscalationSettingsVersion.objects.get(version=response.json()["version"])
    assert EscalationSettingsVersion.objects.count() == versions + 1
    assert version.changes == {"mode": ["conditional", "always"], "confidence_threshold": [50, 65]}
    assert not EscalationShadow.objects.exists()
    assert api.get(shadow_url(agent)).status_code == 404
    assert api.post(f"{shadow_url(agent)}/promote").status_code == 404


def test_an_invalid_shadow_is_refused_with_field_errors_and_nothing_saved(
    api: APIClient, agent: Agent, escalation_settings: EscalationSettings
) -> None:
    for draft, fields in (
        ({"confidence_threshold": -1}, {"confidence_threshold"}),
        ({"routing_type": "inbox"}, {"default_inbox"}),
        ({"priority_filter": "user.plan = = vip"}, {"priority_filter"}),
    ):
        response = api.put(shadow_url(agent), draft, format="json")
        assert response.status_code == 400
        assert set(response.json()["fields"]) == fields
    assert not EscalationShadow.objects.exists()


def test_delete_removes_the_shadow_and_turns_are_no_longer_judged_under_it(
    api: APIClient, agent: Agent, workspace: Workspace
) -> None:
    api.put(shadow_url(agent), {"confidence_threshold": 90}, format="json")

    assert api.delete(shadow_url(agent)).status_code == 204
    assert api.delete(shadow_url(agent)).status_code == 404
    judged = answer(new_conversation(workspace, agent), confidence=70)
    assert AgentTurn.objects.get(pk=judged.turn.pk).shadow is None


def test_another_workspaces_agent_has_no_shadow_to_read_or_write(api: APIClient) -> None:
    other = AgentFactory(workspace=WorkspaceFactory())
    EscalationShadow.objects.create(agent=other, values={"confidence_threshold": 10})

    assert api.get(shadow_url(other)).status_code == 404
    assert api.put(shadow_url(other), {"confidence_threshold": 90}, format="json").status_code == 404
    assert api.delete(shadow_url(other)).status_code == 404
    assert api.post(f"{shadow_url(other)}/promote").status_code == 404
    assert EscalationShadow.objects.get(agent=other).values == {"confidence_threshold": 10}


def test_the_escalation_report_shows_the_chosen_agents_shadow(
    api: APIClient,
    agent: Agent,
    workspace: Workspace,
    one_attempt: EscalationSettings,
    admin_client_of: Client,
    django_assert_max_num_queries: Any,
) -> None:
    api.put(shadow_url(agent), {"confidence_threshold": 90}, format="json")
    conversation = new_conversation(workspace, agent)
    answer(conversation, confidence=70)

    without_agent = admin_client_of.get("/inbox/reports/escalation").content.decode()
    with django_assert_max_num_queries(18):
        page = admin_client_of.get("/inbox/reports/escalation", {"agent": agent.pk}).content.decode()

    assert "Shadow settings" not in without_agent  # a shadow belongs to one agent: shown once one is chosen
    assert "Shadow settings" in page
    assert "0% <span" in page  # agreement: the one turn was judged differently
    assert f"conversation #{conversation.pk}" in page  # the handoff it would have made
    assert "confidence threshold</strong> → 90" in page
