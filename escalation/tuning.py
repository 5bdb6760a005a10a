"""Reads for tuning an agent's escalation: how its shadow settings compare with the live ones, and suggested
settings backed by what teammates and customers did.

``shadow_summary``: the turns judged under the current shadow version (``AgentTurn.shadow``, written with
each live turn), the share on which the shadow agreed with the live decision (escalate or not), the
conversations it would have handed off that were not, and the tickets opened by turns it would not have
escalated. Two queries.

``suggestions``: a confidence threshold and a maximum of attempts, each the candidate value whose replay
(``escalation.replay``, same engine, same turns) best fits the evidence of the last ``days`` days:

- escalations a teammate judged "AI could have answered" (the ticket's verdict) should not happen;
- escalations judged "right to escalate" should still happen;
- conversations in which a turn was held back and the customer then asked for a human (a manual handoff
  later in the same conversation) should have been handed off by the AI;
- tickets the AI opened that a teammate closed and then re-opened (``Ticket.reopened_count``; a verdict on
  the ticket says more and counts instead): the customer still needed a human after the teammate's answer.
  When the AI held back turns in that conversation after the close handed it back (the customer came back
  and the AI kept them waiting until a teammate re-opened the ticket), the AI should have handed off one of
  those turns (``held_back_then_reopened``); otherwise the escalation was needed and should still happen
  (``reopened``: never a reason to change a value on its own, it stops a change that would avoid the ticket).

A candidate scores one point per piece of evidence it satisfies that the live settings do not, minus one
per piece the live settings satisfy and it does not; the best positive score is suggested, with its
effect over every replayed conversation (tickets more or fewer, conversations affected), the evidence for it
and the evidence against it. Nothing is applied: applying is the normal versioned save, by an admin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db.models import Exists, OuterRef, Q

from agents.models import Agent, AgentTurn
from escalation.engine import Decision, Policy
from escalation.gaps import AI_COULD_HAVE_ANSWERED
from escalation.models import EscalationSettings, EscalationShadow
from escalation.replay import (
    DEFAULT_DAYS,
    ReplayInput,
    StoredTurn,
    contacts_passing,
    replay_decisions,
    replay_load,
    replay_preview,
)
from escalation.selectors import agent_escalation_shadow, escalation_settings_unsaved_copy, policy_from_settings
from escalation.services import settings_values
from inbox.models import EscalationEvent

THRESHOLDS = tuple(range(0, 101, 5))
ATTEMPTS = tuple(range(1, 11))


@dataclass(frozen=True)
class ShadowSummary:
    shadow: EscalationShadow
    turns: int
    agreement_rate: float | None
    would_open: list[int]
    would_avoid: list[int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.shadow.values,
            "version": self.shadow.version,
            "since": self.shadow.since,
            "turns": self.turns,
            "agreement_rate": self.agreement_rate,
            "would_open": self.would_open,
            "would_avoid": self.would_avoid,
        }


def shadow_summary(*, shadow: EscalationShadow) -> ShadowSummary:
    """How the shadow compares with the live decisions since it was saved (two queries)."""
    rows = list(
        AgentTurn.objects.filter(
            conversation__agent_id=shadow.agent_id, created_at__gte=shadow.since, shadow__version=shadow.version
        )
        .order_by("id")
        .values_list("id", "conversation_id", "escalated", "shadow")
    )
    agree = 0
    live_escalated: set[int] = set()
    shadow_only: set[int] = set()
    avoided_turns: list[int] = []
    for turn_id, conversation_id, escalated, judged in rows:
        shadow_escalated = bool(isinstance(judged, dict) and judged.get("escalated"))
        agree += shadow_escalated == escalated
        if escalated:
            live_escalated.add(conversation_id)
            if not shadow_escalated:
                avoided_turns.append(turn_id)
        elif shadow_escalated:
            shadow_only.add(conversation_id)
    would_avoid = (
        sorted(set(EscalationEvent.objects.filter(turn_id__in=avoided_turns).values_list("ticket_id", flat=True)))
        if avoided_turns
        else []
    )
    return ShadowSummary(
        shadow=shadow,
        turns=len(rows),
        agreement_rate=round(agree / len(rows), 3) if rows else None,
        would_open=sorted(shadow_only - live_escalated),
        would_avoid=would_avoid,
    )


@dataclass(frozen=True)
class Suggestion:
    field: str
    value: int
    current: int
    tickets_delta: int
    conversations: list[int]
    evidence: list[int]  # ticket ids (verdicts, reopens) and conversation ids (held back, then asked for a human)
    evidence_detail: list[dict[str, Any]]
    # The evidence the live settings satisfy and the suggested value does not (what the score subtracted).
    evidence_against: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "current": self.current,
            "effect": {"tickets_delta": self.tickets_delta, "conversations": self.conversations},
            "evidence": self.evidence,
            "evidence_detail": self.evidence_detail,
            "evidence_against": self.evidence_against,
        }


class EvidenceKind(StrEnum):
    AI_COULD_HAVE_ANSWERED = "ai_could_have_answered"
    RIGHT_TO_ESCALATE = "right_to_escalate"
    ASKED_FOR_HUMAN = "asked_for_human"
    REOPENED = "reopened"
    HELD_BACK_THEN_REOPENED = "held_back_then_reopened"


@dataclass(frozen=True)
class _Evidence:
    kind: EvidenceKind
    id: int  # the ticket's id, or the conversation's (``asked_for_human``)
    conversation_id: int
    should_escalate: bool
    # Judged on the conversation's turns after its last hand-back only (the AI had it back after a close).
    after_hand_back: bool = False

    def detail(self) -> dict[str, Any]:
        kind_type = "conversation" if self.kind == EvidenceKind.ASKED_FOR_HUMAN else "ticket"
        return {"kind": self.kind.value, "id": self.id, "type": kind_type}


def _evidence(*, agent: Agent, since: datetime) -> list[_Evidence]:
    """Verdicts on the tickets the agent's AI turns opened in conversations started since ``since``, the
    re-opened ones among those tickets, and the conversations in which a turn was held back and the customer
    then asked for a human: two queries, without reading the turns (no evidence, no replay)."""
    window = Q(conversation__agent=agent, conversation__created_at__gte=since)
    found: list[_Evidence] = []
    held_after_hand_back = AgentTurn.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        suppressed_by__isnull=False,
        created_at__gt=OuterRef("conversation__handed_back_at"),
    )
    judged = (
        EscalationEvent.objects.filter(window, turn__isnull=False)
        .filter(Q(ticket__verdict__in=[*AI_COULD_HAVE_ANSWERED, "right_to_escalate"]) | Q(ticket__reopened_count__gt=0))
        .annotate(held_after_hand_back=Exists(held_after_hand_back))
        .values_list("ticket_id", "conversation_id", "ticket__verdict", "held_after_hand_back")
        .order_by("ticket_id")
    )
    seen: set[int] = set()
    for ticket_id, conversation_id, verdict, held_after in judged:
        if ticket_id in seen:
            continue
        seen.add(ticket_id)
        if verdict in AI_COULD_HAVE_ANSWERED:
            found.append(_Evidence(EvidenceKind.AI_COULD_HAVE_ANSWERED, ticket_id, conversation_id, False))
        elif verdict == "right_to_escalate":
            found.append(_Evidence(EvidenceKind.RIGHT_TO_ESCALATE, ticket_id, conversation_id, True))
        elif held_after:
            found.append(
                _Evidence(EvidenceKind.HELD_BACK_THEN_REOPENED, ticket_id, conversation_id, True, after_hand_back=True)
            )
        else:
            found.append(_Evidence(EvidenceKind.REOPENED, ticket_id, conversation_id, True))
    held_back = AgentTurn.objects.filter(
        conversation_id=OuterRef("conversation_id"), suppressed_by__isnull=False, created_at__lt=OuterRef("created_at")
    )
    manual = (
        EscalationEvent.objects.filter(window, reason="manual", turn__isnull=True)
        .filter(Exists(held_back))
        .values_list("conversation_id", flat=True)
        .distinct()
        .order_by("conversation_id")
    )
    for conversation_id in manual:
        found.append(_Evidence(EvidenceKind.ASKED_FOR_HUMAN, conversation_id, conversation_id, should_escalate=True))
    return found


def _escalated_conversations(
    turns: list[StoredTurn], decisions: list[Decision | None], *, after_hand_back: bool = False
) -> set[int]:
    """The conversations with a turn that escalates (only among the turns after the last hand-back, when
    ``after_hand_back``)."""
    return {
        turn.conversation_id
        for turn, decision in zip(turns, decisions, strict=True)
        if decision is not None and decision.escalate and (turn.after_hand_back or not after_hand_back)
    }


def suggestions(
    *, agent: Agent, escalation_settings: EscalationSettings, now: datetime, days: int = DEFAULT_DAYS
) -> list[Suggestion]:
    """Suggested values for the confidence threshold and the maximum of attempts (never applied here)."""
    since = now - timedelta(days=days)
    evidence = _evidence(agent=agent, since=since)
    if not evidence:
        return []
    # Candidates are scored on the evidence's conversations alone; the whole period is replayed only for the
    # effect of the value suggested.
    wanted = sorted({item.conversation_id for item in evidence})
    turns = replay_load(agent=agent, now=now, days=days, conversation_ids=wanted).turns
    passing = contacts_passing(
        agent=agent,
        rule=escalation_settings.escalation_filter,
        contact_ids={turn.contact_id for turn in turns},
        since=since,
        now=now,
    )
    data: ReplayInput | None = None
    live = policy_from_settings(escalation_settings)

    def satisfied(policy: Policy) -> set[_Evidence]:
        decisions = replay_decisions(turns, policy, passing=passing, web_search_enabled=agent.web_search_enabled)
        escalated = _escalated_conversations(turns, decisions)
        escalated_again = _escalated_conversations(turns, decisions, after_hand_back=True)
        return {
            item
            for item in evidence
            if (item.conversation_id in (escalated_again if item.after_hand_back else escalated))
            == item.should_escalate
        }

    before = satisfied(live)
    found = []
    for name, candidates in (("confidence_threshold", THRESHOLDS), ("max_attempts", ATTEMPTS)):
        current = getattr(escalation_settings, name)
        best: tuple[int, int, set[_Evidence]] | None = None
        for value in candidates:
            if value == current:
                continue
            after = satisfied(_with(live, name, value))
            score = len(after - before) - len(before - after)
            # Ties go to the value closest to the current one: the smallest change that does as well.
            if score > 0 and (best is None or (score, -abs(value - current)) > (best[0], -abs(best[1] - current))):
                best = (score, value, after)
        if best is None:
            continue
        _, value, after = best
        gained, lost = after - before, before - after
        # Candidates lie within the setting's range by construction: the draft needs no validation to be replayed.
        draft = escalation_settings_unsaved_copy(escalation_settings)
        setattr(draft, name, value)
        data = data or replay_load(agent=agent, now=now, days=days)
        preview = replay_preview(agent=agent, live=escalation_settings, draft=draft, now=now, days=days, data=data)
        found.append(
            Suggestion(
                field=name,
                value=value,
                current=current,
                tickets_delta=preview.tickets_delta,
                conversations=sorted({*preview.newly_escalated, *preview.no_longer_escalated}),
                evidence=sorted(item.id for item in gained),
                evidence_detail=[item.detail() for item in sorted(gained, key=lambda item: (item.kind, item.id))],
                evidence_against=[item.detail() for item in sorted(lost, key=lambda item: (item.kind, item.id))],
            )
        )
    return found


def _with(policy: Policy, name: str, value: int) -> Policy:
    if name == "confidence_threshold":
        return replace(policy, confidence_threshold=value)
    return replace(policy, max_attempts=value)


def shadow_summary_context(escalation_settings: EscalationSettings) -> dict[str, Any]:
    """The context of ``escalation/_shadow_summary.html`` for an agent: ``shadow`` (a ``ShadowSummary``, None
    without shadow settings) and ``shadow_changes`` (the settings it changes, in words). For any page that
    includes the partial (the Ticket Escalation page, the escalation report)."""
    shadow = agent_escalation_shadow(agent=escalation_settings.agent)
    if shadow is None:
        return {"shadow": None, "shadow_changes": []}
    live = settings_values(escalation_settings)
    changes = [
        (name.replace("_", " "), _shown(value))
        for name, value in shadow.values.items()
        if name in live and live[name] != value
    ]
    return {"shadow": shadow_summary(shadow=shadow), "shadow_changes": changes}


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)[:300]
    return str(value)[:300]
