"""What-if replay: an agent's stored turns judged again under other settings, unsaved.

``replay_load`` reads everything a replay needs in a fixed number of queries: the AI turns of the
agent's conversations started in the last ``days`` days, as plain tuples (``values_list``, streamed), in
conversation and id order. ``replay_decisions`` is the pure part: it walks them once, folding each
conversation's turns since its last hand-back into the engine's ``TurnSnapshot`` exactly as the live path
does (``escalation.selectors``), and asks the same pure engine (``escalation.engine.decide``). Segment
filters are evaluated once per contact by the segment evaluator (``segments``), never per turn.

A conversation's turns are judged in windows, as live: a window ends at the conversation's hand-back
(``Conversation.handed_back_at``) and after a turn that escalated (the AI speaks again only once the
ticket was closed and the conversation handed back). Under the replayed settings a window also ends at
the first turn that would escalate: a human would have owned the conversation from there, so its later
turns in that window are not judged (``None``). Replaying the live settings therefore reproduces the
stored decisions (a property test holds it to that).

Manual handoffs (the customer asked for a human: the widget's button, a request in words, a yes to the AI's
offer; ``EscalationEvent`` rows of reason ``manual`` without a turn) are read in the same fixed number of
queries and judged by the same engine as live (``TurnSnapshot(manual=True)``: only the escalation filter
applies; mode, signals and gates do not), the filter evaluated by the same segment evaluator. A yes to the
AI's offer (a message that is no request on its own, answering a turn that offered a teammate) counts only
where the replayed settings' decision for that turn offers one too, or hands off (then replaced, below).

Handoffs are counted per conversation: each window that escalates is one (a ticket opened or merged into),
and so is each manual handoff the settings allow; each window the draft's AI would hand off where the live AI
did not replaces one manual handoff of that conversation on the same side of its last hand-back, if it had
one (the customer would not have had to ask).

``replay_preview`` compares a draft with the live settings over the same turns and manual handoffs: the
conversations with a window the draft's AI would hand off and the live AI did not, or a manual handoff the
draft allows and the live settings refused (newly escalated), those with fewer handoffs under the draft (no
longer escalated), the difference in handoffs (tickets more or fewer), existing tickets whose contact the
draft's priority filter would make priority, and escalations by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField, Expression, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from agents.models import Agent, AgentTurn, Conversation, Message
from escalation.engine import (
    GATES,
    OFFERING,
    Decision,
    Policy,
    Reason,
    SuppressedBy,
    TurnSnapshot,
    decide,
    normalize_text,
)
from escalation.intent import human_request
from escalation.models import EscalationSettings
from escalation.selectors import policy_from_settings
from inbox.models import EscalationEvent, Ticket
from segments.selectors import contacts_matching

DEFAULT_DAYS = 30
MAX_DAYS = 365
_ESCALATE, _KNOWLEDGE, _WEB = "escalate", "knowledge_search", "web_search"


class StoredTurn(NamedTuple):
    """What a replay reads of one stored AI turn, as plain values (a row as the database returns it)."""

    turn_id: int
    conversation_id: int
    contact_id: int
    after_hand_back: bool  # stored after the conversation's last hand-back
    reply: str  # in ``engine.normalize_text`` form
    confidence: int | None
    escalate_tool: bool
    knowledge_searched: bool  # this turn called the knowledge search or has knowledge sources
    web_searched: bool
    escalated: bool  # as stored: what happened
    reason: str | None
    suppressed_by: str | None


class ManualHandoff(NamedTuple):
    """A stored handoff the customer asked for (no AI turn judged it).

    ``offered_by``: the stored turn of the AI's latest reply before the customer's message that asked, when
    that turn offered a teammate (held back by mode off or a gate); ``asked``: that message, in that case
    only. None for both otherwise (the widget's button stores no message)."""

    event_id: int
    conversation_id: int
    contact_id: int
    after_hand_back: bool  # made after the conversation's last hand-back (as ``StoredTurn.after_hand_back``)
    offered_by: int | None = None
    asked: str | None = None


@dataclass
class ReplayInput:
    agent: Agent
    since: datetime
    turns: list[StoredTurn] = field(default_factory=list)
    manual: list[ManualHandoff] = field(default_factory=list)

    @property
    def contact_ids(self) -> set[int]:
        return {turn.contact_id for turn in self.turns} | {handoff.contact_id for handoff in self.manual}


def _conversations(agent: Agent, since: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(workspace_id=agent.workspace_id, agent=agent, created_at__gte=since)


def _after_hand_back() -> Expression:
    """Whether a row (a turn, an escalation event) was made after its conversation's last hand-back."""
    return ExpressionWrapper(
        Q(conversation__handed_back_at__isnull=False) & Q(created_at__gt=F("conversation__handed_back_at")),
        output_field=BooleanField(),
    )


def _called(tool: str) -> Expression:
    """Whether the turn's stored tools include a call of ``tool``, computed by the database (the JSON is
    never sent to Python): ``@>`` on PostgreSQL, ``json_each`` on SQLite."""
    if connection.vendor == "postgresql":
        return ExpressionWrapper(Q(tools__contains=[{"name": tool}]), output_field=BooleanField())
    return RawSQL(
        "EXISTS (SELECT 1 FROM json_each(agents_agentturn.tools) AS called "
        "WHERE json_extract(called.value, '$.name') = %s)",
        [tool],
        output_field=BooleanField(),
    )


def replay_load(
    *, agent: Agent, now: datetime, days: int = DEFAULT_DAYS, conversation_ids: Sequence[int] | None = None
) -> ReplayInput:
    """The AI turns and the manual handoffs of ``agent``'s conversations started in the last ``days`` days (only
    ``conversation_ids`` among them, when given): two queries, built by the ORM and read as plain rows (tool
    calls and hand-backs reduced to booleans by the database).

    A manual handoff's message is the customer's message stored with it (same conversation, same time: the
    handoff stores the message and its notice at the handoff's time), and the turn it answered is the turn
    of the latest AI reply before that message, as the live path reads the offer (``escalation.flow``)."""
    since = now - timedelta(days=days)
    conversations = _conversations(agent, since)
    if conversation_ids is not None:
        conversations = conversations.filter(pk__in=conversation_ids)
    rows = (
        AgentTurn.objects.filter(conversation__in=conversations.values("pk"))
        .alias(replay_knowledge_tool=_called(_KNOWLEDGE))
        .annotate(
            replay_after_hand_back=_after_hand_back(),
            replay_escalate=_called(_ESCALATE),
            replay_knowledge=ExpressionWrapper(
                Q(replay_knowledge_tool=True) | ~Q(knowledge_sources=[]), output_field=BooleanField()
            ),
            replay_web=_called(_WEB),
        )
        .order_by("conversation_id", "id")
        .values_list(
            "id",
            "conversation_id",
            "conversation__contact_id",
            "replay_after_hand_back",
            "reply",
            "confidence",
            "replay_escalate",
            "replay_knowledge",
            "replay_web",
            "escalated",
            "reason",
            "suppressed_by",
        )
    )
    sql, params = rows.query.sql_with_params()
    turns: list[StoredTurn] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(5000):
            # The reply in the engine's normal form, once: each replay of it then skips that step.
            turns.extend(StoredTurn._make((*row[:4], normalize_text(row[4]), *row[5:])) for row in chunk)
    asked = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"), author=Message.Author.USER, created_at=OuterRef("created_at")
    ).order_by("-id")
    answered = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        author=Message.Author.AI,
        pk__lt=OuterRef("replay_asked"),
    ).order_by("-id")
    # The message and its turn are kept only where that turn offered a teammate: only then may other settings
    # change whether the message asked for a human.
    offering = {turn.turn_id for turn in turns if turn.suppressed_by in OFFERING}
    manual = [
        ManualHandoff(*row[:4], row[4], row[5]) if row[4] in offering else ManualHandoff(*row[:4])
        for row in EscalationEvent.objects.filter(
            conversation__in=conversations.values("pk"), reason=Reason.MANUAL.value, turn__isnull=True
        )
        .alias(replay_asked=Subquery(asked.values("pk")[:1]))
        .annotate(
            replay_after_hand_back=_after_hand_back(),
            replay_offered_by=Subquery(answered.values("turn__id")[:1]),
            replay_asked_body=Subquery(asked.values("body")[:1]),
        )
        .order_by("conversation_id", "id")
        .values_list(
            "id",
            "conversation_id",
            "conversation__contact_id",
            "replay_after_hand_back",
            "replay_offered_by",
            "replay_asked_body",
        )
    ]
    return ReplayInput(agent=agent, since=since, turns=turns, manual=manual)


def contacts_passing(
    *, agent: Agent, rule: str, contact_ids: Iterable[int], since: datetime, now: datetime
) -> frozenset[int] | None:
    """The contacts among the agent's recent conversations that match ``rule`` (one query, each contact
    evaluated once by the segment evaluator); None for a blank rule."""
    if not rule.strip():
        return None
    if not contact_ids:
        return frozenset()
    matching = contacts_matching(workspace=agent.workspace, rule=rule, now=now).filter(
        pk__in=_conversations(agent, since).values("contact_id")
    )
    return frozenset(matching.values_list("pk", flat=True))


def replay_decisions(
    turns: Sequence[StoredTurn],
    policy: Policy,
    *,
    passing: frozenset[int] | None,
    web_search_enabled: bool,
) -> list[Decision | None]:
    """Each stored turn judged under ``policy`` (None where a human would already own the conversation).

    ``passing``: the contacts inside the escalation filter (None: no filter, everyone passes). Pure: no
    query, no clock.
    """
    decisions: list[Decision | None] = []
    conversation = -1
    count = 0
    knowledge = web = handed_off = handed_back = False
    previous: StoredTurn | None = None
    for turn in turns:
        if turn.conversation_id != conversation:
            conversation = turn.conversation_id
            count = 0
            knowledge = web = handed_off = handed_back = False
        elif previous is not None and (previous.escalated or (turn.after_hand_back and not previous.after_hand_back)):
            # A turn after an escalated one comes after a closed ticket handed the conversation back (the
            # stored hand-back time is only the last one): a new window, and the hand-back rule applies.
            count = 0
            knowledge = web = handed_off = False
            handed_back = True
        previous = turn
        count += 1
        knowledge = knowledge or turn.knowledge_searched
        web = web or turn.web_searched
        if handed_off:
            decisions.append(None)
            continue
        decision = decide(
            TurnSnapshot(
                turn.reply,
                turn.confidence,
                turn.escalate_tool,
                passing is None or turn.contact_id in passing,
                knowledge,
                web,
                web_search_enabled,
                count,
                False,
                True,  # reply_normalized
                handed_back or turn.after_hand_back,  # as live: a hand-back came before this turn
            ),
            policy,
        )
        handed_off = decision.escalate
        decisions.append(decision)
    return decisions


def replay_manual(
    handoffs: Sequence[ManualHandoff],
    policy: Policy,
    *,
    passing: frozenset[int] | None,
    turns: Mapping[int, Decision | None],
    company: str = "",
) -> list[Decision | None]:
    """Each manual handoff judged under ``policy`` as the live path judges a request for a human; None where the
    customer would not have asked. Pure.

    A yes to the AI's offer of a teammate (``ManualHandoff.offered_by``, and its message is no request for a
    human on its own under the policy's handoff phrases) asks only because of that offer: it stands only where
    the policy's decision for the offering turn (``turns``: turn id -> its replayed decision) offers a teammate
    too. Where that decision hands off, or a human would already own the conversation (None), it stands: the
    preview replaces it by the AI's handoff. ``company`` is the workspace's name, read as the live path reads
    it."""
    decisions: list[Decision | None] = []
    for handoff in handoffs:
        passes = passing is None or handoff.contact_id in passing
        offer = turns.get(handoff.offered_by) if handoff.offered_by is not None else None
        if (
            offer is not None
            and handoff.asked is not None
            and human_request(handoff.asked, phrases=policy.handoff_phrases, company=company) is None
            and not (offer.escalate or _offers_a_teammate(offer, contact_passes_filter=passes))
        ):
            decisions.append(None)
        else:
            decisions.append(decide(TurnSnapshot(manual=True, contact_passes_filter=passes), policy))
    return decisions


def _offers_a_teammate(decision: Decision, *, contact_passes_filter: bool) -> bool:
    """Whether the turn's reply offers a teammate, as the live path decides it (``escalation.flow``): it wanted
    to hand off and a gate held it back, or mode off did and the contact may be handed off."""
    if decision.suppressed_by == SuppressedBy.MODE_OFF:
        return contact_passes_filter
    return decision.suppressed_by in GATES


@dataclass(frozen=True)
class Outcome:
    """What a set of settings does over the replayed turns and manual handoffs.

    ``escalated_windows``: (conversation, window, after the last hand-back) of each window whose AI hands off,
    windows numbered from 0 in each conversation as ``replay_decisions`` cuts them. ``manual_handoffs``:
    (conversation, event, after the last hand-back) of each manual handoff the settings allow."""

    escalated_conversations: frozenset[int]
    by_reason: dict[str, int]
    held_back_by: dict[str, int]
    turn_ids: list[int]
    decisions: list[Decision | None]
    escalated_windows: frozenset[tuple[int, int, bool]] = frozenset()
    manual_handoffs: frozenset[tuple[int, int, bool]] = frozenset()

    @property
    def turns(self) -> dict[int, Decision | None]:
        """Turn id -> its decision (None: a human would already own the conversation)."""
        return dict(zip(self.turn_ids, self.decisions, strict=True))


def replay_outcome(
    data: ReplayInput, escalation_settings: EscalationSettings | None, *, now: datetime, policy: Policy | None = None
) -> Outcome:
    """Replay ``data`` under ``escalation_settings`` (a draft or the live row): at most one query, the
    escalation filter's."""
    agent = data.agent
    rule = escalation_settings.escalation_filter if escalation_settings is not None else ""
    passing = contacts_passing(agent=agent, rule=rule, contact_ids=data.contact_ids, since=data.since, now=now)
    policy = policy or policy_from_settings(escalation_settings)
    decisions = replay_decisions(data.turns, policy, passing=passing, web_search_enabled=agent.web_search_enabled)
    # Only the turns a manual handoff answered are looked up.
    offering = {handoff.offered_by for handoff in data.manual} - {None}
    turns = {
        turn.turn_id: decision for turn, decision in zip(data.turns, decisions, strict=True) if turn.turn_id in offering
    }
    manual = replay_manual(data.manual, policy, passing=passing, turns=turns, company=agent.workspace.name)
    return _outcome(data.turns, decisions, data.manual, manual)


def _outcome(
    turns: Sequence[StoredTurn],
    decisions: list[Decision | None],
    manual: Sequence[ManualHandoff] = (),
    manual_decisions: Sequence[Decision | None] = (),
) -> Outcome:
    escalated: set[int] = set()
    windows: set[tuple[int, int, bool]] = set()
    # Keyed by the enums' values: a ``StrEnum`` member counts under its string.
    by_reason: Counter[str] = Counter({reason.value: 0 for reason in Reason})
    held: Counter[str] = Counter({rule.value: 0 for rule in SuppressedBy})
    window = 0
    previous: StoredTurn | None = None
    for turn, decision in zip(turns, decisions, strict=True):
        # Windows cut as ``replay_decisions`` cuts them.
        if previous is None or previous.conversation_id != turn.conversation_id:
            window = 0
        elif previous.escalated or (turn.after_hand_back and not previous.after_hand_back):
            window += 1
        previous = turn
        if decision is None or not decision.signals:
            continue
        if decision.escalate:
            escalated.add(turn.conversation_id)
            windows.add((turn.conversation_id, window, turn.after_hand_back))
            by_reason[decision.reason] += 1  # type: ignore[index]
        elif decision.suppressed_by is not None:
            held[decision.suppressed_by] += 1
    allowed: set[tuple[int, int, bool]] = set()
    for handoff, decision in zip(manual, manual_decisions, strict=True):
        if decision is not None and decision.escalate:
            escalated.add(handoff.conversation_id)
            allowed.add((handoff.conversation_id, handoff.event_id, handoff.after_hand_back))
            by_reason[Reason.MANUAL.value] += 1
    return Outcome(
        escalated_conversations=frozenset(escalated),
        by_reason=dict(by_reason),
        held_back_by=dict(held),
        turn_ids=[turn.turn_id for turn in turns],
        decisions=decisions,
        escalated_windows=frozenset(windows),
        manual_handoffs=frozenset(allowed),
    )


@dataclass(frozen=True)
class Preview:
    days: int
    turns_replayed: int
    newly_escalated: list[int]
    no_longer_escalated: list[int]
    newly_priority: list[int]
    by_reason: dict[str, int]
    by_reason_live: dict[str, int]
    held_back_by: dict[str, int]
    held_back_by_live: dict[str, int]
    # How many more handoffs, each a ticket opened or merged into (negative: fewer), the draft would have made.
    tickets_delta: int = 0
    manual_replayed: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "days": self.days,
            "turns_replayed": self.turns_replayed,
            "manual_replayed": self.manual_replayed,
            "newly_escalated": self.newly_escalated,
            "no_longer_escalated": self.no_longer_escalated,
            "newly_priority": self.newly_priority,
            "by_reason": self.by_reason,
            "by_reason_live": self.by_reason_live,
            "held_back_by": self.held_back_by,
            "held_back_by_live": self.held_back_by_live,
            "tickets_delta": self.tickets_delta,
        }


def newly_priority_tickets(
    *, agent: Agent, live: EscalationSettings | None, draft: EscalationSettings, since: datetime, now: datetime
) -> list[int]:
    """The agent's tickets opened since ``since`` and not already priority whose contact the draft's priority
    filter matches and the live one does not (one query)."""
    rule = draft.priority_filter.strip()
    live_rule = live.priority_filter.strip() if live is not None else ""
    if not rule or rule == live_rule:
        return []
    tickets = Ticket.objects.filter(workspace_id=agent.workspace_id, agent=agent, created_at__gte=since).exclude(
        status=Ticket.Status.PRIORITY
    )
    matching = contacts_matching(workspace=agent.workspace, rule=rule, now=now).values("pk")
    tickets = tickets.filter(contact_id__in=matching)
    if live_rule:
        tickets = tickets.exclude(contact_id__in=contacts_matching(workspace=agent.workspace, rule=live_rule, now=now))
    return sorted(tickets.values_list("pk", flat=True))


def replay_preview(
    *,
    agent: Agent,
    live: EscalationSettings | None,
    draft: EscalationSettings,
    now: datetime,
    days: int = DEFAULT_DAYS,
    data: ReplayInput | None = None,
) -> Preview:
    """The draft's effect over the agent's last ``days`` days, against the live settings."""
    data = data or replay_load(agent=agent, now=now, days=days)
    before = replay_outcome(data, live, now=now)
    after = before if _same_rule(live, draft) and _same_policy(live, draft) else replay_outcome(data, draft, now=now)
    # Each window the draft's AI hands off and the live AI did not replaces one manual handoff of the conversation
    # on the same side of its last hand-back, if it had one: the customer would not have had to ask. The
    # conversation is newly escalated by the AI, with as many handoffs as before.
    newly_windows = Counter((c, side) for c, _, side in after.escalated_windows - before.escalated_windows)
    manual_after = Counter((c, side) for c, _, side in after.manual_handoffs)
    handoffs_before = Counter(key[0] for key in (*before.escalated_windows, *before.manual_handoffs))
    handoffs_after = Counter(key[0] for key in after.escalated_windows)
    for (conversation, side), count in manual_after.items():
        handoffs_after[conversation] += max(0, count - newly_windows[(conversation, side)])
    newly = {c for c, _ in newly_windows} | {key[0] for key in after.manual_handoffs - before.manual_handoffs}
    no_longer = {c for c in handoffs_before.keys() | handoffs_after.keys() if handoffs_after[c] < handoffs_before[c]}
    return Preview(
        days=days,
        turns_replayed=len(data.turns),
        manual_replayed=len(data.manual),
        tickets_delta=handoffs_after.total() - handoffs_before.total(),
        newly_escalated=sorted(newly),
        no_longer_escalated=sorted(no_longer),
        newly_priority=newly_priority_tickets(agent=agent, live=live, draft=draft, since=data.since, now=now),
        by_reason=after.by_reason,
        by_reason_live=before.by_reason,
        held_back_by=after.held_back_by,
        held_back_by_live=before.held_back_by,
    )


def _same_rule(a: EscalationSettings | None, b: EscalationSettings) -> bool:
    live_rule: str = a.escalation_filter.strip() if a is not None else ""
    return live_rule == str(b.escalation_filter).strip()


def _same_policy(a: EscalationSettings | None, b: EscalationSettings) -> bool:
    return bool(policy_from_settings(a) == policy_from_settings(b))
