"""The conversation flow: what happens to a widget message, a "Talk to a human" click and an external bot's
turn. Each is one function that reads top to bottom and composes the services of the layers below:
``agents`` stores messages and turns and moves a conversation's status, ``inbox`` opens or merges the
ticket, and this app decides (``escalation.engine``) and composes.

A widget message (``message_receive``):

1. store the user's message (the contact was active now); if a human owns the conversation, its ticket's
   open inbox pages get it and nothing else happens;
2. read the conversation's recent messages (the responder reads them too, and the latest AI reply's
   decision says whether it offered a teammate);
3. if the message asks for a human — in any words or with one of the agent's handoff phrases
   (``escalation.intent``), or by a yes to the teammate the AI just offered — hand off at once (reason
   ``manual``); a contact outside the escalation filter is told that no teammate is available here instead;
4. unless a teammate has spoken since the last hand-back, the agent's responder answers;
5. the AI's turn is judged by the pure engine; what the customer reads is decided with it
   (``customer_reply``): a handoff is announced by its notice, a held-back wish to hand off offers a teammate
   where one is available and never promises one where none is; the turn is stored with its decision and,
   if it escalates, the conversation is handed off.

A hand-off (``_hand_off``) opens or merges the contact's ticket and hands the conversation to the team,
telling the customer, in the caller's transaction; everything that must happen after commit (the live
inbox event, Slack, emails, the AI summary) is recorded in that same transaction by the services.

With a responder that answers offline (builtin, no web search) a whole message is one transaction; a
responder that calls the network runs between two, so no lock is held while it waits.
"""

import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from agents.events import message_broadcast
from agents.models import Agent, AgentTurn, Conversation, Message
from agents.responders import TurnResult, responder_for
from agents.selectors import messages_recent, responder_context_get, turn_latest
from agents.services import (
    conversation_hand_off,
    conversation_insert_handed_off,
    conversation_open,
    conversation_touch,
    message_body_check,
    message_post,
    message_post_user,
    turn_record,
)
from agents.turns import KnowledgeSource, ToolCall, ToolName
from escalation.engine import GATES, OFFERING, Decision, Policy, Reason, SuppressedBy, contains_phrase, decide
from escalation.models import EscalationSettings
from escalation.selectors import (
    agent_escalation_settings,
    agent_escalation_shadow,
    contact_matches_rule,
    contact_passes_escalation_filter,
    expected_reply_get,
    human_request_of,
    turn_context_new,
)
from escalation.services import (
    ConversationHandedOff,
    Handoff,
    HandoffUnavailable,
    decision_record,
    email_captured_notice,
    escalation_settings_ensure,
    handoff_notice,
)
from halo import clock
from halo.identity import ContactIdentity
from halo.models import Contact, Workspace
from halo.selectors import business_hours_get
from halo.services import contact_email_capture, contact_of_identity_get_or_create, contact_touch
from inbox.models import Ticket
from inbox.notifications.replies import email_confirmation_schedule
from inbox.selectors import ticket_open_of_conversation
from inbox.services import Escalation, conversation_message_publish, ticket_open_or_merge


@dataclass
class PostResult:
    """What a widget message produced: every message it created, in id order (the user's, the AI's if it
    answered, and the handoff's system message if it handed off), and the ticket that owns the
    conversation now (None while the AI does)."""

    conversation: Conversation
    messages: list[Message]
    turn: AgentTurn | None = None
    ticket: Ticket | None = None
    token: str | None = field(default=None, repr=False)  # the raw token, only when the conversation is new

    def handed_off(self, handoff: Handoff) -> "PostResult":
        self.ticket = handoff.ticket
        if handoff.message is not None:
            self.messages.append(handoff.message)
        return self


@dataclass(frozen=True)
class JudgedTurn:
    """An AI turn as stored, the engine's decision about it, and the handoff it caused (if any)."""

    turn: AgentTurn
    decision: Decision
    handoff: Handoff | None


def conversation_start(
    *,
    workspace: Workspace,
    agent: Agent,
    body: str,
    contact: Contact | None = None,
    identity: ContactIdentity | None = None,
    visitor_timezone: str | None = None,
) -> PostResult:
    """Open a conversation with the user's first message and the AI's reply; the raw token is returned once.

    The customer is ``contact``, or the widget caller's ``identity``: its contact is found (created on first
    sight) in the message's transaction, so a first message from a new visitor commits once.
    ``visitor_timezone`` (the widget's) is the clock a handoff message tells the team's hours on."""
    body = message_body_check(body)
    if (contact is None) == (identity is None):
        raise ValueError("Pass a contact or an identity.")
    # A responder that answers offline (the builtin without web search) runs inside the message's transaction:
    # one commit. One that calls out (an LLM, a web search) must not hold a transaction open while it waits.
    with transaction.atomic() if agent.answers_offline else nullcontext():
        return _conversation_start(
            workspace=workspace,
            agent=agent,
            body=body,
            contact=contact,
            identity=identity,
            visitor_timezone=visitor_timezone,
        )


def _conversation_start(
    *,
    workspace: Workspace,
    agent: Agent,
    body: str,
    contact: Contact | None,
    identity: ContactIdentity | None,
    visitor_timezone: str | None,
) -> PostResult:
    now = clock.now()
    new_contact = False
    if contact is None:
        assert identity is not None
        contact, new_contact = contact_of_identity_get_or_create(workspace=workspace, identity=identity, active_at=now)
    conversation, token = conversation_open(workspace=workspace, agent=agent, contact=contact, now=now)
    result = _message_receive(
        conversation=conversation,
        body=body,
        first=True,
        new_contact=new_contact,
        now=now,
        visitor_timezone=visitor_timezone,
    )
    result.token = token
    return result


def message_receive(*, conversation: Conversation, body: str, visitor_timezone: str | None = None) -> PostResult:
    """A user's widget message, from storing it to the AI's answer or the handoff (see the module's steps).

    Expects ``conversation`` with its agent (and the agent's escalation settings), contact and workspace
    loaded, as ``agents.selectors.conversation_for_widget`` reads it.
    """
    body = message_body_check(body)
    if conversation.agent.answers_offline:
        with transaction.atomic():
            return _message_receive(
                conversation=conversation, body=body, first=False, visitor_timezone=visitor_timezone
            )
    return _message_receive(conversation=conversation, body=body, first=False, visitor_timezone=visitor_timezone)


def _message_receive(
    *,
    conversation: Conversation,
    body: str,
    first: bool,
    new_contact: bool = False,
    now: datetime | None = None,
    visitor_timezone: str | None = None,
) -> PostResult:
    """``first``: the conversation is new (``conversation_open``, not stored yet); ``new_contact``: so is its
    contact, inserted by this transaction."""
    now = now or clock.now()
    escalation_settings = agent_escalation_settings(agent=conversation.agent)
    with transaction.atomic(savepoint=False):
        contact_touch(contact=conversation.contact, at=now)

        if conversation.status == Conversation.Status.HANDED_OFF:
            message = message_post_user(conversation=conversation, body=body, now=now)
            result = PostResult(conversation=conversation, messages=[message])
            _capture_email(conversation=conversation, body=body, result=result)
            result.ticket = ticket_open_of_conversation(conversation=conversation)
            if result.ticket is not None:
                conversation_message_publish(message=message, ticket=result.ticket)
            return result

        # The words decide first; the recent messages are read only when they do not (a yes to the teammate
        # the AI just offered) or for the responder.
        company = conversation.workspace.name
        request = human_request_of(
            body=body, escalation_settings=escalation_settings, offer_pending=False, company=company
        )
        recent: list[Message] | None = None
        if request is None:
            recent = [] if first else messages_recent(conversation=conversation)
            if _offered_a_teammate(recent):
                request = human_request_of(
                    body=body, escalation_settings=escalation_settings, offer_pending=True, company=company
                )
        refused = request is not None and not contact_passes_escalation_filter(
            contact=conversation.contact, escalation_settings=escalation_settings, now=now
        )
        if request is not None and not refused:
            handoff = _manual_hand_off(
                conversation=conversation,
                escalation_settings=escalation_settings,
                now=now,
                user_body=body,
                first=first,
                new_contact=new_contact,
                visitor_timezone=visitor_timezone,
            )
            assert handoff.user_message is not None
            result = PostResult(conversation=conversation, messages=[handoff.user_message]).handed_off(handoff)
            _capture_email(conversation=conversation, body=body, result=result)
            return result
        # Outside the escalation filter the AI says so instead (``refused``).
        message = message_post_user(conversation=conversation, body=body, now=now)
        result = PostResult(conversation=conversation, messages=[message])
        _capture_email(conversation=conversation, body=body, result=result)

    if not conversation.ai_may_answer:
        return result
    if refused:
        outcome = TurnResult(reply=NO_TEAMMATE_HERE_REPLY, confidence=None)
    else:
        outcome = responder_for(conversation.agent).respond(
            context=responder_context_get(conversation=conversation, user_message=message, recent=recent or [])
        )
    if outcome.reply is None:  # an external bot answers through the server API
        return result

    judged = _ai_turn(
        conversation=conversation,
        outcome=outcome,
        escalation_settings=escalation_settings,
        now=now,
        visitor_timezone=visitor_timezone,
    )
    result.turn = judged.turn
    if judged.turn.message is not None:
        result.messages.append(judged.turn.message)
    if judged.handoff is not None:
        result.handed_off(judged.handoff)
    return result


def _capture_email(*, conversation: Conversation, body: str, result: PostResult) -> None:
    """An address the visitor typed is kept as unverified; a new one gets a confirmation email and the chat
    says so (the replies are emailed once they confirm it)."""
    contact = conversation.contact
    claimed = contact.unverified_email
    contact_email_capture(contact=contact, text=body)
    if contact.unverified_email and contact.unverified_email != claimed and not contact.email:
        sent = email_confirmation_schedule(contact=contact, email=contact.unverified_email)
        notice = email_captured_notice(contact=contact, confirmation_sent=sent)
        result.messages.append(message_post(conversation=conversation, author=Message.Author.SYSTEM, body=notice))


def handoff_request(*, conversation: Conversation, visitor_timezone: str | None = None) -> Handoff:
    """The user asked for a human (the widget's button): escalate in every mode, bypassing signals and
    gates (reason ``manual``).

    Raises ``HandoffUnavailable`` when the contact does not match the escalation filter. Asking again while
    the conversation's ticket is not closed returns that ticket and records nothing new.
    """
    now = clock.now()
    escalation_settings = agent_escalation_settings(agent=conversation.agent)
    with transaction.atomic():
        if conversation.status == Conversation.Status.HANDED_OFF:
            ticket = ticket_open_of_conversation(conversation=conversation)
            if ticket is not None:
                return Handoff(ticket=ticket, created=False, event=None)
        return _manual_hand_off(
            conversation=conversation,
            escalation_settings=escalation_settings,
            now=now,
            visitor_timezone=visitor_timezone,
        )


def ai_turn_submit(
    *,
    conversation: Conversation,
    reply: str,
    confidence: int | None,
    tools: list[ToolCall],
    knowledge_sources: list[KnowledgeSource],
) -> JudgedTurn:
    """A turn posted by the workspace's own bot: judged by the same engine, stored, and its reply sent to
    the widget. Raises ``ConversationHandedOff`` while a human owns the conversation."""
    if not conversation.ai_may_answer:
        raise ConversationHandedOff("A human owns this conversation; the AI stays silent.")
    escalate = next((tool for tool in tools if tool.is_tool(ToolName.ESCALATE)), None)
    outcome = TurnResult(
        reply=reply or None,
        confidence=confidence,
        tools=tools,
        knowledge_sources=knowledge_sources,
        escalate_reason=str(escalate.arguments.get("reason") or "") if escalate is not None else "",
    )
    now = clock.now()
    escalation_settings = agent_escalation_settings(agent=conversation.agent)
    with transaction.atomic():
        judged = _ai_turn(conversation=conversation, outcome=outcome, escalation_settings=escalation_settings, now=now)
        conversation_touch(conversation=conversation, now=now)
        if judged.turn.message is not None:
            message_broadcast(judged.turn.message)
    return judged


# --- The steps ---------------------------------------------------------------------------------------


def _ai_turn(
    *,
    conversation: Conversation,
    outcome: TurnResult,
    escalation_settings: EscalationSettings | None,
    now: datetime,
    visitor_timezone: str | None = None,
) -> JudgedTurn:
    """Judge an AI turn, store it with its decision, and hand off if it escalates."""
    context = turn_context_new(
        conversation=conversation,
        outcome=outcome,
        escalation_settings=escalation_settings,
        now=now,
        shadow=agent_escalation_shadow(agent=conversation.agent),
    )
    decision = decide(context.snapshot, context.policy)
    shown = None
    if outcome.reply:
        # A teammate can be offered where the contact may be handed off: a gate held the handoff back (the
        # filter, a row above the gates, passed), or mode off did and the contact matches the filter.
        available = decision.suppressed_by in GATES or (
            decision.suppressed_by == SuppressedBy.MODE_OFF
            and contact_passes_escalation_filter(
                contact=conversation.contact, escalation_settings=escalation_settings, now=now
            )
        )
        shown = customer_reply(outcome.reply, decision, teammate_available=available, policy=context.policy)
    with transaction.atomic(savepoint=False):
        turn = turn_record(
            conversation=conversation,
            outcome=outcome,
            # The shadow's decision is recorded beside the live one and never acted on.
            decision=decision_record(
                decision, at=now, shadow=context.shadow.record() if context.shadow is not None else None
            ),
            shown=shown,
        )
        handoff = None
        if decision.escalate and decision.reason is not None:
            handoff = _hand_off(
                conversation=conversation,
                escalation_settings=escalation_settings,
                reason=decision.reason,
                confidence=outcome.confidence,
                turn=turn,
                knowledge_sources=context.knowledge_sources,
                tools_tried=context.tools_tried,
                now=now,
                visitor_timezone=visitor_timezone,
                held_back_turns=context.held_back_turns,
            )
    return JudgedTurn(turn=turn, decision=decision, handoff=handoff)


def _manual_hand_off(
    *,
    conversation: Conversation,
    escalation_settings: EscalationSettings | None,
    now: datetime,
    user_body: str | None = None,
    first: bool = False,
    new_contact: bool = False,
    visitor_timezone: str | None = None,
) -> Handoff:
    """Hand off because the user asked, with the AI's latest turn as the ticket's context (a new conversation
    has none). ``user_body``: the message that asked, stored with the handoff's notice."""
    if not contact_passes_escalation_filter(
        contact=conversation.contact, escalation_settings=escalation_settings, now=now
    ):
        raise HandoffUnavailable("Talking to a human is not available for this conversation.")
    latest = None if first else turn_latest(conversation=conversation)
    return _hand_off(
        conversation=conversation,
        escalation_settings=escalation_settings,
        reason=Reason.MANUAL,
        confidence=latest.confidence if latest is not None else None,
        turn=None,
        knowledge_sources=tuple(latest.sources) if latest is not None else (),
        tools_tried=tuple(ToolCall(name=tool.name, arguments=tool.arguments) for tool in latest.tool_calls)
        if latest is not None
        else (),
        now=now,
        user_body=user_body,
        new_contact=new_contact,
        held_back_turns=0 if first else None,
        visitor_timezone=visitor_timezone,
    )


def _hand_off(
    *,
    conversation: Conversation,
    escalation_settings: EscalationSettings | None,
    reason: Reason,
    confidence: int | None,
    turn: AgentTurn | None,
    knowledge_sources: tuple[KnowledgeSource, ...],
    tools_tried: tuple[ToolCall, ...],
    now: datetime,
    user_body: str | None = None,
    new_contact: bool = False,
    held_back_turns: int | None = None,
    visitor_timezone: str | None = None,
) -> Handoff:
    """Open or merge the contact's ticket and hand the conversation to the team, telling the customer when a
    reply can be expected (on the visitor's clock when the widget told it). ``held_back_turns``: the turns
    held back before, when the judged turn's history counted them (or a new conversation: none).

    A conversation not stored yet is inserted handed off with its messages (the user's, ``user_body``, and the
    notice: one INSERT) before its ticket links to it, so the ticket's search document is written once, at
    the link; nobody else can see that conversation yet, so no lock order is at stake. A stored one is handed
    off after its ticket is locked, the order every other write of a ticket and its conversations takes, and
    its messages (one INSERT) follow."""
    escalation_settings = escalation_settings or escalation_settings_ensure(agent=conversation.agent)
    contact = conversation.contact
    to_inbox = escalation_settings.routing_type == EscalationSettings.RoutingType.INBOX
    business_hours = business_hours_get(workspace=conversation.workspace)
    notice = handoff_notice(
        contact=contact,
        escalation_settings=escalation_settings,
        expected=expected_reply_get(
            workspace=conversation.workspace,
            escalation_settings=escalation_settings,
            now=now,
            visitor_timezone=visitor_timezone,
            business_hours=business_hours,
        ),
    )
    with transaction.atomic(savepoint=False):
        stored_first = conversation.pk is None
        inserted = (
            conversation_insert_handed_off(conversation=conversation, now=now, notice=notice, user_body=user_body)
            if stored_first
            else None
        )
        opened = ticket_open_or_merge(
            conversation=conversation,
            contact=contact,
            contact_is_new=new_contact,
            # A conversation that starts with its handoff: its whole transcript is these two messages.
            transcript=((Message.Author.USER, user_body), (Message.Author.SYSTEM, notice))
            if stored_first and user_body is not None
            else None,
            escalation=Escalation(
                agent_id=escalation_settings.agent_id,
                reason=reason.value,
                confidence=confidence,
                turn_id=turn.pk if turn is not None else None,
                mode=escalation_settings.mode,
                settings_version=escalation_settings.version,
                priority=contact_matches_rule(contact=contact, rule=escalation_settings.priority_filter, now=now),
                assignee_id=None if to_inbox else escalation_settings.default_assignee_id,
                inbox_id=escalation_settings.default_inbox_id if to_inbox else None,
                knowledge_sources=knowledge_sources,
                tools_tried=tools_tried,
                at=now,
                business_hours=business_hours,
                held_back_turns=held_back_turns,
            ),
        )
        user_message, message = conversation_hand_off(
            conversation=conversation,
            notice=notice,
            now=now,
            ticket_id=opened.ticket.pk,
            user_body=user_body,
            inserted=inserted,
        )
    return Handoff(
        ticket=opened.ticket, created=opened.created, event=opened.event, message=message, user_message=user_message
    )


# --- What the customer reads ------------------------------------------------------------------------

# None of these holds a default escalation phrase: the AI's own words are never what hands off.
OFFER = "Would you like me to bring in a teammate?"
NO_TEAMMATE_HERE = "A teammate isn't available from this chat."
ASK_AGAIN = "You could try asking in other words."
NO_TEAMMATE_HERE_REPLY = (
    "I'm sorry, a teammate isn't available from this chat, but I can help with anything our help center "
    "covers. What would you like to know?"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def customer_reply(reply: str, decision: Decision, *, teammate_available: bool, policy: Policy) -> str:
    """The AI's reply as the customer reads it, decided with the turn's decision.

    - It hands off: the reply as it is (the handoff's notice follows it and says so).
    - It wanted to but was held back (mode off, the filter, a gate): sentences that promise a teammate (they
      hold an escalation phrase) are dropped, then a teammate is offered where one is available ("Would you
      like me to connect you with a teammate?", a yes hands off), else the reply says what the AI can do.
    - Nothing to act on: the reply as it is.
    """
    if decision.escalate or decision.suppressed_by is None:
        return reply
    kept = [
        sentence
        for sentence in _SENTENCE_END.split(reply.strip())
        if sentence and not contains_phrase(sentence, policy.escalation_phrases)
    ]
    if teammate_available:
        ending = OFFER
    elif decision.reason == Reason.LOW_CONFIDENCE:
        ending = ASK_AGAIN
    else:
        ending = NO_TEAMMATE_HERE
    return " ".join([*kept, ending])


def _offered_a_teammate(recent: Sequence[Message]) -> bool:
    """Whether the AI's latest reply offered a teammate: its turn wanted to hand off and was held back."""
    for message in reversed(recent):
        if message.author == Message.Author.AI:
            turn = getattr(message, "turn", None)  # None for a reply without a turn
            return bool(turn is not None and turn.signals and turn.suppressed_by in OFFERING)
    return False
