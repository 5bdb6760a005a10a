"""The conversation flow: judging AI turns, creating and merging tickets, manual handoff, silence and
hand-back (``escalation.flow``)."""

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import AgentTurn, Conversation, Message
from agents.turns import KnowledgeSource, ToolCall
from escalation.engine import Policy, Reason
from escalation.flow import ai_turn_submit, handoff_request, message_receive
from escalation.models import EscalationSettings
from escalation.selectors import handoff_available, turn_decision_replay
from escalation.services import HandoffUnavailable, escalation_settings_update
from halo.models import Contact, Membership, OutboxMessage
from inbox.models import EscalationEvent, Ticket
from inbox.selectors import ticket_open_of_conversation
from inbox.services import ticket_reply, ticket_summarize, ticket_update
from tests.agents.factories import ConversationFactory, MessageFactory
from tests.halo.factories import ContactFactory
from tests.inbox.factories import CustomInboxFactory

SEARCH = ToolCall(name="knowledge_search", arguments={"query": "q"}, result=[])
SOURCE = KnowledgeSource(title="Reset your password", url="https://help.example.com/reset", score=0.4)


def judged(
    conversation: Conversation,
    *,
    confidence: int | None = 90,
    tools: list[dict[str, Any]] | None = None,
    reply: str = "Here is how to do it.",
    searched: bool = True,
) -> AgentTurn:
    """An AI turn through the flow: by default it searched the knowledge base (one source found)."""
    calls = [call for call in ToolCall.list_from_json(tools)] if tools is not None else ([SEARCH] if searched else [])
    turn = ai_turn_submit(
        conversation=conversation,
        reply=reply,
        confidence=confidence,
        tools=calls,
        knowledge_sources=[SOURCE] if searched else [],
    ).turn
    turn.refresh_from_db()
    return turn


def _asks(conversation: Conversation, body: str) -> bool:
    """Whether a user message hands the conversation off (without the AI answering)."""
    result = message_receive(conversation=conversation, body=body)
    return result.turn is None and result.ticket is not None


def test_stores_signals_and_suppression_on_a_turn_that_does_not_escalate(conversation: Conversation) -> None:
    turn = judged(conversation, confidence=20)

    assert turn.signals == ["low_confidence"]
    assert (turn.escalated, turn.reason, turn.suppressed_by) == (False, "low_confidence", "gate_attempts")
    assert turn.decided_at is not None
    assert not Ticket.objects.exists()


def test_turn_without_signal_records_an_empty_decision(conversation: Conversation) -> None:
    turn = judged(conversation, confidence=95)
    assert (turn.signals, turn.escalated, turn.reason, turn.suppressed_by) == ([], False, None, None)


def test_escalate_tool_creates_a_ticket_with_the_ai_context(
    conversation: Conversation, escalation_settings: EscalationSettings, teammate: Membership
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"default_assignee": teammate.user})
    tools = [{"name": "escalate", "arguments": {"reason": "refund"}, "result": "ok"}]
    turn = judged(conversation, confidence=40, tools=tools)

    ticket = Ticket.objects.get()
    assert (turn.escalated, turn.reason) == (True, "escalate_tool")
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.reason == "escalate_tool"
    assert ticket.confidence == 40
    assert ticket.assignee == teammate.user
    assert ticket.inbox is None
    assert ticket.knowledge_sources == [
        {"title": "Reset your password", "url": "https://help.example.com/reset", "score": 0.4}
    ]
    assert ticket.tools_tried == [{"name": "escalate", "arguments": {"reason": "refund"}}]
    assert ticket.settings_version == 2
    assert ticket.summary_state == Ticket.SummaryState.PENDING
    assert list(ticket.conversations.all()) == [conversation]
    event = EscalationEvent.objects.get()
    assert (event.ticket, event.turn, event.outcome, event.mode) == (ticket, turn, "created", "conditional")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.HANDED_OFF
    assert OutboxMessage.objects.filter(task="inbox.tasks.ticket_summarize", payload={"ticket_id": ticket.pk})


def test_customer_is_told_the_expected_reply_time(conversation: Conversation) -> None:
    judged(conversation, tools=[{"name": "escalate", "arguments": {}}])

    notice = Message.objects.get(conversation=conversation, author=Message.Author.SYSTEM)
    assert "within a few hours" in notice.body
    assert "we'll email you at jo@example.com" in notice.body  # a verified address: no need to ask for one
    assert "leave your email" not in notice.body


def test_anonymous_visitor_is_asked_for_an_email(workspace, agent, escalation_settings) -> None:
    visitor = Contact.objects.create(workspace=workspace, visitor_id="v-123")
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=visitor)
    judged(conversation, tools=[{"name": "escalate", "arguments": {}}])

    notice = Message.objects.get(conversation=conversation, author=Message.Author.SYSTEM)
    assert "leave your email" in notice.body


def test_inbox_routing_places_the_ticket_in_the_default_inbox(
    conversation: Conversation, escalation_settings: EscalationSettings, teammate: Membership
) -> None:
    billing = CustomInboxFactory(workspace=conversation.workspace, name="Billing")
    escalation_settings_update(
        escalation_settings=escalation_settings,
        data={"routing_type": "inbox", "default_inbox": billing.pk, "default_assignee": teammate.user.pk},
    )
    judged(conversation, tools=[{"name": "escalate", "arguments": {}}])

    ticket = Ticket.objects.get()
    assert (ticket.inbox, ticket.assignee) == (billing, None)


def test_merges_into_open_ticket_when_contact_escalates_again(conversation: Conversation) -> None:
    judged(conversation, tools=[{"name": "escalate", "arguments": {}}])
    second = ConversationFactory(
        workspace=conversation.workspace, agent=conversation.agent, contact=conversation.contact
    )
    judged(second, tools=[{"name": "escalate", "arguments": {}}], reply="I need a teammate", searched=False)

    ticket = Ticket.objects.get()
    assert ticket.escalation_count == 2
    assert set(ticket.conversations.all()) == {conversation, second}
    assert list(EscalationEvent.objects.order_by("id").values_list("outcome", flat=True)) == ["created", "merged"]


def test_another_contact_gets_a_ticket_of_their_own(conversation: Conversation) -> None:
    judged(conversation, tools=[{"name": "escalate", "arguments": {}}])
    other = ConversationFactory(workspace=conversation.workspace, agent=conversation.agent)
    judged(other, tools=[{"name": "escalate", "arguments": {}}])

    assert Ticket.objects.count() == 2


def test_conditional_mode_escalates_low_confidence_after_max_attempts(conversation: Conversation) -> None:
    first = judged(conversation, confidence=20)
    second = judged(conversation, confidence=30, searched=False)
    third = judged(conversation, confidence=10, searched=False)

    assert [first.suppressed_by, second.suppressed_by] == ["gate_attempts", "gate_attempts"]
    assert third.escalated
    assert Ticket.objects.get().reason == "low_confidence"


def test_knowledge_gate_holds_until_the_ai_searched(conversation: Conversation, escalation_settings) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})
    turn = judged(conversation, confidence=10, searched=False)
    assert turn.suppressed_by == "gate_knowledge"


def test_mode_off_never_escalates_a_turn(conversation: Conversation, escalation_settings) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"mode": "off"})
    turn = judged(conversation, tools=[{"name": "escalate", "arguments": {}}], confidence=0)
    assert (turn.escalated, turn.suppressed_by) == (False, "mode_off")
    assert not Ticket.objects.exists()


def test_ai_stays_silent_while_the_ticket_is_open(conversation: Conversation) -> None:
    assert conversation.ai_may_answer
    judged(conversation, tools=[{"name": "escalate", "arguments": {}}])
    conversation.refresh_from_db()

    assert not conversation.ai_may_answer
    ticket = ticket_open_of_conversation(conversation=conversation)
    assert ticket is not None
    assert ticket.status == "open"


def test_closing_the_ticket_hands_back_without_looping(conversation: Conversation) -> None:
    for _ in range(3):
        judged(conversation, confidence=10)
    ticket = Ticket.objects.get()

    ticket_update(ticket=ticket, data={"status": "closed"})
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.ai_may_answer
    assert ticket_open_of_conversation(conversation=conversation) is None

    # The attempts gate starts afresh after the hand-back: the next weak turn does not re-open a ticket.
    after = judged(conversation, confidence=10)
    assert after.suppressed_by == "gate_attempts"
    assert Ticket.objects.exclude(status="closed").count() == 0


def test_ai_stays_silent_once_a_teammate_replied(conversation: Conversation, teammate: Membership) -> None:
    ticket = handoff_request(conversation=conversation).ticket
    ticket_update(ticket=ticket, data={"status": "closed"})  # hands the conversation back to the AI
    conversation.refresh_from_db()
    assert conversation.ai_may_answer

    ticket_reply(ticket=ticket, teammate=teammate.user, body="Hi, Sam here, one more thing.")
    conversation.refresh_from_db()
    assert not conversation.ai_may_answer
    result = message_receive(conversation=conversation, body="How do I reset my password?")
    assert [message.author for message in result.messages] == ["user"]  # the AI does not answer


def test_a_teammate_reply_before_the_hand_back_does_not_silence_the_ai(
    conversation: Conversation, teammate: Membership
) -> None:
    ticket = handoff_request(conversation=conversation).ticket
    ticket_reply(ticket=ticket, teammate=teammate.user, body="Fixed it for you.")
    ticket_update(ticket=ticket, data={"status": "closed"})
    conversation.refresh_from_db()

    assert conversation.ai_may_answer
    result = message_receive(conversation=conversation, body="How do I reset my password?")
    assert [message.author for message in result.messages] == ["user", "ai"]


def test_manual_handoff_escalates_in_mode_off_bypassing_gates(conversation: Conversation, escalation_settings) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"mode": "off", "max_attempts": 10})
    handoff = handoff_request(conversation=conversation)

    assert handoff.created
    assert handoff.ticket.reason == "manual"
    assert EscalationEvent.objects.get().reason == "manual"


def test_asking_twice_returns_the_same_ticket_without_a_second_event(conversation: Conversation) -> None:
    first = handoff_request(conversation=conversation)
    conversation.refresh_from_db()
    second = handoff_request(conversation=conversation)

    assert second.ticket == first.ticket
    assert EscalationEvent.objects.count() == 1
    assert Message.objects.filter(author=Message.Author.SYSTEM).count() == 1


def test_user_handoff_phrase_hands_off_before_the_ai_answers(conversation: Conversation) -> None:
    assert _asks(conversation, "Can I please TALK to a   human?")
    assert Ticket.objects.get().reason == "manual"


def test_ordinary_user_message_is_not_a_handoff(conversation: Conversation) -> None:
    assert not _asks(conversation, "How do I reset my password?")
    assert not Ticket.objects.exists()


def test_widget_message_on_a_human_only_topic_escalates_through_the_agents_runtime(
    conversation: Conversation,
) -> None:
    result = message_receive(conversation=conversation, body="I want a refund for last month")

    assert result.turn is not None
    assert result.turn.escalated
    assert result.ticket is not None
    assert result.ticket.status == "open"
    assert result.conversation.status == Conversation.Status.HANDED_OFF


def test_widget_message_after_handoff_gets_no_ai_answer(conversation: Conversation) -> None:
    handoff_request(conversation=conversation)
    conversation.refresh_from_db()
    result = message_receive(conversation=conversation, body="Hello? How do I export a CSV?")

    assert [message.author for message in result.messages] == ["user"]
    assert result.ticket is not None


def test_summary_leaves_pending_with_the_users_words(conversation: Conversation) -> None:
    MessageFactory(conversation=conversation, body="My invoice is wrong")
    handoff = handoff_request(conversation=conversation)

    ticket = ticket_summarize(ticket_id=handoff.ticket.pk)
    assert ticket.summary_state == "ready"
    assert '"My invoice is wrong"' in ticket.summary
    assert "asked for a human" in ticket.summary


def test_judged_turn_without_a_signal_does_not_read_the_history(
    conversation: Conversation, django_assert_num_queries: Any
) -> None:
    for _ in range(3):
        judged(conversation, confidence=95)
    conversation = Conversation.objects.select_related(
        "workspace", "contact", "agent__escalation_settings", "agent__escalation_shadow"
    ).get(pk=conversation.pk)
    # SAVEPOINT, the AI message, the turn with its decision, the conversation's touch, RELEASE.
    with django_assert_num_queries(5):
        ai_turn_submit(conversation=conversation, reply="Sure.", confidence=95, tools=[SEARCH], knowledge_sources=[])


def test_escalating_turn_uses_a_fixed_number_of_queries(
    workspace: Any, agent: Any, escalation_settings: EscalationSettings
) -> None:
    counts = []
    for history in (0, 5):
        conversation = ConversationFactory(
            workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace)
        )
        for _ in range(history):
            judged(conversation, confidence=95)
        conversation = Conversation.objects.select_related(
            "workspace", "contact", "agent__escalation_settings", "agent__escalation_shadow"
        ).get(pk=conversation.pk)
        cache.clear()  # the team's measured reply time is read once per few minutes: read it in both runs
        with CaptureQueriesContext(connection) as queries:
            ai_turn_submit(
                conversation=conversation,
                reply="Let me get a teammate.",
                confidence=None,
                tools=[ToolCall(name="escalate")],
                knowledge_sources=[],
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # SAVEPOINT; the history (which also counts the turns held back before, for the ticket); the AI message,
    # the turn with its decision; the business hours; the ticket INSERT that the "one open ticket per contact"
    # constraint may refuse (the race arbiter), its conversation link, the event, the summary's outbox row, the
    # sidebar's count cells, the inbox counter and event; the team's measured reply time; the conversation
    # handed off and the customer's notice; the conversation's touch; RELEASE.
    assert counts[0] == 17, counts


@pytest.mark.parametrize("status", ["snoozed", "priority"])
def test_merge_never_lowers_the_status(conversation: Conversation, status: str) -> None:
    handoff_request(conversation=conversation)
    Ticket.objects.update(status=status)
    other = ConversationFactory(
        workspace=conversation.workspace, agent=conversation.agent, contact=conversation.contact
    )
    handoff_request(conversation=other)
    assert Ticket.objects.get().status == status


# --- segment filters ---------------------------------------------------------------------------------


def test_escalation_filter_suppresses_a_contact_outside_it(conversation: Conversation, escalation_settings) -> None:
    escalation_settings_update(
        escalation_settings=escalation_settings, data={"escalation_filter": "user.plan = enterprise"}
    )
    turn = judged(conversation, tools=[{"name": "escalate", "arguments": {}}])

    assert (turn.escalated, turn.suppressed_by) == (False, "filter")
    assert not Ticket.objects.exists()


def test_escalation_filter_lets_a_matching_contact_through(conversation: Conversation, escalation_settings) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"escalation_filter": "user.plan = PRO"})
    assert judged(conversation, tools=[{"name": "escalate", "arguments": {}}]).escalated


def test_manual_handoff_is_refused_outside_the_escalation_filter(
    conversation: Conversation, escalation_settings
) -> None:
    escalation_settings_update(
        escalation_settings=escalation_settings, data={"escalation_filter": "user.plan = enterprise"}
    )

    with pytest.raises(HandoffUnavailable):
        handoff_request(conversation=conversation)
    assert not _asks(conversation, "talk to a human")
    assert not handoff_available(agent=conversation.agent, contact=conversation.contact, now=timezone.now())
    assert not Ticket.objects.exists()


def test_unknown_visitor_is_judged_as_a_contact_without_data(agent, escalation_settings) -> None:
    assert handoff_available(agent=agent, contact=None, now=timezone.now())
    escalation_settings_update(
        escalation_settings=escalation_settings, data={"escalation_filter": "user.email has any value"}
    )
    assert not handoff_available(agent=agent, contact=None, now=timezone.now())


def test_priority_filter_starts_the_ticket_as_priority(conversation: Conversation, escalation_settings) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"priority_filter": "user.plan = pro"})
    handoff_request(conversation=conversation)

    ticket = Ticket.objects.get()
    assert ticket.status == Ticket.Status.PRIORITY
    assert EscalationEvent.objects.get().priority_matched


def test_merge_raises_open_to_priority_when_the_filter_now_matches(
    conversation: Conversation, escalation_settings
) -> None:
    handoff_request(conversation=conversation)
    assert Ticket.objects.get().status == Ticket.Status.OPEN
    escalation_settings_update(escalation_settings=escalation_settings, data={"priority_filter": "user.plan = pro"})
    other = ConversationFactory(
        workspace=conversation.workspace, agent=conversation.agent, contact=conversation.contact
    )
    handoff_request(conversation=other)

    ticket = Ticket.objects.get()
    assert ticket.status == Ticket.Status.PRIORITY
    assert ticket.settings_version == 1  # the version that created it
    assert list(EscalationEvent.objects.order_by("id").values_list("settings_version", flat=True)) == [1, 2]


def test_a_past_turn_can_be_replayed_under_other_settings(conversation: Conversation) -> None:
    turn = judged(conversation, confidence=60)
    assert (turn.escalated, turn.signals) == (False, [])

    stricter = Policy.build(mode="always", confidence_threshold=70)
    replayed = turn_decision_replay(turn_id=turn.pk, policy=stricter, now=timezone.now())

    assert (replayed.escalate, replayed.reason) == (True, Reason.LOW_CONFIDENCE)
    turn.refresh_from_db()
    assert turn.escalated is False  # a replay changes nothing


# --- No loop after a hand-back: a fresh reason is needed, in every mode ---------------------------------

WEAK_TURN_AFTER_HAND_BACK = {"off": "mode_off", "always": "gate_attempts", "conditional": "gate_attempts"}


def _handed_back(conversation: Conversation, escalation_settings: EscalationSettings, mode: str) -> None:
    """The conversation escalated (the customer asked), then a teammate closed its ticket."""
    escalation_settings_update(escalation_settings=escalation_settings, data={"mode": mode})
    conversation.agent.refresh_from_db()
    ticket = handoff_request(conversation=conversation).ticket
    ticket_update(ticket=ticket, data={"status": "closed"})
    conversation.refresh_from_db()
    assert conversation.handed_back_at is not None
    assert conversation.ai_may_answer


@pytest.mark.parametrize("mode", ["off", "always", "conditional"])
def test_a_handed_back_conversation_does_not_escalate_on_the_next_weak_signal(
    conversation: Conversation, escalation_settings: EscalationSettings, mode: str
) -> None:
    _handed_back(conversation, escalation_settings, mode)

    low = judged(conversation, confidence=10)
    phrase = judged(conversation, reply="Let me connect you with a teammate.", confidence=90)

    assert (low.escalated, low.suppressed_by) == (False, WEAK_TURN_AFTER_HAND_BACK[mode])
    assert (phrase.escalated, phrase.suppressed_by) == (False, WEAK_TURN_AFTER_HAND_BACK[mode])
    assert not Ticket.objects.exclude(status="closed").exists()
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_always_mode_escalates_a_weak_signal_at_once_before_any_hand_back(
    conversation: Conversation, escalation_settings: EscalationSettings
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"mode": "always"})
    conversation.agent.refresh_from_db()

    assert judged(conversation, confidence=10).escalated


@pytest.mark.parametrize("mode", ["off", "always", "conditional"])
def test_after_a_hand_back_asking_for_a_human_is_a_fresh_reason(
    conversation: Conversation, escalation_settings: EscalationSettings, mode: str
) -> None:
    _handed_back(conversation, escalation_settings, mode)
    judged(conversation, confidence=10)

    assert _asks(conversation, "Can I talk to a human please?")
    assert Ticket.objects.exclude(status="closed").get().reason == "manual"


@pytest.mark.parametrize("mode", ["always", "conditional"])
def test_after_a_hand_back_the_escalate_tool_is_a_fresh_reason(
    conversation: Conversation, escalation_settings: EscalationSettings, mode: str
) -> None:
    _handed_back(conversation, escalation_settings, mode)

    turn = judged(conversation, tools=[{"name": "escalate", "arguments": {"reason": "refund"}}])

    assert (turn.escalated, turn.reason) == (True, "escalate_tool")
    assert Ticket.objects.exclude(status="closed").count() == 1


@pytest.mark.parametrize("mode", ["always", "conditional"])
def test_after_a_hand_back_the_gates_met_again_escalate(
    conversation: Conversation, escalation_settings: EscalationSettings, mode: str
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 3})
    judged(conversation, confidence=90)  # turns before the hand-back do not count towards the gates
    judged(conversation, confidence=90)
    _handed_back(conversation, escalation_settings, mode)

    turns = [judged(conversation, confidence=10) for _ in range(3)]

    assert [turn.escalated for turn in turns] == [False, False, True]
    assert [turn.suppressed_by for turn in turns[:2]] == ["gate_attempts", "gate_attempts"]
    assert Ticket.objects.exclude(status="closed").get().reason == "low_confidence"
