"""Escalation server API: settings (GET/PATCH, same validation as the admin) and external AI turns."""

from rest_framework.test import APIClient

from agents.models import Agent, AgentTurn, Conversation
from escalation.models import EscalationSettings, EscalationSettingsVersion
from halo.models import Membership
from inbox.models import Ticket
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.conftest import WITHOUT_ESCALATION_SETTINGS
from tests.halo.factories import MembershipFactory, WorkspaceFactory
from tests.inbox.factories import CustomInboxFactory


def settings_url(agent: Agent) -> str:
    return f"/api/v1/agents/{agent.pk}/escalation-settings"


@WITHOUT_ESCALATION_SETTINGS
def test_reads_the_spec_defaults(api: APIClient, agent: Agent) -> None:
    response = api.get(settings_url(agent))

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("mode", "confidence_threshold", "max_attempts")} == {
        "mode": "conditional",
        "confidence_threshold": 50,
        "max_attempts": 3,
    }
    assert body["require_knowledge_search"] is True
    assert body["require_web_search"] is False
    assert (body["escalation_filter"], body["priority_filter"]) == ("", "")
    assert (body["default_assignee"], body["routing_type"], body["default_inbox"]) == (None, "team_member", None)
    assert "talk to a human" in body["handoff_phrases"]
    assert "get a teammate involved" in body["escalation_phrases"]


def test_patch_changes_settings_and_records_a_version(api: APIClient, agent: Agent, teammate: Membership) -> None:
    response = api.patch(
        settings_url(agent), {"confidence_threshold": 70, "default_assignee": teammate.user.pk}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["confidence_threshold"] == 70
    assert response.json()["version"] == 2
    version = EscalationSettingsVersion.objects.get(version=2)
    assert version.changes == {"confidence_threshold": [50, 70], "default_assignee": [None, teammate.user.pk]}
    assert version.changed_via == "api"


def test_patch_refuses_out_of_range_values(api: APIClient, agent: Agent) -> None:
    response = api.patch(settings_url(agent), {"confidence_threshold": 101, "max_attempts": 0}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"confidence_threshold", "max_attempts"}


def test_patch_refuses_inbox_routing_without_an_inbox(api: APIClient, agent: Agent) -> None:
    response = api.patch(settings_url(agent), {"routing_type": "inbox"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"default_inbox": ["Choose a default inbox for inbox routing."]}


def test_patch_refuses_an_inbox_of_another_workspace(api: APIClient, agent: Agent) -> None:
    foreign = CustomInboxFactory(workspace=WorkspaceFactory())
    response = api.patch(settings_url(agent), {"routing_type": "inbox", "default_inbox": foreign.pk}, format="json")

    assert response.status_code == 400
    assert "default_inbox" in response.json()["fields"]
    assert EscalationSettings.objects.get(agent=agent).routing_type == "team_member"


def test_patch_refuses_an_assignee_who_is_not_a_member(api: APIClient, agent: Agent) -> None:
    outsider = MembershipFactory(workspace=WorkspaceFactory())
    response = api.patch(settings_url(agent), {"default_assignee": outsider.user.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"default_assignee": ["The assignee must be a member of this workspace."]}


def test_patch_refuses_require_web_search_while_the_skill_is_off(api: APIClient, agent: Agent) -> None:
    response = api.patch(settings_url(agent), {"require_web_search": True}, format="json")
    assert response.status_code == 400
    assert "require_web_search" in response.json()["fields"]

    Agent.objects.filter(pk=agent.pk).update(web_search_enabled=True)
    assert api.patch(settings_url(agent), {"require_web_search": True}, format="json").status_code == 200


def test_patch_refuses_blank_phrases_and_unknown_fields(api: APIClient, agent: Agent) -> None:
    assert api.patch(settings_url(agent), {"handoff_phrases": ["  "]}, format="json").status_code == 400
    assert api.patch(settings_url(agent), {"nope": 1}, format="json").status_code == 400
    assert api.patch(settings_url(agent), {"mode": "sometimes"}, format="json").status_code == 400


def test_another_workspaces_agent_is_not_found(api: APIClient) -> None:
    foreign = AgentFactory(workspace=WorkspaceFactory())
    assert api.get(settings_url(foreign)).status_code == 404
    assert api.patch(settings_url(foreign), {"mode": "off"}, format="json").status_code == 404


def test_settings_api_requires_a_key(agent: Agent) -> None:
    assert APIClient().get(settings_url(agent)).status_code == 401


# --- ai-turns ----------------------------------------------------------------------------------------


def turns_url(conversation: Conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/ai-turns"


def test_external_turn_with_escalate_tool_creates_a_ticket(api: APIClient, conversation: Conversation) -> None:
    response = api.post(
        turns_url(conversation),
        {
            "reply": "Let me get a teammate involved.",
            "confidence": 35,
            "tools": [{"name": "knowledge_search", "query": "refund"}, {"name": "escalate", "reason": "refund"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["escalated"] is True
    assert body["reason"] == "escalate_tool"
    assert body["signals"] == ["escalate_tool", "phrase", "low_confidence"]
    assert body["suppressed_by"] is None
    assert body["ticket"]["status"] == "open"
    assert body["ticket"]["conversations"] == [conversation.pk]
    turn = AgentTurn.objects.get(pk=body["turn"])
    assert turn.escalate_reason == "refund"
    assert turn.tools[0] == {"name": "knowledge_search", "arguments": {"query": "refund"}, "result": None}


def test_external_turn_reports_what_suppressed_it(api: APIClient, conversation: Conversation) -> None:
    response = api.post(turns_url(conversation), {"reply": "Maybe this helps?", "confidence": 20}, format="json")

    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("escalated", "reason", "suppressed_by", "ticket")} == {
        "escalated": False,
        "reason": "low_confidence",
        "suppressed_by": "gate_knowledge",
        "ticket": None,
    }


def test_external_turn_is_refused_while_a_human_owns_the_conversation(
    api: APIClient, conversation: Conversation
) -> None:
    api.post(turns_url(conversation), {"reply": "", "tools": [{"name": "escalate"}]}, format="json")
    response = api.post(turns_url(conversation), {"reply": "Still here!"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conversation_handed_off"


def test_external_turn_rejects_bad_input(api: APIClient, conversation: Conversation) -> None:
    for payload in (
        {"reply": "x", "confidence": 101},
        {"reply": "x", "tools": [{"query": "no name"}]},
        {"reply": "x", "tools": "escalate"},
        {"confidence": 10},
        {"reply": "x", "extra": True},
    ):
        response = api.post(turns_url(conversation), payload, format="json")
        assert response.status_code == 400, payload
        assert response.json()["code"] == "invalid"
    assert not AgentTurn.objects.exists()


def test_external_turn_on_another_workspaces_conversation_is_not_found(api: APIClient) -> None:
    foreign = ConversationFactory(workspace=WorkspaceFactory())
    assert api.post(turns_url(foreign), {"reply": "hi"}, format="json").status_code == 404
    assert not Ticket.objects.exists()


def test_patch_refuses_a_filter_that_does_not_parse_and_says_where(api: APIClient, agent: Agent) -> None:
    response = api.patch(settings_url(agent), {"escalation_filter": "company.plna = enterprise"}, format="json")

    assert response.status_code == 400
    [message] = response.json()["fields"]["escalation_filter"]
    assert "company.plan" in message  # the "did you mean" hint


def test_patch_accepts_a_valid_filter(api: APIClient, agent: Agent) -> None:
    rule = "company.plan = enterprise OR user.custom_fields.is_vip = true"
    response = api.patch(settings_url(agent), {"priority_filter": rule}, format="json")
    assert response.status_code == 200
    assert response.json()["priority_filter"] == rule
