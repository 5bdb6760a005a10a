"""Reads of the escalation app: an agent's escalation settings, and the engine's inputs, built with a fixed number of
queries.

``turn_context_new`` judges an AI turn that is about to be stored (the responder's ``TurnResult``) and
``turn_context_stored`` one that is stored already (a replay); both fold the conversation's earlier turns
since it was last handed back to the AI into the plain ``TurnSnapshot`` / ``Policy`` the pure engine reads
(the Saleor "fetch, then compute" split). Segment filters are evaluated here, in memory, against the one
contact (``segments``), so the engine never sees a rule. Queries: at most one for the turn history, plus
the segment evaluator's fixed cost per non-blank filter.
"""

import copy
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from redis.exceptions import RedisError

from agents.models import Agent, AgentTurn, Conversation
from agents.responders import TurnResult
from agents.turns import KnowledgeSource, ToolCall, ToolName, sources_dedupe
from escalation.engine import Decision, Mode, Policy, TurnSnapshot, decide, detect_signals
from escalation.intent import HumanRequest, OfferReply, Rule, human_request, offer_reply, words_of
from escalation.models import (
    EscalationSettings,
    EscalationShadow,
    default_escalation_phrases,
    default_handoff_phrases,
)
from halo.api.throttling import cache_available, cache_failed
from halo.hours import Schedule, is_open, next_opening, opening_text, reply_time_text
from halo.models import Contact, Workspace
from halo.selectors import BusinessHoursSettings, business_hours_get
from inbox.selectors import first_reply_median_minutes
from segments.selectors import contact_matches


@dataclass(frozen=True)
class TurnContext:
    """One turn's judgement inputs, and the AI context a ticket records if it escalates."""

    policy: Policy
    snapshot: TurnSnapshot
    knowledge_sources: tuple[KnowledgeSource, ...]  # every source searched since the hand-back, best first
    tools_tried: tuple[ToolCall, ...]  # every tool called since the hand-back, without results
    held_back_turns: int = 0  # earlier turns since the hand-back that a rule held back (a ticket records it)
    # The same turn under the agent's shadow settings (judged, never acted on), when it has some.
    shadow: "ShadowJudgement | None" = None


@dataclass(frozen=True)
class ShadowJudgement:
    version: int
    policy: Policy
    snapshot: TurnSnapshot

    def record(self) -> dict[str, Any]:
        """What is stored beside the live decision on the turn (``AgentTurn.shadow``)."""
        return {"version": self.version, **decide(self.snapshot, self.policy).as_dict()}


def agent_escalation_settings(*, agent: Agent) -> EscalationSettings | None:
    """The agent's settings as they are now (None until first created): the row the request's own read
    joined to the agent (``select_related("agent__escalation_settings")``, as the widget's does), else read
    here. Never cached on a long-lived agent instance: a settings change applies to its next turn."""
    if agent._meta.get_field("escalation_settings").is_cached(agent):
        return getattr(agent, "escalation_settings", None)  # None when the join found no row
    return EscalationSettings.objects.filter(agent_id=agent.pk).first()


def agent_escalation_shadow(*, agent: Agent) -> EscalationShadow | None:
    """The agent's shadow settings (None without): joined by the request's own read when it was
    (``select_related("agent__escalation_shadow")``), else read here."""
    if agent._meta.get_field("escalation_shadow").is_cached(agent):
        return getattr(agent, "escalation_shadow", None)
    return EscalationShadow.objects.filter(agent_id=agent.pk).first()


def escalation_settings_unsaved_copy(escalation_settings: EscalationSettings) -> EscalationSettings:
    """A copy of the settings to change in memory (a draft): never saved, and changing one of its foreign keys
    leaves the original's cached rows alone."""
    draft = copy.copy(escalation_settings)
    draft._state = copy.copy(escalation_settings._state)
    draft._state.fields_cache = dict(escalation_settings._state.fields_cache)
    return draft


def policy_from_values(values: dict[str, Any]) -> Policy:
    """The engine's view of settings stored as plain values (a shadow, a version's ``values``)."""
    return Policy.build(
        mode=Mode(values.get("mode", Mode.CONDITIONAL)),
        confidence_threshold=int(values.get("confidence_threshold", 50)),
        max_attempts=int(values.get("max_attempts", 3)),
        require_knowledge_search=bool(values.get("require_knowledge_search", True)),
        require_web_search=bool(values.get("require_web_search", False)),
        escalation_phrases=values.get("escalation_phrases", default_escalation_phrases()),
        handoff_phrases=values.get("handoff_phrases", default_handoff_phrases()),
    )


def policy_from_settings(escalation_settings: EscalationSettings | None) -> Policy:
    """The engine's view of the settings (the defaults when an agent has none yet)."""
    if escalation_settings is None:
        return Policy.build(escalation_phrases=default_escalation_phrases(), handoff_phrases=default_handoff_phrases())
    return Policy.build(
        mode=Mode(escalation_settings.mode),
        confidence_threshold=escalation_settings.confidence_threshold,
        max_attempts=escalation_settings.max_attempts,
        require_knowledge_search=escalation_settings.require_knowledge_search,
        require_web_search=escalation_settings.require_web_search,
        escalation_phrases=escalation_settings.escalation_phrases,
        handoff_phrases=escalation_settings.handoff_phrases,
    )


def contact_matches_rule(*, contact: Contact, rule: str, now: datetime) -> bool:
    """Whether one contact matches a segment rule, evaluated in memory (a blank rule matches nobody)."""
    if not rule.strip():
        return False
    return bool(contact_matches(contact=contact, rule=rule, now=now))


def contact_passes_escalation_filter(
    *, contact: Contact, escalation_settings: EscalationSettings | None, now: datetime
) -> bool:
    """True when the agent has no escalation filter (everyone may be handed off) or the contact matches it."""
    if escalation_settings is None or not escalation_settings.escalation_filter.strip():
        return True
    return contact_matches_rule(contact=contact, rule=escalation_settings.escalation_filter, now=now)


def handoff_available(*, agent: Agent, contact: Contact | None, now: datetime) -> bool:
    """The widget config's ``human_handoff_available``: may this contact ask this agent for a human?

    A visitor the widget has not met yet (``contact`` None) is judged as a contact with no data.
    """
    escalation_settings = agent_escalation_settings(agent=agent)
    if contact is None:
        contact = Contact(workspace_id=agent.workspace_id)
    return contact_passes_escalation_filter(contact=contact, escalation_settings=escalation_settings, now=now)


def human_request_of(
    *, body: str, escalation_settings: EscalationSettings | None, offer_pending: bool, company: str
) -> HumanRequest | None:
    """Whether a user message asks for a human: in any words or with one of the agent's handoff phrases
    (``escalation.intent``), or by accepting the teammate the AI's latest reply offered (``offer_pending``).
    ``company`` is the workspace's name, which customers may ask for ("can someone from Acme call me?")."""
    policy = policy_from_settings(escalation_settings)
    request = human_request(body, phrases=policy.handoff_phrases, company=company)
    if request is None and offer_pending and offer_reply(body) == OfferReply.YES:
        return HumanRequest(Rule.OFFER_ACCEPTED, " ".join(words_of(body)))
    return request


# --- The engine's inputs ----------------------------------------------------------------------------


def _since_hand_back(conversation: Conversation) -> Q:
    """The conversation's AI turns since it was last handed back: a conversation a teammate handed back
    gets its gates afresh instead of looping straight into a new ticket."""
    window = Q(conversation_id=conversation.pk)
    if conversation.handed_back_at is not None:
        window &= Q(created_at__gt=conversation.handed_back_at)
    return window


@dataclass(frozen=True)
class _TurnRecord:
    """What the judgement reads of one turn."""

    reply: str
    confidence: int | None
    tools: list[ToolCall]
    sources: list[KnowledgeSource]
    held_back: bool = False


def _history(window: Q) -> list[_TurnRecord]:
    return [
        _TurnRecord(
            reply="",
            confidence=None,
            tools=ToolCall.list_from_json(tools),
            sources=KnowledgeSource.list_from_json(sources),
            held_back=suppressed_by is not None,
        )
        for tools, sources, suppressed_by in AgentTurn.objects.filter(window)
        .order_by("id")
        .values_list("tools", "knowledge_sources", "suppressed_by")
    ]


def turn_context_new(
    *,
    conversation: Conversation,
    outcome: TurnResult,
    escalation_settings: EscalationSettings | None,
    now: datetime,
    shadow: EscalationShadow | None = None,
) -> TurnContext:
    """The inputs for judging a new AI turn of ``conversation`` (agent, contact and workspace loaded), and,
    with ``shadow``, for judging it under the shadow settings too.

    The earlier turns are read only when this one carries a signal (under the live or the shadow settings):
    without one nothing happens whatever came before (the first row of the decision table), so the snapshot
    then counts this turn alone.
    """
    policy = policy_from_settings(escalation_settings)
    shadow_policy = policy_from_values(shadow.values) if shadow is not None else None
    turn = _TurnRecord(
        reply=outcome.reply or "",
        confidence=outcome.confidence,
        tools=list(outcome.tools),
        sources=list(outcome.knowledge_sources),
    )
    earlier: list[_TurnRecord] = []
    alone = _snapshot(turn, contact_passes_filter=True)
    if detect_signals(alone, policy) or (shadow_policy is not None and detect_signals(alone, shadow_policy)):
        earlier = _history(_since_hand_back(conversation))
    context = _context(
        turn=turn,
        history=[*earlier, turn],
        conversation=conversation,
        escalation_settings=escalation_settings,
        policy=policy,
        now=now,
        at=now,
    )
    if shadow is None or shadow_policy is None:
        return context
    rule = str(shadow.values.get("escalation_filter") or "")
    passes = not rule.strip() or contact_matches_rule(contact=conversation.contact, rule=rule, now=now)
    judgement = ShadowJudgement(
        version=shadow.version,
        policy=shadow_policy,
        snapshot=replace(context.snapshot, contact_passes_filter=passes),
    )
    return replace(context, shadow=judgement)


def turn_context_stored(*, turn_id: int, now: datetime, policy: Policy | None = None) -> TurnContext:
    """The inputs for judging a stored turn again (a replay), under ``policy`` (default: the agent's
    settings as they are now), with every earlier turn since the hand-back."""
    stored = AgentTurn.objects.select_related(
        "conversation__agent__escalation_settings",
        "conversation__contact__company",
        "conversation__workspace",
    ).get(pk=turn_id)
    conversation = stored.conversation
    escalation_settings = getattr(conversation.agent, "escalation_settings", None)  # read by the join above
    turn = _TurnRecord(
        reply=stored.reply,  # the AI's own words, as they were judged
        confidence=stored.confidence,
        tools=stored.tool_calls,
        sources=stored.sources,
    )
    earlier = _history(_since_hand_back(conversation) & Q(pk__lt=stored.pk))
    return _context(
        turn=turn,
        history=[*earlier, turn],
        conversation=conversation,
        escalation_settings=escalation_settings,
        policy=policy or policy_from_settings(escalation_settings),
        now=now,
        at=stored.created_at,
    )


def turn_decision_replay(*, turn_id: int, policy: Policy, now: datetime) -> Decision:
    """How a past turn would have been judged under other settings ("what if the threshold were 70?").

    The turn's reply, confidence, tools and conversation history are replayed as stored; the contact's
    escalation filter is evaluated against the contact as it is now.
    """
    context = turn_context_stored(turn_id=turn_id, now=now, policy=policy)
    return decide(context.snapshot, policy)


def _snapshot(turn: _TurnRecord, **values: object) -> TurnSnapshot:
    return TurnSnapshot(
        reply=turn.reply,
        confidence=turn.confidence,
        escalate_tool_called=any(tool.is_tool(ToolName.ESCALATE) for tool in turn.tools),
        **values,  # type: ignore[arg-type]
    )


def _context(
    *,
    turn: _TurnRecord,
    history: list[_TurnRecord],
    conversation: Conversation,
    escalation_settings: EscalationSettings | None,
    policy: Policy,
    now: datetime,
    at: datetime,
) -> TurnContext:
    """``now`` evaluates the escalation filter; ``at`` is when the turn was (is being) judged."""
    tools = [tool for record in history for tool in record.tools]
    sources = [source for record in history for source in record.sources]
    snapshot = _snapshot(
        turn,
        contact_passes_filter=contact_passes_escalation_filter(
            contact=conversation.contact, escalation_settings=escalation_settings, now=now
        ),
        knowledge_searched=any(tool.is_tool(ToolName.KNOWLEDGE_SEARCH) for tool in tools) or bool(sources),
        web_searched=any(tool.is_tool(ToolName.WEB_SEARCH) for tool in tools),
        web_search_enabled=conversation.agent.web_search_enabled,
        ai_turn_count=len(history),
        handed_back=conversation.handed_back_at is not None and conversation.handed_back_at < at,
    )
    return TurnContext(
        policy=policy,
        snapshot=snapshot,
        knowledge_sources=tuple(sources_dedupe(sources)),
        tools_tried=_without_results(tools),
        held_back_turns=sum(record.held_back for record in history),
    )


def _without_results(tools: Iterable[ToolCall]) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(name=tool.name, arguments=tool.arguments) for tool in tools)


# --- When the customer can expect a reply ------------------------------------------------------------

# The measured reply time is read at most this often per workspace (the widget's config asks on every page).
REPLY_TIME_CACHE_SECONDS = 300


@dataclass(frozen=True)
class ExpectedReply:
    """What the widget's header and the handoff message say about a reply: during business hours, the team's
    measured median first-reply time (``reply``, e.g. "in about 20 minutes"; the agent's
    ``expected_reply_time`` text until enough tickets were answered); outside them, when the team is back
    (``next_open_at``), on the visitor's clock."""

    open_now: bool
    text: str
    next_open_at: datetime | None
    reply: str  # "typically reply in about 20 minutes" / "usually reply within a few hours" / ""
    back: str  # "Monday at 09:00" / "" (open, or never opening)


def _median_cached(*, workspace: Workspace, schedule: Schedule, now: datetime) -> float | None:
    """The team's measured median, from the cache when it is there; a cache that fails is left alone (the
    median is measured again), never a failed widget request."""
    key = f"halo:first-reply-median:{workspace.pk}"
    if cache_available():
        try:
            cached = cache.get(key)
        except (RedisError, OSError):
            cache_failed("the team's reply time")
        else:
            if cached is not None:
                return cached[0]  # type: ignore[no-any-return]
    median = first_reply_median_minutes(workspace=workspace, schedule=schedule, now=now)
    if cache_available():
        try:
            cache.set(key, (median,), REPLY_TIME_CACHE_SECONDS)
        except (RedisError, OSError):
            cache_failed("the team's reply time")
    return median


def reader_timezone(value: object, *, workspace: Workspace) -> str:
    """The visitor's time zone if the widget sent a known one, else the workspace's."""
    return value if isinstance(value, str) and value in zoneinfo.available_timezones() else workspace.timezone


def expected_reply_get(
    *,
    workspace: Workspace,
    escalation_settings: EscalationSettings | None,
    now: datetime,
    visitor_timezone: str | None = None,
    business_hours: BusinessHoursSettings | None = None,
) -> ExpectedReply:
    """When a reply can be expected, in the visitor's terms (their time zone if known, else the workspace's).
    ``business_hours``: the workspace's, when the caller read them already."""
    business_hours = business_hours or business_hours_get(workspace=workspace)
    schedule = business_hours.schedule(around=now)
    if is_open(schedule, now):
        median = _median_cached(workspace=workspace, schedule=schedule, now=now)
        if median is not None:
            adverb, when = "typically", reply_time_text(median)
        else:
            adverb = "usually"
            when = (
                escalation_settings.expected_reply_time
                if escalation_settings is not None
                else EscalationSettings._meta.get_field("expected_reply_time").get_default()
            )
        return ExpectedReply(
            open_now=True,
            text=f"Our team {adverb} replies {when}",
            next_open_at=None,
            reply=f"{adverb} reply {when}",
            back="",
        )
    opening = next_opening(schedule, now)
    if opening is None:
        return ExpectedReply(open_now=False, text="Our team is away right now", next_open_at=None, reply="", back="")
    back = opening_text(opening, now=now, timezone=reader_timezone(visitor_timezone, workspace=workspace))
    return ExpectedReply(open_now=False, text=f"We're back {back}", next_open_at=opening, reply="", back=back)
