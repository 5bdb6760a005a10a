"""Reads of the escalation app: the engine's inputs, built with a fixed number of queries.

``turn_context_get`` loads one AI turn with its conversation, agent, contact and escalation settings, and
the earlier turns since the conversation was last handed back to the AI, then folds them into the plain
``TurnSnapshot`` / ``Policy`` the pure engine reads (the Saleor "fetch, then compute" split). Segment
filters are evaluated here, in memory, against the one contact (``segments``), so the engine never sees
a rule. Queries: 2 for the turn and its history, plus the segment evaluator's fixed cost per non-blank
filter.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import DateTimeField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from agents.models import Agent, AgentTurn, Conversation, Message
from escalation.engine import Decision, Mode, Policy, TurnSnapshot, contains_phrase, decide
from escalation.models import EscalationSettings, default_escalation_phrases, default_handoff_phrases
from halo.models import Contact
from inbox.models import Ticket
from segments.selectors import contact_matches

KNOWLEDGE_TOOL = "knowledge_search"
WEB_TOOL = "web_search"
ESCALATE_TOOL = "escalate"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _handed_back_at() -> Subquery:
    """When the conversation was last handed back to the AI: the newest close of one of its tickets."""
    return Subquery(
        Ticket.objects.filter(conversations=OuterRef("conversation_id"), closed_at__isnull=False)
        .order_by("-closed_at")
        .values("closed_at")[:1]
    )


def _tool_names(tools: Any) -> list[str]:
    if not isinstance(tools, list):
        return []
    return [str(tool.get("name", "")) for tool in tools if isinstance(tool, dict)]


def agent_escalation_settings(*, agent: Agent) -> EscalationSettings | None:
    """The agent's settings as they are now (None until first created); always read, never cached on the
    agent instance: a settings change must apply to the next turn of a long-lived instance too."""
    return EscalationSettings.objects.filter(agent_id=agent.pk).first()


def _loaded(instance: Any, *names: str) -> bool:
    return all(instance._meta.get_field(name).is_cached(instance) for name in names)


def turn_context_get(*, turn_id: int, now: datetime) -> TurnContext:
    """Build the engine's inputs for one turn. Counting starts after the last hand-back, so a conversation
    a teammate handed back gets its gates afresh instead of looping straight into a new ticket."""
    turn = (
        AgentTurn.objects.select_related(
            "message",
            "conversation__agent__escalation_settings",
            "conversation__contact__company",
            "conversation__workspace",
        )
        .annotate(handed_back_at=_handed_back_at())
        .get(pk=turn_id)
    )
    window = Q(conversation_id=turn.conversation_id, pk__lte=turn.pk)
    if turn.handed_back_at is not None:
        window &= Q(created_at__gt=turn.handed_back_at)
    settings = getattr(turn.conversation.agent, "escalation_settings", None)  # read by the join above
    return _turn_context(turn=turn, window=window, settings=settings, now=now)


def turn_context_for(*, turn: AgentTurn, now: datetime) -> TurnContext:
    """``turn_context_get`` for a turn already in memory with its conversation, agent, contact and
    workspace loaded (the widget path has just written it): no re-read of those rows, and the hand-back
    time is folded into the history query. Any other turn is read with ``turn_context_get``."""
    conversation = turn.conversation if _loaded(turn, "conversation") else None
    if conversation is None or not _loaded(conversation, "agent", "contact", "workspace"):
        return turn_context_get(turn_id=turn.pk, now=now)
    if turn.message_id is not None and not _loaded(turn, "message"):
        return turn_context_get(turn_id=turn.pk, now=now)
    window = Q(conversation_id=conversation.pk, pk__lte=turn.pk) & Q(
        created_at__gt=Coalesce(
            Subquery(_handed_back_at_of(conversation.pk)), Value(EPOCH, output_field=DateTimeField())
        )
    )
    settings = agent_escalation_settings(agent=conversation.agent)
    return _turn_context(turn=turn, window=window, settings=settings, now=now)


def _handed_back_at_of(conversation_id: int) -> Any:
    return (
        Ticket.objects.filter(conversations=conversation_id, closed_at__isnull=False)
        .order_by("-closed_at")
        .values("closed_at")[:1]
    )


def _turn_context(*, turn: AgentTurn, window: Q, settings: EscalationSettings | None, now: datetime) -> TurnContext:
    conversation = turn.conversation
    agent = conversation.agent
    contact = conversation.contact
    policy = policy_from_settings(settings)

    history = list(AgentTurn.objects.filter(window).order_by("id").values_list("pk", "tools", "knowledge_sources"))
    if turn.pk not in {pk for pk, _, _ in history}:  # a turn recorded "before" the hand-back is still this turn
        history.append((turn.pk, turn.tools, turn.knowledge_sources))

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

    reply = turn.message.body if turn.message is not None else ""
    snapshot = TurnSnapshot(
        reply=reply,
        confidence=turn.confidence,
        escalate_tool_called=ESCALATE_TOOL in _tool_names(turn.tools),
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
    """The AI answers only an open conversation in which no teammate has spoken since the last hand-back."""
    if conversation.status != Conversation.Status.OPEN:
        return False
    handed_back_at = (
        Ticket.objects.filter(conversations=conversation, closed_at__isnull=False)
        .order_by("-closed_at")
        .values("closed_at")[:1]
    )
    teammate_spoke = Message.objects.filter(
        conversation=conversation,
        author=Message.Author.TEAMMATE,
        created_at__gt=Coalesce(Subquery(handed_back_at), Value(EPOCH, output_field=DateTimeField())),
    )
    return not teammate_spoke.exists()


def escalation_settings_for_agent(*, agent: Agent) -> EscalationSettings | None:
    return EscalationSettings.objects.filter(agent=agent).select_related("default_assignee", "default_inbox").first()


def turn_decision_replay(*, turn_id: int, policy: Policy, now: datetime) -> Decision:
    """How a past turn would have been judged under other settings ("what if the threshold were 70?").

    The turn's reply, confidence, tools and conversation history are replayed as stored; the contact's
    escalation filter is evaluated against the contact as it is now.
    """
    return decide(turn_context_get(turn_id=turn_id, now=now).snapshot, policy)
