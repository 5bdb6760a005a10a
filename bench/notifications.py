"""B6: 1,000 escalations against a Slack webhook that allows 1 message/s and answers 429 + ``Retry-After``.

The production path: a real Celery worker (prefork, ``--concurrency 4``) on the Redis broker (db 6),
PostgreSQL database ``halo_bench_slack``, the workspace's incoming webhook pointing at a local stand-in
(``tests/inbox/slack_stand_in.py``: one message per second, else 429 with ``Retry-After: 1``). This process
escalates ``--escalations`` new conversations through the handoff service as fast as it can (each commit
records the Slack outbox row and queues its Celery task; the summary jobs run on the same worker), then
waits — bounded by ``--timeout`` — until no Slack row is pending or running.

Reported: tickets lost (announced in no accepted message), duplicated (announced twice), Slack requests
per accepted message (target ≤ 1.1: no retry storm), requests per ticket, digest sizes, drain time (first
commit → last Slack row done) beside its floor in the same run (messages sent x the 1.1 s send interval
the limiter keeps), and the outbox rows' final states.

    .venv/bin/python bench/notifications.py [--escalations 1000] [--concurrency 4] [--timeout 300]

Exit status 1 if a ticket is lost or duplicated, a row fails, requests exceed 1.1 x messages or the
timeout is reached (B6).
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

DATABASE = "halo_bench_slack"
SLUG = "bench-slack"
TARGET_REQUESTS_PER_MESSAGE = 1.1
LOG = Path(tempfile.gettempdir()) / "halo_bench_slack_worker.log"


def prepare(escalations: int, webhook_url: str) -> list[Any]:
    """A fresh workspace whose Slack webhook is the stand-in, with ``escalations`` conversations to hand off."""
    from agents.models import Conversation
    from halo.models import OutboxMessage

    OutboxMessage.objects.all().delete()
    workspace = harness.workspace_with_conversations(
        slug=SLUG, conversations=escalations, body="I was charged twice, please help", slack_webhook_url=webhook_url
    )
    return list(Conversation.objects.filter(workspace=workspace).select_related("agent", "contact").order_by("id"))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--escalations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300)
    options = parser.parse_args()

    # The worker posts to the local stand-in: allowed the way an operator allows an internal host.
    env = {**harness.setup_django(DATABASE, redis=True), "HALO_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}
    harness.redis_flush()
    from django.db.models import Count, Max, Min

    from escalation.flow import handoff_request
    from halo.celery import app as celery_app
    from halo.models import OutboxMessage
    from inbox.notifications import SLACK_TASK
    from inbox.notifications.slack import SLACK_MIN_INTERVAL
    from tests.inbox.slack_stand_in import slack_stand_in_running

    command = [
        sys.executable, "-m", "celery", "-A", "halo", "worker", "--concurrency", str(options.concurrency),
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with slack_stand_in_running() as slack:
        conversations = prepare(options.escalations, slack.url)
        with harness.process_running(command, env=env, log=LOG) as worker:
            # The worker answers a ping once its pool is up: the burst starts then (a slow start is not the
            # limiter's fault).
            harness.wait_until(
                lambda: bool(celery_app.control.ping(timeout=0.5)),
                timeout=60,
                what=f"the worker ({LOG})",
                process=worker,
            )
            started = time.monotonic()
            tickets = [handoff_request(conversation=conversation).ticket.pk for conversation in conversations]
            escalated_in = time.monotonic() - started
            slack_rows = OutboxMessage.objects.filter(task=SLACK_TASK)

            def drained() -> bool:
                return not slack_rows.filter(state__in=["pending", "running"]).exists()

            with contextlib.suppress(TimeoutError):
                harness.wait_until(
                    drained, timeout=started + options.timeout - time.monotonic(), what="the drain", interval=0.5
                )
            timed_out = not drained()
        states = dict(slack_rows.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
        span = slack_rows.aggregate(first=Min("created_at"), last=Max("done_at"))
        drain = (span["last"] - span["first"]).total_seconds() if span["last"] else float("nan")
        announced = slack.ticket_ids()
        messages = len(slack.accepted)
        digest_sizes = [len(set(ids)) for ids in _ids_per_message(slack.texts())]

    gaps = [later - earlier for (earlier, _), (later, _) in zip(slack.log, slack.log[1:], strict=False)]
    lost = len(set(tickets) - set(announced))
    duplicated = len(announced) - len(set(announced))
    requests_per_message = slack.requests / messages if messages else float("inf")
    floor = messages * SLACK_MIN_INTERVAL.total_seconds()
    print(
        f"\nB6 Slack: {options.escalations} escalations, Celery worker x{options.concurrency} on Redis, "
        f"stand-in allowing 1 message/s\n{harness.machine_load()}\n"
    )
    harness.print_table(
        ("measure", "value"),
        [
            ("escalations (tickets created)", f"{len(tickets):,} in {escalated_in:.1f} s"),
            ("Slack messages accepted", f"{messages:,}"),
            ("Slack requests (incl. 429s)", f"{slack.requests:,} ({slack.rejected_429} answered 429)"),
            ("requests per message", f"{requests_per_message:.3f} (target ≤ {TARGET_REQUESTS_PER_MESSAGE})"),
            ("requests per ticket", f"{slack.requests / max(1, len(tickets)):.3f}"),
            (
                "tickets per message (digest)",
                f"median {statistics.median(digest_sizes):.0f}, max {max(digest_sizes)}" if digest_sizes else "-",
            ),
            (
                "gap between two Slack requests",
                f"min {min(gaps):.3f} s, median {statistics.median(gaps):.3f} s" if gaps else "-",
            ),
            ("tickets lost", f"{lost}"),
            ("tickets announced twice", f"{duplicated}"),
            ("outbox rows by state", ", ".join(f"{state} {n}" for state, n in sorted(states.items()))),
            ("drain: first commit → last row done", f"{drain:.1f} s"),
            ("floor: messages x 1.1 s send interval (baseline)", f"{floor:.1f} s (ratio {drain / floor:.2f})"),
        ],
    )
    failures = []
    if lost or duplicated:
        failures.append(f"{lost} lost, {duplicated} duplicated")
    if requests_per_message > TARGET_REQUESTS_PER_MESSAGE:
        failures.append(f"{requests_per_message:.2f} requests per message")
    if states.get("failed"):
        failures.append(f"{states['failed']} rows failed")
    if timed_out:
        failures.append(f"not drained within {options.timeout:.0f} s")
    print()
    print("FAIL: " + "; ".join(failures) if failures else "PASS: nothing lost or duplicated, no retry storm")
    harness.redis_flush()
    return 1 if failures else 0


def _ids_per_message(texts: list[str]) -> list[list[str]]:
    from tests.inbox.slack_stand_in import TICKET_REF

    return [TICKET_REF.findall(text) for text in texts]


if __name__ == "__main__":
    sys.exit(main())
