"""B4: segments — in-memory evaluations per second, and compiled SQL against hand-written SQL over 1M contacts.

Part 1 (in process, no database): a 3-condition rule evaluated over a fixed, seeded batch of contacts'
facts, beside a hand-written Python function of the same three checks (the baseline) in the same run.

Part 2 (PostgreSQL, database ``halo_bench_segments``, created and migrated if absent): 1,000,000 contacts
(and 10,000 companies) generated with ``INSERT … SELECT generate_series`` once, then each rule counted
through the compiled ``Q`` (the ORM call users make) and through a hand-written SQL query for the same
rule, interleaved, with medians and p99; the counts must be equal, and the compiled query's ``EXPLAIN``
must not run a per-row subplan.

    .venv/bin/python bench/segments.py [--repeats 30] [--batch 20000] [--contacts 1000000] [--skip-sql]

The PostgreSQL server is ``BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``). Exit status 1
when a target is missed (at least 300k evaluations/s; compiled at most 1.5 times hand-written).
"""

import argparse
import datetime as dt
import os
import random
import re
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "halo_bench_segments"
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
TARGET_PER_SECOND = 300_000
TARGET_RATIO = 1.5
NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)

RULE_3 = "company.plan = enterprise AND stripe.mrr > 100 AND activity.last_active less than 30 days ago"
RULES_SQL = {
    "3 conditions (company, number, date)": (
        RULE_3,
        """SELECT count(*) FROM halo_contact c JOIN halo_company co ON co.id = c.company_id
           WHERE c.workspace_id = %(ws)s AND lower(co.plan) = 'enterprise' AND c.stripe_mrr > 100
             AND c.last_active_at >= %(day_after_cutoff)s""",
    ),
    "custom fields + NOT": (
        "user.custom_fields.is_vip = true AND user.custom_fields.seats >= 10 AND NOT user.plan = free",
        """SELECT count(*) FROM halo_contact c
           WHERE c.workspace_id = %(ws)s
             AND c.custom_fields @> '{"is_vip": true}'
             AND CASE WHEN jsonb_typeof(c.custom_fields -> 'seats') = 'number'
                      THEN (c.custom_fields ->> 'seats')::numeric END >= 10
             AND (c.plan IS NULL OR lower(c.plan) <> 'free')""",
    ),
    "OR over text and pages": (
        'user.email ends with "@acme.com" OR activity.pages_visited contains "/pricing"',
        """SELECT count(*) FROM halo_contact c
           WHERE c.workspace_id = %(ws)s
             AND (lower(c.email) LIKE '%%@acme.com'
                  OR EXISTS (SELECT 1 FROM halo_pageview p WHERE p.contact_id = c.id
                             AND strpos(lower(p.url), '/pricing') > 0))""",
    ),
}


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# --- part 1: in memory ----------------------------------------------------------------------------------


def memory_facts(size: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "company.plan": rng.choice(["Enterprise", "enterprise", "pro", "team", None]),
            "stripe.mrr": rng.choice([None, Decimal(rng.randint(0, 400))]),
            "activity.last_active": rng.choice([None, NOW - dt.timedelta(hours=rng.randint(0, 24 * 90))]),
        }
        for _ in range(size)
    ]


# The baseline knows "now" in advance; the evaluator works the day out from "now" (and caches it).
CUTOFF = dt.datetime.combine((NOW - dt.timedelta(days=30)).date(), dt.time(), dt.UTC) + dt.timedelta(days=1)


def hand_written(facts: dict[str, Any], now: dt.datetime) -> bool:
    plan = facts["company.plan"]
    mrr = facts["stripe.mrr"]
    last = facts["activity.last_active"]
    return (
        isinstance(plan, str)
        and plan.lower() == "enterprise"
        and mrr is not None
        and mrr > 100
        and last is not None
        and last >= CUTOFF
    )


def bench_memory(repeats: int, batch: int) -> tuple[list[tuple[str, float, float]], float]:
    from segments.lang import CONTACT_CATALOG, compile_predicate, parse_checked

    predicate = compile_predicate(parse_checked(RULE_3, CONTACT_CATALOG))
    facts = memory_facts(batch)
    assert [predicate(f, NOW) for f in facts] == [hand_written(f, NOW) for f in facts]
    rows = []
    for label, function in (("hand-written Python (baseline)", hand_written), ("evaluator, compiled rule", predicate)):
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            for item in facts:
                function(item, NOW)
            rates.append(batch / (time.perf_counter() - started))
        median, _ = _stats(rates)
        slowest = sorted(rates)[max(0, int(len(rates) * 0.01))]
        rows.append((label, median, slowest))
    return rows, rows[1][1]


# --- part 2: PostgreSQL -----------------------------------------------------------------------------------


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')


def generate(contacts: int) -> int:
    """The benchmark workspace's id; its contacts are generated once (a re-run reuses them)."""
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    from halo.models import Company, Contact, Workspace

    workspace = Workspace.objects.filter(slug="bench-segments").first()
    if workspace is not None and Contact.objects.filter(workspace=workspace).count() == contacts:
        return workspace.pk
    if workspace is not None:
        workspace.delete()
    workspace = Workspace.objects.create(name="Bench segments", slug="bench-segments")
    companies = max(1, contacts // 100)

    def insert(model: Any, count: int, expressions: dict[str, str]) -> None:
        columns, values, params = [], [], []
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            columns.append(f'"{field.column}"')
            if field.column in expressions:
                values.append(expressions[field.column].replace("%", "%%"))
            elif field.null:
                values.append("NULL")
            else:
                default = field.get_default() if field.default is not NOT_PROVIDED else ""
                values.append("%s")
                params.append(field.get_db_prep_save(default, connection))
        sql = (
            f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, {count}) AS g"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    ws = str(workspace.pk)
    insert(
        Company,
        companies,
        {
            "workspace_id": ws,
            "company_id": "'co-' || g",
            "name": "'Company ' || g",
            "plan": "(ARRAY['free', 'pro', 'Enterprise', 'team'])[1 + g % 4]",
            "employee_count": "g % 500",
            "mrr": "(g % 1000) * 10",
            "industry": "(ARRAY['saas', 'retail', NULL])[1 + g % 3]",
        },
    )
    first_company = Company.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)[0]
    insert(
        Contact,
        contacts,
        {
            "workspace_id": ws,
            "user_id": "'u' || g",
            "email": "'u' || g || (ARRAY['@acme.com', '@example.com', '@mail.test'])[1 + g % 3]",
            "name": "'User ' || g",
            "plan": "(ARRAY['free', 'Pro', 'team', NULL])[1 + g % 4]",
            "custom_fields": (
                "CASE g % 5 WHEN 0 THEN '{}'::jsonb "
                "WHEN 1 THEN jsonb_build_object('is_vip', 'yes', 'seats', 'many') "
                "ELSE jsonb_build_object('is_vip', g % 7 = 0, 'seats', g % 50) END"
            ),
            "company_id": f"CASE WHEN g % 10 = 0 THEN NULL ELSE {first_company} + (g % {companies}) END",
            "subscription_status": "(ARRAY['active', 'trialing', 'canceled'])[1 + g % 3]",
            "stripe_mrr": "CASE WHEN g % 6 = 0 THEN NULL ELSE (g % 300)::numeric END",
            "lifetime_value": "(g % 5000)::numeric",
            "last_active_at": (
                f"CASE WHEN g % 8 = 0 THEN NULL "
                f"ELSE '{NOW.isoformat()}'::timestamptz - (g % 2160) * interval '1 hour' END"
            ),
            "created_at": f"'{NOW.isoformat()}'::timestamptz - interval '400 days'",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO halo_pageview (contact_id, url, occurred_at) "
            "SELECT c.id, (ARRAY['/docs', '/Pricing/team', '/blog', '/app'])[1 + (c.id + s) %% 4], %s "
            "FROM halo_contact c CROSS JOIN generate_series(1, 2) AS s WHERE c.workspace_id = %s AND c.id %% 3 = 0",
            [NOW, workspace.pk],
        )
        cursor.execute("ANALYZE")
    return workspace.pk


def bench_sql(repeats: int, contacts: int) -> tuple[list[tuple[str, float, float, float, float, float]], list[str]]:
    from django.db import connection

    from halo.models import Contact
    from segments.compiler import compile_q
    from segments.rules import rule_parse

    workspace_id = generate(contacts)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # statistics for indexes a migration may just have added
    cutoff_day = (NOW - dt.timedelta(days=30)).date() + dt.timedelta(days=1)
    params = {"ws": workspace_id, "day_after_cutoff": dt.datetime.combine(cutoff_day, dt.time(), dt.UTC)}
    rows, plans = [], []
    for label, (rule, hand_sql) in RULES_SQL.items():
        node = rule_parse(rule)

        def compiled(node: Any = node) -> int:
            return Contact.objects.filter(workspace_id=workspace_id).filter(compile_q(node, now=NOW)).count()

        def hand(hand_sql: str = hand_sql) -> int:
            with connection.cursor() as cursor:
                cursor.execute(hand_sql, params)
                return int(cursor.fetchone()[0])

        count = compiled()
        assert count == hand(), f"{label}: compiled {count} != hand-written {hand()}"
        compiled_times: list[float] = []
        hand_times: list[float] = []
        for _ in range(repeats):
            for function, times in ((compiled, compiled_times), (hand, hand_times)):
                started = time.perf_counter()
                function()
                times.append((time.perf_counter() - started) * 1000)
        compiled_median, compiled_p99 = _stats(compiled_times)
        hand_median, hand_p99 = _stats(hand_times)
        rows.append((label, count, hand_median, hand_p99, compiled_median, compiled_p99))
        queryset = Contact.objects.filter(workspace_id=workspace_id).filter(compile_q(node, now=NOW))
        plan = queryset.explain()
        plans.append(f"-- {label}: {rule}\n{plan}")
        # A hashed subplan runs once; a plain one runs per contact (what a correlated EXISTS must not become).
        assert not re.search(r"(?<!hashed )SubPlan \d+\)", plan), f"{label}: a subplan runs per row:\n{plan}"
    return rows, plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--skip-sql", action="store_true", help="only the in-memory part (no PostgreSQL)")
    parser.add_argument("--explain", action="store_true", help="print the compiled queries' plans")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    if not args.skip_sql:
        ensure_database()
        os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    import django

    django.setup()
    ok = True

    rows, rate = bench_memory(args.repeats, args.batch)
    print(f"\nIn memory: `{RULE_3}` over {args.batch:,} contacts' facts, {args.repeats} repeats\n")
    print("| evaluation | median/s | slowest 1%/s |\n|---|---|---|")
    for label, median, slowest in rows:
        print(f"| {label} | {median:,.0f} | {slowest:,.0f} |")
    verdict = "pass" if rate >= TARGET_PER_SECOND else "FAIL"
    print(f"\nRatio evaluator/baseline {rate / rows[0][1]:.2f}; target ≥ {TARGET_PER_SECOND:,}/s: **{verdict}**")
    ok &= rate >= TARGET_PER_SECOND

    if not args.skip_sql:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        sql_rows, plans = bench_sql(args.repeats, args.contacts)
        print(f"\nPostgreSQL: count over {args.contacts:,} contacts, {args.repeats} interleaved repeats (ms)\n")
        print(
            "| rule | matches | hand-written median | p99 | compiled median | p99 | ratio |\n"
            "|---|---|---|---|---|---|---|"
        )
        for label, count, hand_median, hand_p99, compiled_median, compiled_p99 in sql_rows:
            ratio = compiled_median / hand_median
            ok &= ratio <= TARGET_RATIO
            print(
                f"| {label} | {count:,} | {hand_median:.1f} | {hand_p99:.1f} | {compiled_median:.1f} | "
                f"{compiled_p99:.1f} | {ratio:.2f} |"
            )
        print(f"\nTarget: compiled ≤ {TARGET_RATIO} x hand-written: **{'pass' if ok else 'FAIL'}**")
        if args.explain:
            print("\n" + "\n\n".join(plans))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
