"""The flow in conversation (``escalation.flow``): requests for a human in any words, offers of a teammate
accepted or declined, follow-ups and persisting problems read across messages, and replies that say what
the escalation decision is — a held-back handoff offers a teammate where one is available and never promises
one where none is."""

import pytest

from agents.models import Agent, Conversation, KnowledgeArticle
from agents.responders import HUMAN_ONLY_REPLY, NO_ANSWER_REPLY
from escalation.engine import Decision, Policy, Reason, Signal, SuppressedBy
from escalation.flow import (
    ASK_AGAIN,
    NO_TEAMMATE_HERE,
    NO_TEAMMATE_HERE_REPLY,
    OFFER,
    PostResult,
    ai_turn_submit,
    customer_reply,
    message_receive,
)
from escalation.models import EscalationSettings
from escalation.selectors import turn_decision_replay
from escalation.services import escalation_settings_update
from halo.models import Contact, Workspace
from inbox.models import Ticket
from tests.agents.conftest import HELP_CENTER
from tests.agents.factories import ConversationFactory, KnowledgeArticleFactory

UNANSWERABLE = "Which wine pairs with salmon?"
ANSWERABLE = "How do I reset my password?"


@pytest.fixture
def help_center(workspace: Workspace) -> list[KnowledgeArticle]:
    return [KnowledgeArticleFactory(workspace=workspace, title=t, body=b, url=u) for t, b, u in HELP_CENTER]


@pytest.fixture
def conversation(
    workspace: Workspace,
    agent: Agent,
    contact: Contact,
    escalation_settings: EscalationSettings,
    help_center: list[KnowledgeArticle],
) -> Conversation:
    return ConversationFactory(workspace=workspace, agent=agent, contact=contact)


def say(conversation: Conversation, body: str) -> PostResult:
    result = message_receive(conversation=conversation, body=body)
    conversation.refresh_from_db()
    return result


def ai_reply(result: PostResult) -> str:
    [reply] = [message.body for message in result.messages if message.author == "ai"]
    return reply


def handed_off_by_request(result: PostResult) -> bool:
    return result.turn is None and result.ticket is not None and result.ticket.reason == Reason.MANUAL


def filter_out(escalation_settings: EscalationSettings) -> None:
    """The contact (plan "pro") is outside the escalation filter."""
    escalation_settings_update(
        escalation_settings=escalation_settings, data={"escalation_filter": "user.plan = enterprise"}
    )


# --- Requests for a human, in any words ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["agent please", "Can I speak to a person?", "i need to tlak to a humna", "quiero hablar con una persona"]
)
def test_a_request_in_natural_words_hands_off_before_the_ai_answers(conversation: Conversation, body: str) -> None:
    result = say(conversation, body)

    assert handed_off_by_request(result)
    assert [message.author for message in result.messages] == ["user", "system"]


@pytest.mark.parametrize(
    "body",
    [
        "how do I talk to someone privately?",
        "I don't want to talk to a human, how do I export a CSV?",
        "are you human?",
    ],
)
def test_mentions_of_people_get_an_answer(conversation: Conversation, body: str) -> None:
    result = say(conversation, body)

    assert result.turn is not None
    assert not Ticket.objects.exists()


def test_a_request_from_outside_the_filter_is_told_no_teammate_is_available(
    conversation: Conversation, escalation_settings: EscalationSettings
) -> None:
    filter_out(escalation_settings)

    result = say(conversation, "I need to talk to a human")

    assert ai_reply(result) == NO_TEAMMATE_HERE_REPLY
    assert result.turn is not None
    assert result.turn.confidence is None  # no signal: nothing to hold back, nothing to offer
    assert not Ticket.objects.exists()


# --- Offers of a teammate -----------------------------------------------------------------------------


def test_a_held_back_escalation_offers_a_teammate_and_a_yes_hands_off(conversation: Conversation) -> None:
    offered = say(conversation, UNANSWERABLE)
    assert offered.turn is not None
    assert offered.turn.suppressed_by == SuppressedBy.GATE_ATTEMPTS
    assert ai_reply(offered) == f"{NO_ANSWER_REPLY} {OFFER}"

    accepted = say(conversation, "yes please")

    assert handed_off_by_request(accepted)
    assert conversation.status == Conversation.Status.HANDED_OFF


def test_a_no_to_the_offer_continues_with_the_ai(conversation: Conversation) -> None:
    say(conversation, UNANSWERABLE)

    declined = say(conversation, "no thanks")

    assert declined.turn is not None
    assert declined.turn.confidence is None
    assert OFFER not in ai_reply(declined)
    assert say(conversation, "yes").ticket is None  # nothing is offered any more
    assert not Ticket.objects.exists()


def test_a_yes_to_an_answer_is_not_a_request(conversation: Conversation) -> None:
    answered = say(conversation, ANSWERABLE)
    assert answered.turn is not None
    assert not answered.turn.signals

    assert say(conversation, "yes").ticket is None


def test_mode_off_offers_a_teammate_and_the_yes_hands_off(
    conversation: Conversation, escalation_settings: EscalationSettings
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"mode": "off"})

    offered = say(conversation, "I was charged twice this month")

    assert offered.turn is not None
    assert offered.turn.suppressed_by == SuppressedBy.MODE_OFF
    assert ai_reply(offered) == f"{HUMAN_ONLY_REPLY} {OFFER}"
    assert handed_off_by_request(say(conversation, "sure, that would be great"))


def test_outside_the_filter_a_held_back_escalation_never_promises_a_teammate(
    conversation: Conversation, escalation_settings: EscalationSettings
) -> None:
    filter_out(escalation_settings)

    unanswered = say(conversation, UNANSWERABLE)
    human_only = say(conversation, "I was charged twice this month")

    assert ai_reply(unanswered) == f"{NO_ANSWER_REPLY} {ASK_AGAIN}"
    assert ai_reply(human_only) == f"{HUMAN_ONLY_REPLY} {NO_TEAMMATE_HERE}"
    assert human_only.turn is not None
    assert human_only.turn.suppressed_by == SuppressedBy.FILTER
    assert say(conversation, "yes please").ticket is None  # nothing was offered
    assert not Ticket.objects.exists()


def test_a_handoff_is_announced_by_its_notice(conversation: Conversation) -> None:
    result = say(conversation, "I was charged twice this month")

    assert ai_reply(result) == HUMAN_ONLY_REPLY
    assert result.messages[-1].author == "system"
    assert "passed this conversation to our team" in result.messages[-1].body


def test_a_bots_promise_is_dropped_when_nothing_is_handed_off_and_the_turn_keeps_its_words(
    conversation: Conversation, escalation_settings: EscalationSettings
) -> None:
    escalation_settings_update(escalation_settings=escalation_settings, data={"mode": "off"})
    said = "I'll get a teammate involved. Meanwhile, try signing out and in again."

    judged = ai_turn_submit(conversation=conversation, reply=said, confidence=80, tools=[], knowledge_sources=[])

    assert judged.turn.message is not None
    assert judged.turn.message.body == f"Meanwhile, try signing out and in again. {OFFER}"
    assert judged.turn.reply == said
    replayed = turn_decision_replay(
        turn_id=judged.turn.pk,
        policy=Policy.build(escalation_phrases=["teammate involved"]),
        now=judged.turn.created_at,
    )
    assert replayed.signals == (Signal.PHRASE,)


# --- Reading the conversation -------------------------------------------------------------------------


def test_a_follow_up_is_searched_with_the_question_it_follows(conversation: Conversation) -> None:
    say(conversation, "How do I export my data?")

    follow_up = say(conversation, "and as CSV?")

    assert follow_up.turn is not None
    [search] = [tool for tool in follow_up.turn.tool_calls if tool.name == "knowledge_search"]
    assert search.arguments["query"] == "How do I export my data? and as CSV?"


def test_a_failure_that_persists_across_messages_goes_to_a_human(conversation: Conversation) -> None:
    first = say(conversation, "the app crashes when I open the compose box")
    assert first.ticket is None

    second = say(conversation, "it happens even after reinstalling")

    assert second.turn is not None
    assert second.turn.escalated
    assert second.turn.reason == Reason.ESCALATE_TOOL
    assert [tool.name for tool in second.turn.tool_calls][-1] == "escalate"


def test_small_talk_carries_no_signal(conversation: Conversation) -> None:
    for body in ("hi", "thanks, that worked!", "bye"):
        result = say(conversation, body)
        assert result.turn is not None
        assert result.turn.confidence is None
        assert result.turn.signals == []


# --- customer_reply, alone ----------------------------------------------------------------------------

POLICY = Policy.build(escalation_phrases=["get a teammate involved"])
HELD_BACK = Decision(False, (Signal.LOW_CONFIDENCE,), Reason.LOW_CONFIDENCE, SuppressedBy.GATE_ATTEMPTS)


@pytest.mark.parametrize(
    ("reply", "decision", "available", "shown"),
    [
        ("Here it is.", Decision(False, (), None, None), True, "Here it is."),
        ("Here it is.", Decision(True, (Signal.LOW_CONFIDENCE,), Reason.LOW_CONFIDENCE, None), True, "Here it is."),
        ("Not sure.", HELD_BACK, True, f"Not sure. {OFFER}"),
        ("Not sure. I'll get a teammate involved!", HELD_BACK, True, f"Not sure. {OFFER}"),
        ("I'll get a teammate involved.", HELD_BACK, False, ASK_AGAIN),
        (
            "That's ours.",
            Decision(False, (Signal.ESCALATE_TOOL,), Reason.ESCALATE_TOOL, SuppressedBy.FILTER),
            False,
            f"That's ours. {NO_TEAMMATE_HERE}",
        ),
    ],
)
def test_customer_reply_follows_the_decision(reply: str, decision: Decision, available: bool, shown: str) -> None:
    assert customer_reply(reply, decision, teammate_available=available, policy=POLICY) == shown
