"""Writes of the escalation app: settings changes (versioned), judging AI turns, and the handoff.

``turn_judge(*, turn)`` is called by the agents runtime (``agents.services``) for every AI turn, and by
``ai_turn_submit`` for an external bot's turn: it builds the snapshot with a selector, calls the pure
``decide``, stores the turn with its signals and outcome, and on escalation hands off.
``handoff_request`` is the manual path (the widget button, a user message with a handoff phrase): it
bypasses signals and gates, and only the escalation filter can refuse it (``HandoffUnavailable``).

The handoff (``_ticket_escalate``) runs in one transaction: it creates the contact's ticket or merges
into the one that is not closed — the partial unique constraint ``ticket_one_open_per_contact`` is the
arbiter under concurrency: a losing insert raises ``IntegrityError`` inside a savepoint and merges into
the winner's ticket, locked with ``SELECT … FOR UPDATE`` — records the ``EscalationEvent``, attaches the
conversation, marks it handed off, posts the customer's handoff message and writes the after-commit work
to the outbox (the AI summary). Notification delivery (live inbox event, Slack, email) belongs to the
inbox app; it adds its outbox rows in ``_after_commit_work``, the one place for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent, AgentTurn, Conversation, Message
from escalation.engine import Decision, Reason, decide
from escalation.models import EscalationEvent, EscalationSettings, EscalationSettingsVersion
from escalation.selectors import (
    TurnContext,
    agent_escalation_settings,
    contact_matches_rule,
    contact_passes_escalation_filter,
    conversation_ai_may_answer,
    conversation_open_ticket,
    message_requests_handoff,
    turn_context_for,
)
from halo.models import Contact
from halo.outbox import outbox_enqueue
from inbox.models import Ticket
from inbox.services import conversation_message_publish, ticket_escalated_publish

SUMMARY_TASK = "escalation.tasks.ticket_summarize"

# The settings a workspace edits (admin form and API), in SPEC §2 order.
SETTINGS_FIELDS = (
    "mode",
    "confidence_threshold",
    "max_attempts",
    "require_knowledge_search",
    "require_web_search",
    "escalation_filter",
    "priority_filter",
    "default_assignee",
    "routing_type",
    "default_inbox",
    "escalation_phrases",
    "handoff_phrases",
    "expected_reply_time",
)
# The foreign-key settings, stored and compared by id.
SETTINGS_FOREIGN_KEYS = {"default_assignee": "default_assignee_id", "default_inbox": "default_inbox_id"}


class HandoffUnavailable(Exception):
    """The contact does not match the agent's escalation filter: no human handoff for them."""


@dataclass(frozen=True)
class Handoff:
    """The result of one escalation: the ticket, whether it was created, the event recorded, and the system
    message that told the customer (None when the conversation was already handed off)."""

    ticket: Ticket
    created: bool
    event: EscalationEvent | None
    message: Message | None = None


@dataclass(frozen=True)
class TurnJudgement:
    decision: Decision
    handoff: Handoff | None


# --- Settings ----------------------------------------------------------------------------------------


def _settings_values(settings: EscalationSettings) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in SETTINGS_FIELDS:
        values[name] = getattr(settings, SETTINGS_FOREIGN_KEYS.get(name, name))
    return values


def escalation_settings_ensure(*, agent: Agent) -> EscalationSettings:
    """The agent's settings, created with the SPEC §2 defaults (version 1) the first time they are needed."""
    existing = agent_escalation_settings(agent=agent)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            # By id: nothing is cached on the agent instance (see ``agent_escalation_settings``).
            settings = EscalationSettings.objects.create(agent_id=agent.pk)
            EscalationSettingsVersion.objects.create(
                escalation_settings=settings,
                version=1,
                changed_via="system",
                changes={name: [None, value] for name, value in _settings_values(settings).items()},
                values=_settings_values(settings),
            )
    except IntegrityError:  # created concurrently (the one-to-one is unique): use that one
        return EscalationSettings.objects.get(agent=agent)
    return settings


def escalation_settings_update(
    *, settings: EscalationSettings, data: dict[str, Any], changed_by: Any = None, via: str = "api"
) -> EscalationSettings:
    """Apply a change to an agent's settings, validated as everywhere (``full_clean``), as a new version.

    ``data`` maps setting names to values (model instances or ids for the assignee and the inbox).
    Nothing is written, and no version is made, when the values do not change. The caller's ``settings``
    instance shows the change afterwards (as does the agent it is cached on).
    """
    unknown = set(data) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown setting." for name in sorted(unknown)})
    with transaction.atomic():
        locked = EscalationSettings.objects.select_for_update().select_related("agent").get(pk=settings.pk)
        before = _settings_values(locked)
        for name, value in data.items():
            if name in SETTINGS_FOREIGN_KEYS and not (value is None or hasattr(value, "pk")):
                setattr(locked, SETTINGS_FOREIGN_KEYS[name], value)
            else:
                setattr(locked, name, value)
        locked.full_clean(exclude=["agent"])
        after = _settings_values(locked)
        changes = {name: [before[name], after[name]] for name in SETTINGS_FIELDS if before[name] != after[name]}
        if not changes:
            return locked
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        EscalationSettingsVersion.objects.create(
            escalation_settings=locked,
            version=locked.version,
            changed_by=changed_by if getattr(changed_by, "pk", None) else None,
            changed_via=via,
            changed_at=locked.updated_at,
            changes=changes,
            values=after,
        )
    for field in EscalationSettings._meta.concrete_fields:
        setattr(settings, field.attname, getattr(locked, field.attname))
    return locked


# --- Judging AI turns --------------------------------------------------------------------------------


# The fields of a turn that hold its decision (written by ``turn_judge``).
DECISION_FIELDS = ("signals", "escalated", "reason", "suppressed_by", "decided_at")


def turn_judge(*, turn: AgentTurn) -> TurnJudgement:
    """Judge one AI turn (SPEC §3), store it with its signals and outcome, and hand off if it escalates.

    A new turn (the agents runtime builds it unsaved) is inserted with its decision in one statement; a
    stored one (an external bot's, a replay) gets its decision in one UPDATE.
    """
    now = timezone.now()
    context = turn_context_for(turn=turn, now=now)
    decision = decide(context.snapshot, context.policy)
    turn.signals = [signal.value for signal in decision.signals]
    turn.escalated = decision.escalate
    turn.reason = decision.reason.value if decision.reason is not None else None
    turn.suppressed_by = decision.suppressed_by.value if decision.suppressed_by is not None else None
    turn.decided_at = now
    handoff = None
    if decision.escalate and decision.reason is not None:
        # savepoint=False: inside the widget's transaction an error rolls everything back anyway; no
        # SAVEPOINT/RELEASE round trips (the ticket insert keeps its own savepoint, see _handoff).
        with transaction.atomic(savepoint=False):
            _turn_save(turn)
            handoff = _ticket_escalate(context=context, reason=decision.reason, now=now)
    else:  # one statement: no transaction of its own needed
        _turn_save(turn)
    return TurnJudgement(decision=decision, handoff=handoff)


def _turn_save(turn: AgentTurn) -> None:
    turn.save(update_fields=None if turn._state.adding else DECISION_FIELDS)


def _ticket_escalate(*, context: TurnContext, reason: Reason, now: datetime) -> Handoff:
    settings = context.settings or escalation_settings_ensure(agent=context.agent)
    return _handoff(
        conversation=context.conversation,
        contact=context.contact,
        settings=settings,
        reason=reason,
        confidence=context.turn.confidence,
        turn=context.turn,
        knowledge_sources=context.knowledge_sources,
        tools_tried=context.tools_tried,
        now=now,
    )


# --- Manual handoff ----------------------------------------------------------------------------------


def handoff_available(*, agent: Agent, contact: Contact | None, now: datetime | None = None) -> bool:
    """The widget config's ``human_handoff_available``: may this contact ask this agent for a human?

    A visitor the widget has not met yet (``contact`` None) is judged as a contact with no data.
    """
    settings = agent_escalation_settings(agent=agent)
    if contact is None:
        contact = Contact(workspace_id=agent.workspace_id)
    return contact_passes_escalation_filter(contact=contact, settings=settings, now=now or timezone.now())


def handoff_request(*, conversation: Conversation) -> Handoff:
    """The user asked for a human: escalate in every mode, bypassing signals and gates (reason ``manual``).

    Raises ``HandoffUnavailable`` when the contact does not match the escalation filter. Asking again while
    the conversation's ticket is not closed returns that ticket and records nothing new.
    """
    now = timezone.now()
    settings = escalation_settings_ensure(agent=conversation.agent)
    if not contact_passes_escalation_filter(contact=conversation.contact, settings=settings, now=now):
        raise HandoffUnavailable("Talking to a human is not available for this conversation.")
    if conversation.status == Conversation.Status.HANDED_OFF:
        ticket = conversation_open_ticket(conversation=conversation)
        if ticket is not None:
            return Handoff(ticket=ticket, created=False, event=None)
    last_turn = AgentTurn.objects.filter(conversation=conversation).order_by("-id").first()
    return _handoff(
        conversation=conversation,
        contact=conversation.contact,
        settings=settings,
        reason=Reason.MANUAL,
        confidence=last_turn.confidence if last_turn is not None else None,
        turn=None,
        knowledge_sources=last_turn.knowledge_sources if last_turn is not None else [],
        tools_tried=[
            {"name": str(tool.get("name", "")), "arguments": tool.get("arguments") or {}}
            for tool in (last_turn.tools if last_turn is not None else [])
            if isinstance(tool, dict)
        ],
        now=now,
    )


# --- What the agents runtime calls for every widget message -------------------------------------------


def user_message_handoff(*, message: Message) -> Handoff | None:
    """Who takes a new user message: returns the handoff (its ticket, and its system message when the
    message itself handed off) when a human owns the conversation, else None.

    A conversation already handed off keeps its ticket (the message goes to that ticket's open inbox
    pages live); a message with one of the agent's handoff phrases hands off at once (the AI does not
    answer it), unless the contact is outside the escalation filter (then the AI answers as usual).
    """
    conversation = message.conversation
    if conversation.status == Conversation.Status.HANDED_OFF:
        ticket = conversation_open_ticket(conversation=conversation)
        if ticket is None:
            return None
        conversation_message_publish(message=message, ticket=ticket)
        return Handoff(ticket=ticket, created=False, event=None)
    settings = agent_escalation_settings(agent=conversation.agent)
    if not message_requests_handoff(message=message, settings=settings):
        return None
    try:
        return handoff_request(conversation=conversation)
    except HandoffUnavailable:
        return None


def conversation_ticket(*, conversation: Conversation) -> dict[str, Any] | None:
    """The widget's ``ticket``: the conversation's ticket while it is not closed, else None."""
    ticket = conversation_open_ticket(conversation=conversation)
    return ticket_widget_payload(ticket=ticket) if ticket is not None else None


def ticket_widget_payload(*, ticket: Ticket) -> dict[str, Any]:
    """The widget's ``ticket`` JSON of a ticket known to be not closed (e.g. the one a handoff returned)."""
    return {"id": ticket.pk, "status": ticket.status, "created_at": ticket.created_at}


# --- External bots -----------------------------------------------------------------------------------


class ConversationHandedOff(Exception):
    """A human owns the conversation: the AI (an external bot included) stays silent."""


def ai_turn_submit(
    *,
    conversation: Conversation,
    reply: str,
    confidence: int | None,
    tools: list[dict[str, Any]],
    knowledge_sources: list[dict[str, Any]] | None = None,
) -> tuple[AgentTurn, TurnJudgement]:
    """Record a turn posted by the workspace's own bot and judge it with the same engine."""
    from agents.responders import ToolCall, TurnResult
    from agents.services import agent_turn_build

    if not conversation_ai_may_answer(conversation=conversation):
        raise ConversationHandedOff("A human owns this conversation; the AI stays silent.")
    escalate_reason = ""
    calls = []
    for tool in tools:
        arguments = {key: value for key, value in tool.items() if key != "name"}
        calls.append(ToolCall(name=str(tool["name"]), arguments=arguments, result=None))
        if tool["name"] == "escalate":
            escalate_reason = str(arguments.get("reason") or "")
    outcome = TurnResult(
        reply=reply or None,
        confidence=confidence,
        tools=calls,
        knowledge_sources=list(knowledge_sources or []),
        escalate_reason=escalate_reason,
    )
    with transaction.atomic():
        turn = agent_turn_build(conversation=conversation, outcome=outcome)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
        judgement = turn_judge(turn=turn)
    if turn.message is not None:
        from agents.events import message_broadcast

        message_broadcast(turn.message)
    return turn, judgement


# --- The handoff -------------------------------------------------------------------------------------


def handoff_message_text(*, contact: Contact, settings: EscalationSettings) -> str:
    text = (
        "Thanks for your patience. I've passed this conversation to our team; "
        f"they usually reply {settings.expected_reply_time}."
    )
    if contact.is_anonymous and not contact.email:
        text += " Please leave your email address here so we can get back to you even if you close this page."
    return text


def _merge_sources(existing: list[Any], new: list[dict[str, Any]]) -> list[Any]:
    seen = {str(s.get("url") or s.get("title")) for s in existing if isinstance(s, dict)}
    merged = list(existing)
    for source in new:
        key = str(source.get("url") or source.get("title"))
        if key not in seen:
            seen.add(key)
            merged.append(source)
    return merged


def _handoff(
    *,
    conversation: Conversation,
    contact: Contact,
    settings: EscalationSettings,
    reason: Reason,
    confidence: int | None,
    turn: AgentTurn | None,
    knowledge_sources: list[dict[str, Any]],
    tools_tried: list[dict[str, Any]],
    now: datetime,
) -> Handoff:
    """Create the contact's ticket or merge into its open one, in one transaction, race-free."""
    priority = contact_matches_rule(contact=contact, rule=settings.priority_filter, now=now)
    with transaction.atomic(savepoint=False):  # an error rolls back the caller's transaction anyway
        ticket = Ticket.objects.select_for_update().filter(contact=contact).exclude(status=Ticket.Status.CLOSED).first()
        created = False
        if ticket is None:
            routed_to_inbox = settings.routing_type == EscalationSettings.RoutingType.INBOX
            try:
                with transaction.atomic():  # a savepoint: losing the race must not poison the transaction
                    ticket = Ticket.objects.create(
                        workspace_id=conversation.workspace_id,
                        contact=contact,
                        agent_id=settings.agent_id,
                        status=Ticket.Status.PRIORITY if priority else Ticket.Status.OPEN,
                        assignee_id=None if routed_to_inbox else settings.default_assignee_id,
                        inbox_id=settings.default_inbox_id if routed_to_inbox else None,
                        reason=reason.value,
                        confidence=confidence,
                        knowledge_sources=knowledge_sources,
                        tools_tried=tools_tried,
                        settings_version=settings.version,
                        created_at=now,
                        updated_at=now,
                    )
                created = True
            except IntegrityError:  # another request created the contact's open ticket first: merge into it
                ticket = Ticket.objects.select_for_update().exclude(status=Ticket.Status.CLOSED).get(contact=contact)
        if not created:
            ticket.escalation_count += 1
            if priority and ticket.status == Ticket.Status.OPEN:
                ticket.status = Ticket.Status.PRIORITY  # raised, never lowered
            ticket.knowledge_sources = _merge_sources(ticket.knowledge_sources, knowledge_sources)
            ticket.tools_tried = [*ticket.tools_tried, *tools_tried][-100:]
            ticket.summary_state = Ticket.SummaryState.PENDING
            ticket.updated_at = now
            ticket.save(
                update_fields=[
                    "escalation_count",
                    "status",
                    "knowledge_sources",
                    "tools_tried",
                    "summary_state",
                    "updated_at",
                ]
            )
        ticket.conversations.add(conversation)
        event = EscalationEvent.objects.create(
            workspace_id=conversation.workspace_id,
            ticket=ticket,
            conversation=conversation,
            turn=turn,
            reason=reason.value,
            confidence=confidence,
            mode=settings.mode,
            priority_matched=priority,
            outcome=EscalationEvent.Outcome.CREATED if created else EscalationEvent.Outcome.MERGED,
            settings_version=settings.version,
            created_at=now,
        )
        message = None
        if conversation.status == Conversation.Status.HANDED_OFF:
            Conversation.objects.filter(pk=conversation.pk).update(
                status=Conversation.Status.HANDED_OFF, updated_at=now
            )
        else:
            from agents.services import conversation_post_message

            # The customer's handoff message; the same UPDATE marks the conversation handed off.
            message = conversation_post_message(
                conversation=conversation,
                author=Message.Author.SYSTEM,
                body=handoff_message_text(contact=contact, settings=settings),
                status=Conversation.Status.HANDED_OFF,
            )
        conversation.status = Conversation.Status.HANDED_OFF
        _after_commit_work(conversation=conversation, ticket=ticket, created=created, event=event)
    return Handoff(ticket=ticket, created=created, event=event, message=message)


def _after_commit_work(*, conversation: Conversation, ticket: Ticket, created: bool, event: EscalationEvent) -> None:
    """Outbox rows for what happens after the handoff commits (delivered by Celery, never lost)."""
    outbox_enqueue(workspace=conversation.workspace, task=SUMMARY_TASK, payload={"ticket_id": ticket.pk})
    # The inbox's live event (created / merged) and its notifications (Slack, the assignee's email).
    ticket_escalated_publish(ticket=ticket, created=created, conversation=conversation)
