"""The escalation decision engine: a pure function from one judged turn and a policy to a ``Decision``.

``decide(snapshot, policy)`` implements the product's decision table exactly. It reads three signals (the
``escalate`` tool, an escalation phrase in the AI's reply, a confidence strictly below the threshold), then
walks the decision table top to bottom; the first row that applies decides. A manual handoff (the widget's
"Talk to a human" button, or a user message with a handoff phrase) bypasses signals and gates: only the
escalation filter can refuse it. The inputs are frozen dataclasses of plain values, built by
``escalation.selectors`` (which also evaluates the segment filters, so this module never sees a rule):
no ORM, no settings, no clock, no I/O. The result records which signals fired, the reason (the
strongest signal) and, when nothing happens although a signal fired, the row that suppressed it — the
per-turn "why / why not" that is stored on every turn and lets history be replayed under other settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    OFF = "off"
    ALWAYS = "always"
    CONDITIONAL = "conditional"


class Signal(StrEnum):
    """A reason to hand off that a turn can carry; declared strongest first."""

    ESCALATE_TOOL = "escalate_tool"
    PHRASE = "phrase"
    LOW_CONFIDENCE = "low_confidence"


class Reason(StrEnum):
    """Why a handoff happened: the strongest signal, or ``manual`` when the user asked for a human."""

    ESCALATE_TOOL = "escalate_tool"
    PHRASE = "phrase"
    LOW_CONFIDENCE = "low_confidence"
    MANUAL = "manual"


class SuppressedBy(StrEnum):
    """The row of the decision table that stopped a turn with a signal from escalating."""

    MODE_OFF = "mode_off"
    FILTER = "filter"
    GATE_KNOWLEDGE = "gate_knowledge"
    GATE_WEB = "gate_web"
    GATE_ATTEMPTS = "gate_attempts"


GATES = frozenset({SuppressedBy.GATE_KNOWLEDGE, SuppressedBy.GATE_WEB, SuppressedBy.GATE_ATTEMPTS})
# Held-back decisions whose reply offers a teammate, where one is available (mode off: if the contact passes
# the escalation filter; a gate: always, the filter's row came first), and a yes to the offer hands off.
OFFERING = frozenset({SuppressedBy.MODE_OFF, *GATES})


def normalize_text(text: str) -> str:
    """Case-insensitive, whitespace-normalised form used on both sides of a phrase match."""
    return " ".join(text.split()).casefold()


def normalize_phrases(phrases: Iterable[str]) -> tuple[str, ...]:
    """Normalised, de-duplicated, order-kept phrases; a blank phrase is dropped (it would match everything)."""
    seen: dict[str, None] = {}
    for phrase in phrases:
        normalized = normalize_text(phrase)
        if normalized:
            seen[normalized] = None
    return tuple(seen)


def contains_phrase(text: str, normalized_phrases: tuple[str, ...], *, normalized: bool = False) -> bool:
    """Whether ``text`` contains one of the (already normalised) phrases, ignoring case and spacing
    (``normalized``: ``text`` is in ``normalize_text`` form already)."""
    if not normalized_phrases or not text:
        return False
    haystack = text if normalized else normalize_text(text)
    # A plain loop: ``any()`` over a generator costs ~20% of the engine's throughput (bench/escalation.py).
    for phrase in normalized_phrases:  # noqa: SIM110
        if phrase in haystack:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Policy:
    """The escalation settings that take part in a decision, phrases already normalised.

    Build it with ``Policy.build`` so the phrases are normalised once, not on every turn.
    """

    mode: Mode = Mode.CONDITIONAL
    confidence_threshold: int = 50
    max_attempts: int = 3
    require_knowledge_search: bool = True
    require_web_search: bool = False
    escalation_phrases: tuple[str, ...] = ()
    handoff_phrases: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        mode: Mode | str = Mode.CONDITIONAL,
        confidence_threshold: int = 50,
        max_attempts: int = 3,
        require_knowledge_search: bool = True,
        require_web_search: bool = False,
        escalation_phrases: Iterable[str] = (),
        handoff_phrases: Iterable[str] = (),
    ) -> Policy:
        return cls(
            mode=Mode(mode),
            confidence_threshold=confidence_threshold,
            max_attempts=max_attempts,
            require_knowledge_search=require_knowledge_search,
            require_web_search=require_web_search,
            escalation_phrases=normalize_phrases(escalation_phrases),
            handoff_phrases=normalize_phrases(handoff_phrases),
        )


@dataclass(frozen=True, slots=True)
class TurnSnapshot:
    """Everything the engine needs to know about one turn and its conversation, as plain values.

    ``contact_passes_filter`` is True when the agent has no escalation filter or the contact matches it.
    ``knowledge_searched`` / ``web_searched`` count this turn's tool calls and every earlier turn's in
    the conversation; ``ai_turn_count`` counts the AI turns of the conversation including this one.
    ``manual`` marks a handoff the user asked for (button or handoff phrase), judged without signals.
    ``reply_normalized`` says ``reply`` is already in ``normalize_text`` form (a replay normalises each
    stored reply once, not once per settings it is judged under).
    ``handed_back`` marks a conversation a closed ticket gave back to the AI before this turn; the counts
    above then start at the hand-back.
    """

    reply: str = ""
    confidence: int | None = None
    escalate_tool_called: bool = False
    contact_passes_filter: bool = True
    knowledge_searched: bool = False
    web_searched: bool = False
    web_search_enabled: bool = False
    ai_turn_count: int = 1
    manual: bool = False
    reply_normalized: bool = False
    handed_back: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one turn: whether to escalate, the signals present (strongest first), the reason
    (the strongest signal, or ``manual``; None when there was nothing to act on) and, when a signal or a
    manual request did not lead to a handoff, the table row that suppressed it."""

    escalate: bool
    signals: tuple[Signal, ...]
    reason: Reason | None
    suppressed_by: SuppressedBy | None

    def as_dict(self) -> dict[str, object]:
        return {
            "escalated": self.escalate,
            "reason": self.reason.value if self.reason is not None else None,
            "suppressed_by": self.suppressed_by.value if self.suppressed_by is not None else None,
            "signals": [signal.value for signal in self.signals],
        }


# Signal sets are indexed by a 3-bit mask (tool=4, phrase=2, low confidence=1), strongest first.
_SIGNALS_BY_MASK: tuple[tuple[Signal, ...], ...] = tuple(
    tuple(
        signal
        for bit, signal in ((4, Signal.ESCALATE_TOOL), (2, Signal.PHRASE), (1, Signal.LOW_CONFIDENCE))
        if mask & bit
    )
    for mask in range(8)
)
_REASON_BY_SIGNAL = {signal: Reason(signal.value) for signal in Signal}


def _intern_decisions() -> dict[tuple[int, bool, SuppressedBy | None], Decision]:
    """Decisions are immutable and few (signal mask x outcome), so each is built once and shared."""
    table: dict[tuple[int, bool, SuppressedBy | None], Decision] = {}
    for mask, signals in enumerate(_SIGNALS_BY_MASK):
        reason = _REASON_BY_SIGNAL[signals[0]] if signals else None
        for escalate, suppressed in [(False, None), (True, None), *((False, s) for s in SuppressedBy)]:
            table[(mask, escalate, suppressed)] = Decision(escalate, signals, reason, suppressed)
    return table


_DECISIONS = _intern_decisions()
_NO_SIGNAL = _DECISIONS[(0, False, None)]
_MANUAL_ESCALATE = Decision(True, (), Reason.MANUAL, None)
_MANUAL_REFUSED = Decision(False, (), Reason.MANUAL, SuppressedBy.FILTER)


def detect_signals(snapshot: TurnSnapshot, policy: Policy) -> tuple[Signal, ...]:
    """The signals a turn carries, strongest first (the three signals)."""
    return _SIGNALS_BY_MASK[_signal_mask(snapshot, policy)]


def _signal_mask(snapshot: TurnSnapshot, policy: Policy) -> int:
    mask = 4 if snapshot.escalate_tool_called else 0
    if contains_phrase(snapshot.reply, policy.escalation_phrases, normalized=snapshot.reply_normalized):
        mask |= 2
    confidence = snapshot.confidence
    if confidence is not None and confidence < policy.confidence_threshold:
        mask |= 1
    return mask


def decide(snapshot: TurnSnapshot, policy: Policy) -> Decision:
    """Judge one turn with the decision table; the first row that applies decides."""
    if snapshot.manual:
        # A user asking for a human bypasses signals, mode and gates; only the escalation filter applies.
        return _MANUAL_ESCALATE if snapshot.contact_passes_filter else _MANUAL_REFUSED

    mask = _signal_mask(snapshot, policy)
    if not mask:  # row 1
        return _NO_SIGNAL
    mode = policy.mode
    if mode == Mode.OFF:  # row 2
        return _DECISIONS[(mask, False, SuppressedBy.MODE_OFF)]
    if not snapshot.contact_passes_filter:  # row 3
        return _DECISIONS[(mask, False, SuppressedBy.FILTER)]
    if mask & 4:  # row 4: the escalate tool is a fresh reason in any mode that escalates
        return _DECISIONS[(mask, True, None)]
    if mode == Mode.ALWAYS and not snapshot.handed_back:  # row 5
        return _DECISIONS[(mask, True, None)]
    # Conditional mode, or `always` after a hand-back: a weak signal must meet the gates, counted from the
    # hand-back on, so a conversation a teammate gave back does not loop straight into a new ticket.
    if policy.require_knowledge_search and not snapshot.knowledge_searched:  # row 6
        return _DECISIONS[(mask, False, SuppressedBy.GATE_KNOWLEDGE)]
    if policy.require_web_search and snapshot.web_search_enabled and not snapshot.web_searched:  # row 7
        return _DECISIONS[(mask, False, SuppressedBy.GATE_WEB)]
    if snapshot.ai_turn_count < policy.max_attempts:  # row 8
        return _DECISIONS[(mask, False, SuppressedBy.GATE_ATTEMPTS)]
    return _DECISIONS[(mask, True, None)]  # row 9
