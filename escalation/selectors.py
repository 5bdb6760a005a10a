"""Reads of the escalation app: the engine's inputs, built with a fixed number of queries.

``turn_context_get`` loads one AI turn with its conversation, agent, contact and escalation settings, and
the earlier turns since the conversation was last handed back to the AI, then folds them into the plain
``TurnSnapshot`` / ``Policy`` the pure engine reads (the Saleor "fetch, then compute" split). Segment
filters are evaluated here, in memory, against the one contact (``segments``), so the engine never sees
a rule. Queries: 2 for the turn and its history, plus the segment evaluator's fixed cost per non-blank
filter.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from agents.models import Agent, AgentTurn, Conversation, Message
from escalation.engine import Decision, Mode, Policy, TurnSnapshot, contains_phrase, decide, detect_signals
from escalation.models import EscalationSettings, default_escalation_phrases, default_handoff_phrases
from halo.models import Contact
from inbox.models import Ticket
from segments.selectors import contact_matches

KNOWLEDGE_TOOL = "knowledge_search"
WEB_TOOL = "web_search"
ESCALATE_TOOL = "escalate"


@dataclass(frozen=True)
class TurnContext:
    """One turn with everything its judgement and handoff need, loaded once."""

    turn: AgentTurn
    conversation: Conversation
    contact: Contact
    agent: Agent
    settings: EscalationSettings | None  # None until the agent's settings are first created
    policy: Policy
    snapshot: TurnSnapshot
    knowledge_sources: list[dict[str, Any]]
    tools_tried: list[dict[str, Any]]


def policy_from_settings(settings: EscalationSettings | None) -> Policy:
    """The engine's view of the settings (the SPEC §2 defaults when an agent has none yet)."""
    if settings is None:
        return Policy.build(escalation_phrases=default_escalation_phrases(), handoff_phrases=default_handoff_phrases())
    return Policy.build(
        mode=Mode(settings.mode),
        confidence_threshold=settings.confidence_threshold,
        max_attempts=settings.max_attempts,
        require_knowledge_search=settings.require_knowledge_search,
        require_web_search=settings.require_web_search,
        escalation_phrases=settings.escalation_phrases,
        handoff_phrases=settings.handoff_phrases,
    )


def contact_matches_rule(*, contact: Contact, rule: str, now: datetime) -> bool:
    """Whether one contact matches a segment rule, evaluated in memory (a blank rule matches nobody)."""
    if not rule.strip():
        return False
    return bool(contact_matches(contact=contact, rule=rule, now=now))


def contact_passes_escalation_filter(*, contact: Contact, settings: EscalationSettings | None, now: datetime) -> bool:
    """True when the agent has no escalation filter (everyone may be handed off) or the contact matches it."""
    if settings is None or not settings.escalation_filter.strip():
        return True
    return contact_matches_rule(contact=contact, rule=settings.escalation_filter, now=now)


def _tool_names(tools: Any) -> list[str]:
    if not isinstance(tools, list):
        return []
    return [str(tool.get("name", "")) for tool in tools if isinstance(tool, dict)]


def agent_escalation_settings(*, agent: Agent) -> EscalationSettings | None:
    """The agent's settings as they are now (None until first created): the row the request's own read
    joined to the agent (``select_related("agent__escalation_settings")``, as the widget's does), else read
    here. Never cached on a long-lived agent instance: a settings change applies to its next turn."""
    if _loaded(agent, "escalation_settings"):
        return getattr(agent, "escalation_settings", None)  # None when the join found no row
    return EscalationSettings.objects.filter(agent_id=agent.pk).first()


def _loaded(instance: Any, *names: str) -> bool:
    return all(instance._meta.get_field(name).is_cached(instance) for name in names)


def _since_hand_back(conversation: Conversation) -> Q:
    """The conversation's AI turns since it was last handed back: a conversation a teammate handed back
    gets its gates afresh instead of looping straight into a new ticket."""
    window = Q(conversation_id=conversation.pk)
    if conversation.handed_back_at is not None:
        window &= Q(created_at__gt=conversation.handed_back_at)
    return window


def turn_context_get(*, turn_id: int, now: datetime) -> TurnContext:
    """Build the engine's inputs for one stored turn (a replay), with every earlier turn since the hand-back."""
    turn = AgentTurn.objects.select_related(
        "message",
        "conversation__agent__escalation_settings",
        "conversation__contact__company",
        "conversation__workspace",
    ).get(pk=turn_id)
    settings = getattr(turn.conversation.agent, "escalation_settings", None)  # read by the join above
    policy = policy_from_settings(settings)
    history = _turn_history(turn=turn, window=_since_hand_back(turn.conversation) & Q(pk__lte=turn.pk))
    return _turn_context(turn=turn, history=history, settings=settings, policy=policy, now=now)


def turn_context_for(*, turn: AgentTurn, now: datetime) -> TurnContext:
    """``turn_context_get`` for a turn in memory with its conversation, agent, contact and workspace loaded
    (the widget path has just built it; it may not be saved yet): no re-read of those rows. The earlier
    turns are read only when this one carries a signal: without one nothing happens whatever came before
    (the first row of the decision table), so the snapshot then counts this turn alone. Any other turn is
    read with ``turn_context_get``."""
    conversation = turn.conversation if _loaded(turn, "conversation") else None
    if (
        conversation is None
        or not _loaded(conversation, "agent", "contact", "workspace")
        or (turn.message_id is not None and not _loaded(turn, "message"))
    ):
        if turn.pk is None:
            raise ValueError("A turn not saved yet needs its message, conversation, agent, contact and workspace.")
        return turn_context_get(turn_id=turn.pk, now=now)
    settings = agent_escalation_settings(agent=conversation.agent)
    policy = policy_from_settings(settings)
    if detect_signals(_turn_snapshot(turn, contact_passes_filter=True), policy):
        window = _since_hand_back(conversation)
        if turn.pk is not None:
            window &= Q(pk__lte=turn.pk)
        history = _turn_history(turn=turn, window=window)
    else:
        history = [(turn.pk, turn.tools, turn.knowledge_sources)]
    return _turn_context(turn=turn, history=history, settings=settings, policy=policy, now=now)


TurnHistory = list[tuple[int | None, Any, Any]]  # (turn id, tools, knowledge sources), oldest first


def _turn_history(*, turn: AgentTurn, window: Q) -> TurnHistory:
    history: TurnHistory = list(
        AgentTurn.objects.filter(window).order_by("id").values_list("pk", "tools", "knowledge_sources")
    )
    if turn.pk is None or turn.pk not in {pk for pk, _, _ in history}:  # new, or recorded before the hand-back
        history.append((turn.pk, turn.tools, turn.knowledge_sources))
    return history


def _turn_snapshot(turn: AgentTurn, **values: Any) -> TurnSnapshot:
    return TurnSnapshot(
        reply=turn.message.body if turn.message is not None else "",
        confidence=turn.confidence,
        escalate_tool_called=ESCALATE_TOOL in _tool_names(turn.tools),
        **values,
    )


def _turn_context(
    *, turn: AgentTurn, history: TurnHistory, settings: EscalationSettings | None, policy: Policy, now: datetime
) -> TurnContext:
    conversation = turn.conversation
    agent = conversation.agent
    contact = conversation.contact
    knowledge_searched = web_searched = False
    knowledge_sources: list[dict[str, Any]] = []
    tools_tried: list[dict[str, Any]] = []
    for _, tools, sources in history:
        names = _tool_names(tools)
        knowledge_searched = knowledge_searched or KNOWLEDGE_TOOL in names or bool(sources)
        web_searched = web_searched or WEB_TOOL in names
        if isinstance(sources, list):
            knowledge_sources.extend(source for source in sources if isinstance(source, dict))
        for tool in tools if isinstance(tools, list) else []:
            if isinstance(tool, dict):
                tools_tried.append({"name": str(tool.get("name", "")), "arguments": tool.get("arguments") or {}})

    snapshot = _turn_snapshot(
        turn,
        contact_passes_filter=contact_passes_escalation_filter(contact=contact, settings=settings, now=now),
        knowledge_searched=knowledge_searched,
        web_searched=web_searched,
        web_search_enabled=agent.web_search_enabled,
        ai_turn_count=len(history),
    )
    return TurnContext(
        turn=turn,
        conversation=conversation,
        contact=contact,
        agent=agent,
        settings=settings,
        policy=policy,
        snapshot=snapshot,
        knowledge_sources=_dedupe_sources(knowledge_sources),
        tools_tried=tools_tried,
    )


def _dedupe_sources(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per article (by url, else title), keeping its best score."""
    best: dict[str, dict[str, Any]] = {}
    for source in sources:
        key = str(source.get("url") or source.get("title") or "")
        kept = best.get(key)
        if kept is None or _score(source) > _score(kept):
            best[key] = {"title": source.get("title"), "url": source.get("url"), "score": source.get("score")}
    return sorted(best.values(), key=_score, reverse=True)


def _score(source: dict[str, Any]) -> float:
    score = source.get("score")
    return float(score) if isinstance(score, int | float) else 0.0


def message_requests_handoff(*, message: Message, settings: EscalationSettings | None) -> bool:
    """Whether a user message contains one of the agent's handoff phrases."""
    policy = policy_from_settings(settings)
    return contains_phrase(message.body, policy.handoff_phrases)


def conversation_open_ticket(*, conversation: Conversation) -> Ticket | None:
    """The not-closed ticket this conversation is attached to, if any."""
    return Ticket.objects.filter(conversations=conversation).exclude(status=Ticket.Status.CLOSED).first()


def conversation_ai_may_answer(*, conversation: Conversation) -> bool:
    """The AI answers only an open conversation in which no teammate has spoken since the last hand-back
    (both times are kept on the conversation row: no query)."""
    if conversation.status != Conversation.Status.OPEN:
        return False
    spoke_at, handed_back_at = conversation.teammate_replied_at, conversation.handed_back_at
    return spoke_at is None or (handed_back_at is not None and spoke_at <= handed_back_at)


def escalation_settings_for_agent(*, agent: Agent) -> EscalationSettings | None:
    return EscalationSettings.objects.filter(agent=agent).select_related("default_assignee", "default_inbox").first()


def turn_decision_replay(*, turn_id: int, policy: Policy, now: datetime) -> Decision:
    """How a past turn would have been judged under other settings ("what if the threshold were 70?").

    The turn's reply, confidence, tools and conversation history are replayed as stored; the contact's
    escalation filter is evaluated against the contact as it is now.
    """
    return decide(turn_context_get(turn_id=turn_id, now=now).snapshot, policy)
