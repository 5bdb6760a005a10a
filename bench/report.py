"""B8: the escalation report for one agent over 90 days, at many stored turns, on PostgreSQL.

Builds a workspace ``bench-report`` (rebuilt every run) whose agent has ``--turns`` AI turns spread over 90
days (a quarter held back, one conversation in five escalated to a closed ticket, with replies, ratings and
verdicts), written through the seeding services, then:

- counts every day's rollup once (``report_rollups_update(full=True)``: what a first run or a time-zone
  change costs) and once incrementally (what the beat job costs every minute);
- times ``SELECT 1`` (the baseline), the report from the rollups (what the API and the page run) and the same
  report recounted from the rows (what it would cost without rollups), each over ``--samples`` runs:
  median and p99, with the ratio to the baseline;
- checks the report's query count (the same at every size) and that the two reports agree; exits 1 when
  the target is missed.

    .venv/bin/python bench/report.py [--turns 1000000] [--samples 30]

Uses the PostgreSQL server of ``bench/harness.py`` (database ``halo_bench_report``). Develop at
``--turns 20000``; B8's figure is ``--turns 1000000`` (about ten minutes to build on a quiet machine).
"""

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import machine_load, percentile, print_table, setup_django  # noqa: E402

TARGET_SECONDS = 1.0
MAX_QUERIES = 2  # the rollups, the median first reply
TURNS_PER_CONVERSATION = 3
BATCH = 5000


def build(turns: int) -> tuple[object, object]:
    from django.utils import timezone

    from agents.services import SeedConversation, SeedTurn, agent_create, conversations_seed
    from escalation.services import escalation_settings_ensure
    from halo.models import Contact, Workspace
    from inbox.services import SeedTicket, tickets_seed

    Workspace.objects.filter(slug="bench-report").delete()
    workspace = Workspace.objects.create(name="Bench report", slug="bench-report", timezone="Europe/Paris")
    agent = agent_create(workspace=workspace, name="Bench")
    escalation_settings_ensure(agent=agent)
    contacts = Contact.objects.bulk_create(
        Contact(workspace=workspace, user_id=f"bench-{n}") for n in range(max(turns // 30, 10))
    )
    rng = random.Random(8)
    now = timezone.now()
    conversations = turns // TURNS_PER_CONVERSATION
    made = 0
    while made < conversations:
        size = min(BATCH, conversations - made)
        plans = []
        for n in range(size):
            started = now - timedelta(days=rng.uniform(0, 90))
            held = rng.random() < 0.25
            escalated = rng.random() < 0.2
            plan_turns = tuple(
                SeedTurn(
                    question="q",
                    reply="r",
                    at=started + timedelta(minutes=i),
                    confidence=rng.randint(10, 95),
                    signals=("low_confidence",) if held or escalated else (),
                    suppressed_by="gate_attempts" if held and i == 0 else None,
                    escalated=escalated and i == TURNS_PER_CONVERSATION - 1,
                    reason="low_confidence" if escalated and i == TURNS_PER_CONVERSATION - 1 else None,
                )
                for i in range(TURNS_PER_CONVERSATION)
            )
            plans.append(
                SeedConversation(
                    contact_id=contacts[(made + n) % len(contacts)].pk,
                    agent_id=agent.pk,
                    started_at=started,
                    status="closed",
                    turns=plan_turns,
                )
            )
        written = conversations_seed(workspace=workspace, conversations=plans, messages=False)
        tickets = []
        for plan, (conversation_id, turn_ids) in zip(plans, written, strict=True):
            if plan.turns[-1].escalated:
                opened = plan.turns[-1].at
                tickets.append(
                    SeedTicket(
                        conversation_id=conversation_id,
                        contact_id=plan.contact_id,
                        agent_id=agent.pk,
                        turn_id=turn_ids[-1],
                        reason="low_confidence",
                        confidence=plan.turns[-1].confidence,
                        settings_version=1,
                        created_at=opened,
                        closed_at=opened + timedelta(hours=2),
                        first_replied_at=opened + timedelta(minutes=rng.randint(1, 120)),
                        first_reply_due_at=opened + timedelta(hours=1),
                        rating_score=rng.choice([None, 3, 4, 5]),
                        verdict=rng.choice(["", "ai_could_have_answered", "right_to_escalate"]),
                    )
                )
        tickets_seed(workspace=workspace, tickets=tickets)
        made += size
    return workspace, agent


def timed(samples: int, run) -> list[float]:  # type: ignore[no-untyped-def]
    durations = []
    for _ in range(samples):
        start = time.perf_counter()
        run()
        durations.append(time.perf_counter() - start)
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    setup_django("halo_bench_report")

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from escalation.reports import ReportQuery, escalation_report, escalation_report_from_rows
    from escalation.services import report_rollups_update

    started = time.perf_counter()
    workspace, agent = build(args.turns)
    built = time.perf_counter() - started
    started = time.perf_counter()
    report_rollups_update(full=True)
    full = time.perf_counter() - started
    started = time.perf_counter()
    report_rollups_update()
    incremental = time.perf_counter() - started

    today = date.today()
    query = ReportQuery(
        workspace=workspace,  # type: ignore[arg-type]
        day_from=today - timedelta(days=89),
        day_to=today,
        agent_id=agent.pk,  # type: ignore[attr-defined]
    )
    with CaptureQueriesContext(connection) as queries:
        from_rollups = escalation_report(query)
    assert from_rollups == escalation_report_from_rows(query), "the rollups disagree with a recount"

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    baseline = timed(args.samples, select_one)
    rollups = timed(args.samples, lambda: escalation_report(query))
    raw = timed(max(3, args.samples // 10), lambda: escalation_report_from_rows(query))
    base = statistics.median(baseline)
    print(f"B8 at {args.turns:,} turns over 90 days ({machine_load()})")
    print(f"built in {built:.1f} s; rollups: full count {full:.2f} s, incremental run {incremental:.3f} s")
    rows = []
    for name, values in (
        ("SELECT 1 (baseline)", baseline),
        ("report from rollups (API, page)", rollups),
        ("report recounted from rows", raw),
    ):
        rows.append(
            [
                name,
                f"{statistics.median(values) * 1000:.2f}",
                f"{percentile(values, 99) * 1000:.2f}",
                f"{statistics.median(values) / base:.0f}x",
            ]
        )
    print_table(["what", "median ms", "p99 ms", "x baseline"], rows)
    p99 = percentile(rollups, 99)
    met = p99 <= TARGET_SECONDS and len(queries) <= MAX_QUERIES
    print(
        f"report queries: {len(queries)} (at most {MAX_QUERIES} at any size); p99 {p99:.3f} s, "
        f"target ≤ {TARGET_SECONDS} s: {'met' if met else 'MISSED'}"
    )
    if not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
