"""The decision engine against its decision table: every row, every mode x signal x gate combination, and properties.

No database: the engine is a pure function over plain values.
"""

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escalation.engine import (
    Decision,
    Mode,
    Policy,
    Reason,
    Signal,
    SuppressedBy,
    TurnSnapshot,
    contains_phrase,
    decide,
    detect_signals,
    normalize_phrases,
)

PHRASES = ("get a teammate involved", "create a ticket for this")
POLICY = Policy.build(escalation_phrases=PHRASES)  # conditional, threshold 50, 3 attempts, knowledge required
PHRASE_REPLY = "Let me get a teammate involved."
# A conditional turn whose gates are all open: knowledge searched, enough attempts.
OPEN_GATES = TurnSnapshot(knowledge_searched=True, ai_turn_count=3)


def turn(**values: object) -> TurnSnapshot:
    return replace(OPEN_GATES, **values)  # type: ignore[arg-type]


# --- signals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (turn(), ()),
        (turn(escalate_tool_called=True), (Signal.ESCALATE_TOOL,)),
        (turn(reply=PHRASE_REPLY), (Signal.PHRASE,)),
        (turn(reply="  LET me GET a\n\tteammate   INVOLVED  "), (Signal.PHRASE,)),
        (turn(reply="get a team mate involved"), ()),
        (turn(confidence=49), (Signal.LOW_CONFIDENCE,)),
        (turn(confidence=50), ()),  # strictly below the threshold
        (turn(confidence=0), (Signal.LOW_CONFIDENCE,)),
        (turn(confidence=None), ()),  # no confidence, no signal
        (
            turn(escalate_tool_called=True, reply=PHRASE_REPLY, confidence=10),
            (Signal.ESCALATE_TOOL, Signal.PHRASE, Signal.LOW_CONFIDENCE),
        ),
        (turn(reply=PHRASE_REPLY, confidence=10), (Signal.PHRASE, Signal.LOW_CONFIDENCE)),
    ],
)
def test_detects_signals_strongest_first(snapshot: TurnSnapshot, expected: tuple[Signal, ...]) -> None:
    assert detect_signals(snapshot, POLICY) == expected


def test_threshold_zero_never_signals_low_confidence() -> None:
    assert detect_signals(turn(confidence=0), replace(POLICY, confidence_threshold=0)) == ()


def test_threshold_hundred_signals_everything_below_hundred() -> None:
    policy = replace(POLICY, confidence_threshold=100)
    assert detect_signals(turn(confidence=99), policy) == (Signal.LOW_CONFIDENCE,)
    assert detect_signals(turn(confidence=100), policy) == ()


def test_blank_phrases_are_dropped_so_they_never_match_everything() -> None:
    assert normalize_phrases(["", "   ", "Real  Person", "real person"]) == ("real person",)
    assert not contains_phrase("hello", normalize_phrases(["", " "]))


# --- the nine rows, one example each -----------------------------------------------------------------

LOW = {"confidence": 10}


@pytest.mark.parametrize(
    ("row", "policy", "snapshot", "escalate", "suppressed_by"),
    [
        (1, POLICY, turn(confidence=90), False, None),
        (2, replace(POLICY, mode=Mode.OFF), turn(escalate_tool_called=True), False, SuppressedBy.MODE_OFF),
        (3, POLICY, turn(escalate_tool_called=True, contact_passes_filter=False), False, SuppressedBy.FILTER),
        (4, POLICY, TurnSnapshot(escalate_tool_called=True, ai_turn_count=1), True, None),
        (
            4,
            replace(POLICY, mode=Mode.ALWAYS),
            TurnSnapshot(escalate_tool_called=True, ai_turn_count=1, handed_back=True),
            True,
            None,
        ),
        (5, replace(POLICY, mode=Mode.ALWAYS), TurnSnapshot(ai_turn_count=1, **LOW), True, None),
        (
            8,
            replace(POLICY, mode=Mode.ALWAYS),
            turn(ai_turn_count=1, handed_back=True, **LOW),
            False,
            SuppressedBy.GATE_ATTEMPTS,
        ),
        (
            6,
            replace(POLICY, mode=Mode.ALWAYS),
            turn(knowledge_searched=False, handed_back=True, **LOW),
            False,
            SuppressedBy.GATE_KNOWLEDGE,
        ),
        (9, replace(POLICY, mode=Mode.ALWAYS), turn(ai_turn_count=3, handed_back=True, **LOW), True, None),
        (6, POLICY, turn(knowledge_searched=False, **LOW), False, SuppressedBy.GATE_KNOWLEDGE),
        (
            7,
            replace(POLICY, require_web_search=True),
            turn(web_search_enabled=True, web_searched=False, **LOW),
            False,
            SuppressedBy.GATE_WEB,
        ),
        (8, POLICY, turn(ai_turn_count=2, **LOW), False, SuppressedBy.GATE_ATTEMPTS),
        (9, POLICY, turn(ai_turn_count=3, **LOW), True, None),
    ],
)
def test_each_row_of_the_decision_table(
    row: int, policy: Policy, snapshot: TurnSnapshot, escalate: bool, suppressed_by: SuppressedBy | None
) -> None:
    decision = decide(snapshot, policy)
    assert (decision.escalate, decision.suppressed_by) == (escalate, suppressed_by), f"row {row}"


def test_web_gate_is_ignored_while_the_web_search_skill_is_off() -> None:
    policy = replace(POLICY, require_web_search=True)
    assert decide(turn(web_search_enabled=False, confidence=10), policy).escalate


def test_web_gate_lifts_once_the_web_was_searched() -> None:
    policy = replace(POLICY, require_web_search=True)
    assert decide(turn(web_search_enabled=True, web_searched=True, confidence=10), policy).escalate


def test_knowledge_gate_is_checked_before_the_web_gate() -> None:
    policy = replace(POLICY, require_web_search=True)
    snapshot = turn(knowledge_searched=False, web_search_enabled=True, confidence=10, ai_turn_count=1)
    assert decide(snapshot, policy).suppressed_by is SuppressedBy.GATE_KNOWLEDGE


def test_attempts_count_this_turn() -> None:
    policy = replace(POLICY, max_attempts=1)
    assert decide(turn(ai_turn_count=1, confidence=10), policy).escalate


# --- every combination, against the table written out as data --------------------------------------


def reference(snapshot: TurnSnapshot, policy: Policy, signals: tuple[Signal, ...]) -> tuple[bool, str | None]:
    """The decision table transcribed as (condition, outcome) rows, evaluated top to bottom."""
    # The gates apply in conditional mode, and in `always` mode after a hand-back.
    conditional = policy.mode == Mode.CONDITIONAL or snapshot.handed_back
    rows = [
        (not signals, (False, None)),
        (policy.mode == Mode.OFF, (False, "mode_off")),
        (not snapshot.contact_passes_filter, (False, "filter")),
        (Signal.ESCALATE_TOOL in signals, (True, None)),
        (policy.mode == Mode.ALWAYS and not snapshot.handed_back, (True, None)),
        (
            conditional and policy.require_knowledge_search and not snapshot.knowledge_searched,
            (False, "gate_knowledge"),
        ),
        (
            conditional and policy.require_web_search and snapshot.web_search_enabled and not snapshot.web_searched,
            (False, "gate_web"),
        ),
        (conditional and snapshot.ai_turn_count < policy.max_attempts, (False, "gate_attempts")),
        (True, (True, None)),
    ]
    return next(outcome for applies, outcome in rows if applies)


SIGNAL_INPUTS = list(itertools.product([False, True], repeat=3))  # tool, phrase, low confidence


def all_combinations() -> list[tuple[Policy, TurnSnapshot]]:
    cases = []
    for mode, (tool, phrase, low), passes, require_ks, ks, require_ws, ws_on, ws, back, turns in itertools.product(
        Mode, SIGNAL_INPUTS, *[[False, True]] * 7, [1, 2, 3, 4]
    ):
        policy = replace(POLICY, mode=mode, require_knowledge_search=require_ks, require_web_search=require_ws)
        snapshot = TurnSnapshot(
            reply=PHRASE_REPLY if phrase else "Here is how to reset it.",
            confidence=10 if low else 90,
            escalate_tool_called=tool,
            contact_passes_filter=passes,
            knowledge_searched=ks,
            web_search_enabled=ws_on,
            web_searched=ws,
            ai_turn_count=turns,
            handed_back=back,
        )
        cases.append((policy, snapshot))
    return cases


def test_every_mode_signal_and_gate_combination_follows_the_table() -> None:
    cases = all_combinations()
    assert len(cases) == 3 * 8 * 2**7 * 4
    for policy, snapshot in cases:
        decision = decide(snapshot, policy)
        expected = reference(snapshot, policy, decision.signals)
        got = (decision.escalate, decision.suppressed_by.value if decision.suppressed_by else None)
        assert got == expected, (policy, snapshot)
        assert decision.reason == (Reason(decision.signals[0].value) if decision.signals else None)


# --- manual handoff ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
def test_manual_handoff_escalates_in_every_mode_bypassing_gates(mode: Mode) -> None:
    policy = replace(POLICY, mode=mode, max_attempts=10, require_web_search=True)
    snapshot = TurnSnapshot(manual=True, ai_turn_count=0, web_search_enabled=True, confidence=100)
    assert decide(snapshot, policy) == Decision(True, (), Reason.MANUAL, None)


@pytest.mark.parametrize("mode", list(Mode))
def test_manual_handoff_is_refused_when_the_contact_fails_the_filter(mode: Mode) -> None:
    decision = decide(TurnSnapshot(manual=True, contact_passes_filter=False), replace(POLICY, mode=mode))
    assert (decision.escalate, decision.reason, decision.suppressed_by) == (False, Reason.MANUAL, SuppressedBy.FILTER)


def test_handoff_phrases_match_user_messages_ignoring_case_and_spacing() -> None:
    phrases = normalize_phrases(["talk to a human", "real person"])
    assert contains_phrase("Can I TALK to a\nhuman please?", phrases)
    assert not contains_phrase("I talked to humans", phrases)


def test_decision_serialises_to_the_public_shape() -> None:
    decision = decide(turn(reply=PHRASE_REPLY, knowledge_searched=False), POLICY)
    assert decision.as_dict() == {
        "escalated": False,
        "reason": "phrase",
        "suppressed_by": "gate_knowledge",
        "signals": ["phrase"],
    }


# --- properties --------------------------------------------------------------------------------------

policies = st.builds(
    Policy.build,
    mode=st.sampled_from(Mode),
    confidence_threshold=st.integers(0, 100),
    max_attempts=st.integers(1, 10),
    require_knowledge_search=st.booleans(),
    require_web_search=st.booleans(),
    escalation_phrases=st.lists(st.text(max_size=20), max_size=4),
)
snapshots = st.builds(
    TurnSnapshot,
    reply=st.text(max_size=60),
    confidence=st.none() | st.integers(0, 100),
    escalate_tool_called=st.booleans(),
    contact_passes_filter=st.booleans(),
    knowledge_searched=st.booleans(),
    web_searched=st.booleans(),
    web_search_enabled=st.booleans(),
    ai_turn_count=st.integers(1, 12),
    handed_back=st.booleans(),
)


@given(snapshots, policies)
def test_never_escalates_in_mode_off(snapshot: TurnSnapshot, policy: Policy) -> None:
    assert not decide(snapshot, replace(policy, mode=Mode.OFF)).escalate


@given(snapshots, policies, st.sampled_from([Mode.ALWAYS, Mode.CONDITIONAL]))
def test_always_escalates_on_the_escalate_tool_for_a_matching_contact(
    snapshot: TurnSnapshot, policy: Policy, mode: Mode
) -> None:
    snapshot = replace(snapshot, escalate_tool_called=True, contact_passes_filter=True)
    decision = decide(snapshot, replace(policy, mode=mode))
    assert decision.escalate
    assert decision.reason is Reason.ESCALATE_TOOL


@given(snapshots, policies)
def test_never_escalates_a_contact_that_fails_the_filter(snapshot: TurnSnapshot, policy: Policy) -> None:
    assert not decide(replace(snapshot, contact_passes_filter=False), policy).escalate


@given(snapshots, policies)
def test_escalates_or_names_what_suppressed_it_whenever_a_signal_fired(snapshot: TurnSnapshot, policy: Policy) -> None:
    decision = decide(snapshot, policy)
    if not decision.signals:
        assert decision == Decision(False, (), None, None)
    else:
        assert decision.escalate == (decision.suppressed_by is None)
        assert decision.reason is not None
        assert decision.reason.value == decision.signals[0].value


@given(snapshots, policies, st.integers(0, 100), st.integers(0, 100))
def test_a_higher_threshold_never_escalates_less(snapshot: TurnSnapshot, policy: Policy, a: int, b: int) -> None:
    low, high = sorted((a, b))
    if decide(snapshot, replace(policy, confidence_threshold=low)).escalate:
        assert decide(snapshot, replace(policy, confidence_threshold=high)).escalate


@given(snapshots, policies)
def test_lifting_a_gate_never_stops_an_escalation(snapshot: TurnSnapshot, policy: Policy) -> None:
    if decide(snapshot, policy).escalate:
        for lifted in (
            replace(snapshot, knowledge_searched=True),
            replace(snapshot, web_searched=True),
            replace(snapshot, ai_turn_count=snapshot.ai_turn_count + 1),
            replace(snapshot, escalate_tool_called=True),
        ):
            assert decide(lifted, policy).escalate


@given(snapshots, policies, st.sampled_from(["upper", "lower", "swapcase"]), st.sampled_from([" ", "  ", "\n", "\t "]))
def test_phrase_signal_ignores_case_and_spacing(
    snapshot: TurnSnapshot, policy: Policy, case: str, spacing: str
) -> None:
    variant = spacing.join(getattr(snapshot.reply, case)().split())
    # casefold of an upper/lower/swapcase variant equals the original's only for simple letters
    if variant.casefold() == " ".join(snapshot.reply.split()).casefold():
        assert (Signal.PHRASE in detect_signals(snapshot, policy)) == (
            Signal.PHRASE in detect_signals(replace(snapshot, reply=variant), policy)
        )


@given(snapshots, policies)
def test_decision_does_not_depend_on_which_weak_signal_fired(snapshot: TurnSnapshot, policy: Policy) -> None:
    """Rows 2-9 look at whether a signal fired (and at the tool), never at phrase vs low confidence."""
    decision = decide(snapshot, policy)
    if decision.signals and Signal.ESCALATE_TOOL not in decision.signals:
        only_low = replace(snapshot, reply="", confidence=0)
        policy_low = replace(policy, confidence_threshold=max(policy.confidence_threshold, 1))
        other = decide(only_low, policy_low)
        assert (other.escalate, other.suppressed_by) == (decision.escalate, decision.suppressed_by)
