"""B3: decisions per second of the escalation engine, in process, beside a baseline from the same run.

The engine judges a fixed mix of realistic turns (short and long replies, with and without phrases, every
mode). The baseline is a loop over the same snapshots calling a trivial Python function of the same
arity, so the ratio says how many "empty calls" one decision costs and stays comparable across noisy,
shared machines. Each figure is the median (and p99) over repeats of a timed batch.

    .venv/bin/python bench/escalation.py [--repeats 30] [--batch 20000]
"""

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from escalation.engine import Mode, Policy, TurnSnapshot, decide

TARGET_PER_SECOND = 500_000

REPLIES = [
    "You can reset your password from Settings > Security.",
    "I'm not sure about that. Let me get a teammate involved so they can help.",
    "Refunds are processed within 5 business days. " * 6,
    "Here are the steps:\n1. Open the billing page\n2. Click 'Change plan'\n3. Confirm.",
    "",
]
PHRASES = ["get a teammate involved", "create a ticket for this", "escalate this to our team", "a human will"]


def workload(size: int, seed: int = 7) -> list[tuple[TurnSnapshot, Policy]]:
    rng = random.Random(seed)
    policies = [
        Policy.build(mode=mode, confidence_threshold=threshold, require_web_search=web, escalation_phrases=PHRASES)
        for mode in Mode
        for threshold in (30, 50, 80)
        for web in (False, True)
    ]
    cases = []
    for _ in range(size):
        snapshot = TurnSnapshot(
            reply=rng.choice(REPLIES),
            confidence=rng.choice([None, 5, 45, 65, 95]),
            escalate_tool_called=rng.random() < 0.1,
            contact_passes_filter=rng.random() < 0.9,
            knowledge_searched=rng.random() < 0.7,
            web_searched=rng.random() < 0.3,
            web_search_enabled=rng.random() < 0.5,
            ai_turn_count=rng.randint(1, 6),
        )
        cases.append((snapshot, rng.choice(policies)))
    return cases


def baseline(snapshot: TurnSnapshot, policy: Policy) -> TurnSnapshot:
    return snapshot


def per_second(function: Callable[[TurnSnapshot, Policy], object], cases: list[tuple[TurnSnapshot, Policy]]) -> float:
    start = time.perf_counter()
    for snapshot, policy in cases:
        function(snapshot, policy)
    return len(cases) / (time.perf_counter() - start)


def p99(samples: list[float]) -> float:
    # The slow tail of a throughput is its low end: report the 1st percentile of rates.
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.01) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=20_000)
    args = parser.parse_args()

    cases = workload(args.batch)
    per_second(decide, cases)  # warm-up
    engine, base = [], []
    for _ in range(args.repeats):  # interleaved, so a noisy neighbour hurts both alike
        base.append(per_second(baseline, cases))
        engine.append(per_second(decide, cases))

    engine_median, base_median = statistics.median(engine), statistics.median(base)
    rows = [
        ("baseline (empty call)", base_median, p99(base)),
        ("decide()", engine_median, p99(engine)),
    ]
    print(f"B3 escalation engine: {args.repeats} repeats x {args.batch} turns")
    print(f"{'scenario':<24}{'median/s':>14}{'p99 (slowest 1%)/s':>22}")
    for name, median, tail in rows:
        print(f"{name:<24}{median:>14,.0f}{tail:>22,.0f}")
    print(f"ratio decide/baseline: {engine_median / base_median:.3f}")
    ok = engine_median >= TARGET_PER_SECOND
    print(f"target >= {TARGET_PER_SECOND:,}/s: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
