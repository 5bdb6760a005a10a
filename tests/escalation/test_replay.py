"""What-if replay: the stored turns judged again by the same engine, and the preview API built on it."""

from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from agents.models import Agent, AgentTurn, Conversation
from agents.turns import ToolCall
from escalation.flow import OFFER, ai_turn_submit, handoff_request, message_receive
from escalation.models import EscalationSettings, EscalationSettingsVersion, EscalationShadow
from escalation.replay import replay_load, replay_outcome
from escalation.services import escalation_settings_update
from halo.models import Workspace
from inbox.models import EscalationEvent
from inbox.services import ticket_update
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

TOOLS = {
    "none": [],
    "search": [{"name": "knowledge_search", "arguments": {"query": "q"}}],
    "escalate": [{"name": "escalate", "arguments": {"reason": "asked"}}],
}


def turn(conversation: Conversation, *, confidence: int | None, tools: str = "search", reply: str = "Here is how."):
    return ai_turn_submit(
        conversation=conversation,
        reply=reply,
        confidence=confidence,
        tools=ToolCall.list_from_json(TOOLS[tools]),
        knowledge_sources=[],
    )


def preview_url(agent: Agent) -> str:
    return f"/api/v1/agents/{agent.pk}/escalation-settings/preview"


# --- Replaying the live settings reproduces what was decided ----------------------------------------

turns_strategy = st.lists(
    st.tuples(
        st.sampled_from(["Here is how.", "I'm not sure, let me get a teammate involved."]),
        st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        st.sampled_from(sorted(TOOLS)),
        st.booleans(),  # after an escalation: the ticket is closed and the AI gets the conversation back
    ),
    min_size=1,
    max_size=8,
)


# What the customer says after the AI's last turn, if anything: a yes (a request for a human only where the AI
# offered a teammate) or a request on its own.
last_words_strategy = st.sampled_from([None, "yes please", "I want to talk to a human"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    conversations=st.lists(st.tuples(turns_strategy, last_words_strategy), min_size=1, max_size=3),
    mode=st.sampled_from(["off", "always", "conditional"]),
    threshold=st.integers(min_value=0, max_value=100),
    max_attempts=st.integers(min_value=1, max_value=4),
    require_knowledge_search=st.booleans(),
    vip_only=st.booleans(),
)
def test_replaying_the_live_settings_reproduces_every_stored_decision(
    workspace: Workspace,
    escalation_settings: EscalationSettings,
    conversations: list[tuple[list[Any], str | None]],
    mode: str,
    threshold: int,
    max_attempts: int,
    require_knowledge_search: bool,
    vip_only: bool,
) -> None:
    agent = AgentFactory(workspace=workspace)  # a fresh agent per example: its turns are this example's only
    live = escalation_settings_update(
        escalation_settings=EscalationSettings.objects.create(agent=agent),
        data={
            "mode": mode,
            "confidence_threshold": threshold,
            "max_attempts": max_attempts,
            "require_knowledge_search": require_knowledge_search,
            "escalation_filter": "user.plan = vip" if vip_only else "",
        },
    )
    for index, (turns, last_words) in enumerate(conversations):
        contact = ContactFactory(workspace=workspace, plan="vip" if index % 2 else "free")
        conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
        for reply, confidence, tools, hand_back in turns:
            if conversation.status != Conversation.Status.OPEN:
                break
            judged = turn(conversation, confidence=confidence, tools=tools, reply=reply)
            if judged.handoff is not None and hand_back:
                ticket_update(ticket=judged.handoff.ticket, data={"status": "closed"})
                conversation.refresh_from_db()
        if last_words is not None and conversation.status == Conversation.Status.OPEN:
            message_receive(conversation=conversation, body=last_words)

    replayed = replay_outcome(replay_load(agent=agent, now=timezone.now()), live, now=timezone.now())

    stored = AgentTurn.objects.filter(conversation__agent=agent)
    assert len(replayed.turns) == stored.count()
    for row in stored:
        decision = replayed.turns[row.pk]
        assert decision is not None, row
        assert (decision.escalate, decision.reason, decision.suppressed_by) == (
            row.escalated,
            row.reason,
            row.suppressed_by,
        )
        assert [signal.value for signal in decision.signals] == row.signals
    # Every handoff the customer asked for is kept, a yes to the AI's offer included.
    manual = EscalationEvent.objects.filter(conversation__agent=agent, reason="manual", turn__isnull=True)
    assert {event for _, event, _ in replayed.manual_handoffs} == set(manual.values_list("pk", flat=True))


# --- The preview API ----------------------------------------------------------------------------------


@pytest.fixture
def history(agent: Agent, escalation_settings: EscalationSettings, workspace: Workspace) -> dict[str, Any]:
    """Three conversations under threshold 50: one unsure turn (45) that escalated, one at 60 that did not,
    one at 80 that did not; a VIP contact's ticket for the first."""
    vip = ContactFactory(workspace=workspace, plan="vip")
    unsure = ConversationFactory(workspace=workspace, agent=agent, contact=vip)
    sixty = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    sure = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})
    escalated = turn(unsure, confidence=45)
    turn(sixty, confidence=60)
    turn(sure, confidence=80)
    return {"unsure": unsure, "sixty": sixty, "sure": sure, "ticket": escalated.handoff.ticket}


def test_preview_shows_what_a_higher_threshold_would_change(
    api: APIClient, agent: Agent, history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    # The API key (2), the agent, its settings, the draft's validation as a save does it (the model's five
    # check constraints, each a query in a savepoint), the turns, the manual handoffs, the priority filter's
    # tickets.
    with django_assert_max_num_queries(22):
        response = api.post(
            preview_url(agent),
            {"settings": {"confidence_threshold": 70, "priority_filter": "user.plan = vip"}},
            format="json",
        )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["turns_replayed"] == 3
    assert body["newly_escalated"] == [history["sixty"].pk]
    assert body["no_longer_escalated"] == []
    assert body["newly_priority"] == [history["ticket"].pk]
    assert body["by_reason"]["low_confidence"] == 2
    assert body["by_reason_live"]["low_confidence"] == 1
    assert body["tickets_delta"] == 1


def test_preview_shows_what_a_lower_threshold_would_avoid(
    api: APIClient, agent: Agent, history: dict[str, Any]
) -> None:
    body = api.post(preview_url(agent), {"settings": {"confidence_threshold": 40}}, format="json").json()

    assert (body["newly_escalated"], body["no_longer_escalated"]) == ([], [history["unsure"].pk])
    assert body["tickets_delta"] == -1


def test_preview_only_replays_the_days_asked(api: APIClient, agent: Agent, history: dict[str, Any]) -> None:
    Conversation.objects.filter(pk=history["sixty"].pk).update(created_at=timezone.now() - timezone.timedelta(days=40))

    assert api.post(preview_url(agent), {"settings": {}}, format="json").json()["turns_replayed"] == 2
    body = api.post(preview_url(agent), {"settings": {"confidence_threshold": 70}, "days": 60}, format="json").json()
    assert body["turns_replayed"] == 3


def test_an_invalid_draft_gets_the_saves_own_field_errors_and_changes_nothing(
    api: APIClient, agent: Agent, history: dict[str, Any], escalation_settings: EscalationSettings
) -> None:
    versions = EscalationSettingsVersion.objects.count()
    for draft, fields in (
        ({"confidence_threshold": 101, "max_attempts": 0}, {"confidence_threshold", "max_attempts"}),
        ({"routing_type": "inbox"}, {"default_inbox"}),  # the model's own rule
        ({"escalation_filter": "user.plan = = vip"}, {"escalation_filter"}),
        ({"require_web_search": True}, {"require_web_search"}),  # the agent has no web search
        ({"colour": "red"}, {"colour"}),
    ):
        response = api.post(preview_url(agent), {"settings": draft}, format="json")

        assert response.status_code == 400, draft
        assert response.json()["code"] == "invalid"
        assert set(response.json()["fields"]) == fields, response.json()
        assert "turns_replayed" not in response.json()
    assert api.post(preview_url(agent), {"settings": {}, "days": 0}, format="json").status_code == 400
    assert EscalationSettingsVersion.objects.count() == versions
    escalation_settings.refresh_from_db()
    assert (escalation_settings.confidence_threshold, escalation_settings.routing_type) == (50, "team_member")
    assert not EscalationShadow.objects.exists()


def test_preview_of_another_workspaces_agent_is_not_found(api: APIClient, history: dict[str, Any]) -> None:
    other = AgentFactory(workspace=WorkspaceFactory())

    assert api.post(preview_url(other), {"settings": {}}, format="json").status_code == 404


def test_replay_reads_another_agents_turns_never(
    api: APIClient, agent: Agent, workspace: Workspace, history: dict[str, Any]
) -> None:
    other = AgentFactory(workspace=workspace)
    turn(
        ConversationFactory(workspace=workspace, agent=other, contact=ContactFactory(workspace=workspace)), confidence=5
    )

    assert api.post(preview_url(agent), {"settings": {}}, format="json").json()["turns_replayed"] == 3


def test_replay_is_a_fixed_number_of_queries_whatever_the_history(
    agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings, django_assert_num_queries: Any
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"escalation_filter": "user.plan = vip"})
    for index in range(6):
        conversation = ConversationFactory(
            workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace, plan="vip")
        )
        for _ in range(index):
            turn(conversation, confidence=90)
        handoff_request(conversation=conversation)  # a manual handoff after the turns (none for the first)
    with django_assert_num_queries(3):  # the turns, the manual handoffs, the escalation filter's contacts
        outcome = replay_outcome(replay_load(agent=agent, now=timezone.now()), escalation_settings, now=timezone.now())
    assert len(outcome.turns) == 15
    assert len(outcome.manual_handoffs) == 6


# --- Manual handoffs (the customer asked for a human) ------------------------------------------------------


@pytest.fixture
def asked(agent: Agent, escalation_settings: EscalationSettings, workspace: Workspace) -> dict[str, Any]:
    """A free-plan customer who pressed "Talk to a human" before any AI turn, and a VIP who asked after the AI
    held back a low-confidence turn (one attempt of three)."""
    free = ConversationFactory(
        workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace, plan="free")
    )
    vip = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace, plan="vip"))
    held = turn(vip, confidence=30)
    assert held.decision.suppressed_by == "gate_attempts"
    return {
        "free": free,
        "vip": vip,
        "free_ticket": handoff_request(conversation=free).ticket,
        "vip_ticket": handoff_request(conversation=vip).ticket,
    }


def test_a_manual_handoff_outside_the_drafts_escalation_filter_would_no_longer_happen(
    api: APIClient, agent: Agent, asked: dict[str, Any]
) -> None:
    body = api.post(preview_url(agent), {"settings": {"escalation_filter": "user.plan = vip"}}, format="json").json()

    assert (body["turns_replayed"], body["manual_replayed"]) == (1, 2)
    assert body["no_longer_escalated"] == [asked["free"].pk]
    assert body["newly_escalated"] == []
    assert body["tickets_delta"] == -1
    assert (body["by_reason_live"]["manual"], body["by_reason"]["manual"]) == (2, 1)


def test_a_manual_handoff_bypasses_the_drafts_mode_and_gates_and_the_saved_values_change_nothing(
    api: APIClient, agent: Agent, asked: dict[str, Any]
) -> None:
    for draft in ({}, {"mode": "off"}, {"max_attempts": 10, "require_knowledge_search": True}):
        body = api.post(preview_url(agent), {"settings": draft}, format="json").json()

        assert (body["newly_escalated"], body["no_longer_escalated"], body["tickets_delta"]) == ([], [], 0), draft
        assert body["by_reason"]["manual"] == 2


def test_a_manual_handoff_the_drafts_ai_would_have_made_first_is_newly_escalated_with_as_many_tickets(
    api: APIClient, agent: Agent, asked: dict[str, Any]
) -> None:
    body = api.post(preview_url(agent), {"settings": {"max_attempts": 1}}, format="json").json()

    assert body["newly_escalated"] == [asked["vip"].pk]  # the AI hands off before the customer has to ask
    assert body["no_longer_escalated"] == []
    assert body["tickets_delta"] == 0
    assert body["by_reason"]["low_confidence"] == 1


def test_a_manual_handoffs_ticket_would_become_priority_under_the_drafts_priority_filter(
    api: APIClient, agent: Agent, asked: dict[str, Any]
) -> None:
    body = api.post(preview_url(agent), {"settings": {"priority_filter": "user.plan = free"}}, format="json").json()

    assert body["newly_priority"] == [asked["free_ticket"].pk]


def test_a_manual_handoff_before_the_hand_back_is_not_replaced_by_the_drafts_handoff_after_it(
    api: APIClient, agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings
) -> None:
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    ticket_update(ticket=handoff_request(conversation=conversation).ticket, data={"status": "closed"})
    conversation.refresh_from_db()
    assert turn(conversation, confidence=30).decision.suppressed_by == "gate_attempts"  # the AI has it back

    body = api.post(preview_url(agent), {"settings": {"max_attempts": 1}}, format="json").json()

    assert body["newly_escalated"] == [conversation.pk]
    assert body["tickets_delta"] == 1  # the customer's own request still happened, before the close


# --- A yes to the AI's offer of a teammate -------------------------------------------------------------------


@pytest.fixture
def offered(agent: Agent, escalation_settings: EscalationSettings, workspace: Workspace) -> Conversation:
    """A conversation whose unsure turn (30, threshold 50) the attempts gate held back: its reply offered a
    teammate."""
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    held = turn(conversation, confidence=30)
    assert held.decision.suppressed_by == "gate_attempts"
    assert held.turn.message is not None
    assert held.turn.message.body.endswith(OFFER)
    return conversation


def test_a_yes_to_an_offer_the_drafts_ai_would_not_make_would_no_longer_hand_off(
    api: APIClient, agent: Agent, offered: Conversation
) -> None:
    assert message_receive(conversation=offered, body="yes please").ticket is not None

    body = api.post(preview_url(agent), {"settings": {"confidence_threshold": 20}}, format="json").json()

    assert (body["turns_replayed"], body["manual_replayed"]) == (1, 1)
    assert body["no_longer_escalated"] == [offered.pk]
    assert body["newly_escalated"] == []
    assert body["tickets_delta"] == -1
    assert (body["by_reason_live"]["manual"], body["by_reason"]["manual"]) == (1, 0)


def test_a_yes_to_an_offer_still_hands_off_where_the_drafts_ai_offers_too(
    api: APIClient, agent: Agent, offered: Conversation
) -> None:
    message_receive(conversation=offered, body="yes please")

    for draft in ({}, {"confidence_threshold": 40}, {"max_attempts": 5}, {"mode": "off"}):
        body = api.post(preview_url(agent), {"settings": draft}, format="json").json()

        assert (body["newly_escalated"], body["no_longer_escalated"], body["tickets_delta"]) == ([], [], 0), draft
        assert body["by_reason"]["manual"] == 1, draft


def test_a_yes_to_an_offer_where_the_drafts_ai_hands_off_itself_is_one_handoff(
    api: APIClient, agent: Agent, offered: Conversation
) -> None:
    message_receive(conversation=offered, body="yes please")

    body = api.post(preview_url(agent), {"settings": {"max_attempts": 1}}, format="json").json()

    assert body["newly_escalated"] == [offered.pk]  # the AI hands off before the customer is asked
    assert body["no_longer_escalated"] == []
    assert body["tickets_delta"] == 0
    assert body["by_reason"]["low_confidence"] == 1


def test_a_request_for_a_human_after_an_offer_hands_off_under_any_draft_the_filter_allows(
    api: APIClient, agent: Agent, offered: Conversation
) -> None:
    message_receive(conversation=offered, body="I want to talk to a human")

    for draft in ({"confidence_threshold": 20}, {"mode": "off", "confidence_threshold": 0}):
        body = api.post(preview_url(agent), {"settings": draft}, format="json").json()

        assert (body["no_longer_escalated"], body["tickets_delta"]) == ([], 0), draft
        assert body["by_reason"]["manual"] == 1, draft
    outside = {"escalation_filter": "user.plan = vip", "confidence_threshold": 20}
    assert api.post(preview_url(agent), {"settings": outside}, format="json").json()["tickets_delta"] == -1
