"""B9: what-if replay of draft escalation settings over 100k stored turns, on PostgreSQL.

One agent of the workspace ``bench-replay-<turns>`` in the database ``halo_bench_replay`` (created and
migrated if missing; a re-run reuses what is there) gets ``--turns`` AI turns, generated with
``INSERT … SELECT generate_series``: conversations of four turns, one contact per two conversations (a
fifth on the plan ``vip``), confidences spread over 0-100, a knowledge search on most turns, the escalate
tool on one in forty, the stored decision of the default settings, an escalated conversation's ticket, all
in the last 30 days.

Measured in process, ``--samples`` times, the median and the worst: the preview of a draft that changes the
threshold, the attempts, the escalation filter and the priority filter (``escalation.replay.replay_preview``:
the turns read once, the filter evaluated once per contact in SQL, the pure engine twice per turn — live and
draft — and the priority tickets), split into its read and its replay; beside the baseline of the same run:
the bare read of the same rows (``values_list``) that any replay must do. The query count is printed and
must not grow with the turns.

    .venv/bin/python bench/replay.py [--turns 100000] [--samples 5]

Exit status 1 if the median preview is over 2 s (B9) or its queries are more than 4.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

DATABASE = "halo_bench_replay"
TARGET_SECONDS = 2.0
MAX_QUERIES = 4
DRAFT = {
    "confidence_threshold": 70,
    "max_attempts": 2,
    "escalation_filter": "user.plan = vip OR user.plan = pro",
    "priority_filter": "user.plan = vip",
}


def prepare(turns: int) -> Any:
    """The workspace's agent, with ``turns`` turns generated the first time."""
    from django.db import connection, transaction
    from django.utils import timezone

    from agents.models import Agent, AgentTurn
    from agents.services import agent_create
    from escalation.services import escalation_settings_ensure
    from halo.models import Workspace

    slug = f"bench-replay-{turns}"
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        workspace = Workspace.objects.create(name="Bench replay", slug=slug, allowed_origins=[])
        agent_create(workspace=workspace, name="Bench")
    agent = Agent.objects.get(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    if AgentTurn.objects.filter(conversation__agent=agent).exists():
        return agent
    conversations = turns // 4
    started = time.perf_counter()
    search = {"name": "knowledge_search", "arguments": {"query": "how do I export my data"}, "result": []}
    params = {
        "ws": workspace.pk,
        "agent": agent.pk,
        "conversations": conversations,
        "now": timezone.now(),
        "search": json.dumps([search]),
        "escalate": json.dumps([search, {"name": "escalate", "arguments": {"reason": "asked"}}]),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO halo_contact (workspace_id, user_id, name, email, custom_fields, created_at, plan)
               SELECT %(ws)s, 'b9-' || g, 'Customer ' || g, 'customer' || g || '@example.com', '{}',
                      %(now)s - interval '40 days', CASE g %% 5 WHEN 0 THEN 'vip' WHEN 1 THEN 'pro' ELSE 'free' END
                 FROM generate_series(1, %(conversations)s / 2 + 1) g""",
            params,
        )
        cursor.execute(
            """INSERT INTO agents_conversation (workspace_id, agent_id, contact_id, status, token_hash, created_at,
                                                updated_at)
               SELECT %(ws)s, %(agent)s, c.id, 'open', md5(g::text), %(now)s - make_interval(secs => g * 2),
                      %(now)s - make_interval(secs => g * 2)
                 FROM generate_series(1, %(conversations)s) g
                 JOIN halo_contact c ON c.workspace_id = %(ws)s AND c.user_id = 'b9-' || (g / 2 + 1)""",
            params,
        )
        # Four turns per conversation; the default settings decided them (threshold 50, three attempts).
        cursor.execute(
            """INSERT INTO agents_agentturn (conversation_id, reply, confidence, tools, knowledge_sources,
                                             escalate_reason, created_at, signals, escalated, reason,
                                             suppressed_by, decided_at)
               SELECT v.id, 'Here is how to do that.', (v.id * 7 + n * 13) %% 101,
                      CASE WHEN (v.id + n) %% 40 = 0 THEN %(escalate)s::jsonb
                           WHEN (v.id + n) %% 5 = 0 THEN '[]'::jsonb ELSE %(search)s::jsonb END,
                      '[]'::jsonb, '', v.created_at + make_interval(secs => n), '[]'::jsonb, false, NULL, NULL,
                      v.created_at + make_interval(secs => n)
                 FROM agents_conversation v CROSS JOIN generate_series(1, 4) n
                WHERE v.workspace_id = %(ws)s ORDER BY v.id, n""",
            params,
        )
    _decide_stored(agent)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE halo_contact, agents_conversation, agents_agentturn, inbox_ticket")
    print(f"  generated {turns:,} turns in {time.perf_counter() - started:.1f} s")
    return agent


def _decide_stored(agent: Any) -> None:
    """Store the live settings' decision on every generated turn (as the live path would have), so the
    preview compares a draft with a history that agrees with the live settings."""
    from django.db import connection
    from django.utils import timezone

    from agents.models import AgentTurn
    from escalation.models import EscalationSettings
    from escalation.replay import replay_load, replay_outcome
    from inbox.models import Ticket

    now = timezone.now()
    live = EscalationSettings.objects.get(agent=agent)
    outcome = replay_outcome(replay_load(agent=agent, now=now), live, now=now)
    escalated = [
        (turn_id, decision.reason.value)
        for turn_id, decision in outcome.turns.items()
        if decision and decision.escalate and decision.reason
    ]
    held = [
        (turn_id, decision.suppressed_by.value)
        for turn_id, decision in outcome.turns.items()
        if decision and decision.suppressed_by
    ]
    with connection.cursor() as cursor:
        for rows, column in ((escalated, "reason"), (held, "suppressed_by")):
            for start in range(0, len(rows), 5000):
                chunk = rows[start : start + 5000]
                extra = ", escalated = true" if column == "reason" else ""
                cursor.execute(
                    f"UPDATE agents_agentturn t SET {column} = v.value{extra} "  # nosec B608
                    "FROM unnest(%s::bigint[], %s::text[]) AS v(id, value) WHERE t.id = v.id",
                    [[row[0] for row in chunk], [row[1] for row in chunk]],
                )
    # A closed ticket per contact whose conversation escalated (through the ORM: every column's default).
    rows = (
        AgentTurn.objects.filter(conversation__agent=agent, escalated=True)
        .order_by("conversation__contact_id", "id")
        .distinct("conversation__contact_id")
        .values_list("conversation__contact_id", "reason", "confidence", "created_at")
    )
    Ticket.objects.bulk_create(
        [
            Ticket(
                workspace_id=agent.workspace_id,
                contact_id=contact_id,
                agent=agent,
                status=Ticket.Status.CLOSED,
                reason=reason,
                confidence=confidence,
                created_at=created_at,
                updated_at=created_at,
                closed_at=created_at,
            )
            for contact_id, reason, confidence, created_at in rows
        ],
        batch_size=2000,
    )


def measure(agent: Any, samples: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from agents.models import AgentTurn
    from escalation.models import EscalationSettings
    from escalation.replay import replay_load, replay_preview
    from escalation.services import escalation_settings_draft

    live = EscalationSettings.objects.select_related("agent__workspace").get(agent=agent)
    draft = escalation_settings_draft(escalation_settings=live, data=DRAFT)
    previews, reads, replays, baselines, cpus = [], [], [], [], []
    queries = 0
    preview = None
    for _ in range(samples):
        now = timezone.now()
        started = time.perf_counter()
        list(
            AgentTurn.objects.filter(conversation__agent=agent)
            .order_by("conversation_id", "id")
            .values_list("id", "conversation_id", "reply", "confidence", "tools", "knowledge_sources", "escalated")
            .iterator(chunk_size=5000)
        )
        baselines.append(time.perf_counter() - started)

        with CaptureQueriesContext(connection) as read_queries:
            started = time.perf_counter()
            data = replay_load(agent=agent, now=now)
            reads.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            preview = replay_preview(agent=agent, live=live, draft=draft, now=now, data=data)
            replays.append(time.perf_counter() - started)
        queries = len(read_queries.captured_queries) + len(captured.captured_queries)

        started, cpu = time.perf_counter(), time.process_time()
        replay_preview(agent=agent, live=live, draft=draft, now=now)
        previews.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    assert preview is not None
    return {
        "turns": preview.turns_replayed,
        "preview": previews,
        "cpu": cpus,
        "read": reads,
        "replay": replays,
        "baseline": baselines,
        "queries": queries,
        "newly": len(preview.newly_escalated),
        "no_longer": len(preview.no_longer_escalated),
        "priority": len(preview.newly_priority),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    harness.setup_django(DATABASE)
    agent = prepare(args.turns)
    result = measure(agent, args.samples)
    median = statistics.median(result["preview"])
    rows = [
        ["preview (read + replay, live and draft)", f"{median:.3f}", f"{max(result['preview']):.3f}"],
        ["  its CPU time in this process", f"{statistics.median(result['cpu']):.3f}", f"{max(result['cpu']):.3f}"],
        ["  the read (`replay_load`)", f"{statistics.median(result['read']):.3f}", f"{max(result['read']):.3f}"],
        [
            "  the replay and the filters' queries",
            f"{statistics.median(result['replay']):.3f}",
            f"{max(result['replay']):.3f}",
        ],
        [
            "baseline: the bare read of the same rows",
            f"{statistics.median(result['baseline']):.3f}",
            f"{max(result['baseline']):.3f}",
        ],
    ]
    print(f"\n{harness.machine_load()}")
    print(f"\nB9 — replay of a draft over {result['turns']:,} turns ({args.samples} samples), seconds\n")
    harness.print_table(["", "median", "worst"], rows)
    print(
        f"\nqueries: {result['queries']}; the draft: {result['newly']:,} conversations newly escalated, "
        f"{result['no_longer']:,} no longer, {result['priority']:,} tickets newly priority"
    )
    ok = median <= TARGET_SECONDS and result["queries"] <= MAX_QUERIES
    print(f"\nB9 target: median ≤ {TARGET_SECONDS} s, ≤ {MAX_QUERIES} queries — {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
