# ruff: noqa: RUF001 (Greek and Turkish letters are the point: they are the case-folding traps)
"""SQL and memory agree: the compiled ``Q`` selects exactly the contacts the evaluator matches.

The differential property test runs on whichever database the suite uses; CI runs it on SQLite and on
PostgreSQL (the ``postgres`` variant is skipped unless ``DATABASE_URL`` points at PostgreSQL).
"""

import sys
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halo.models import Company, Contact, PageView, Workspace
from segments.compiler import compile_q
from segments.lang import CONTACT_CATALOG, parse_checked
from segments.lang.ast import Node, Not
from segments.lang.evaluator import evaluate
from segments.lang.folding import fold
from segments.selectors import contact_facts, contacts_matching
from tests.segments.strategies import NOW, contacts, rules

requires_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="DATABASE_URL is not PostgreSQL")
requires_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the suite runs on PostgreSQL")


def _create(workspace: Workspace, rows: Iterable[dict[str, Any]]) -> list[Contact]:
    created = []
    user_ids: set[str] = set()
    for index, row in enumerate(rows):
        row = dict(row)
        company_data = row.pop("company")
        pages = row.pop("pages")
        if row["user_id"] in user_ids:
            row["user_id"] = None
        if row["user_id"] is not None:
            user_ids.add(row["user_id"])
        company = (
            Company.objects.create(workspace=workspace, company_id=f"co-{index}", **company_data)
            if company_data
            else None
        )
        contact = Contact.objects.create(workspace=workspace, company=company, **row)
        PageView.objects.bulk_create(PageView(contact=contact, url=url) for url in pages)
        created.append(contact)
    return created


def _agree(workspace: Workspace, people: list[Contact], node: Node) -> None:
    in_sql = set(
        Contact.objects.filter(workspace=workspace).filter(compile_q(node, now=NOW)).values_list("pk", flat=True)
    )
    in_memory = {contact.pk for contact in people if evaluate(node, contact_facts(contact=contact), now=NOW)}
    assert in_sql == in_memory
    complement = Contact.objects.filter(workspace=workspace).filter(compile_q(Not(node), now=NOW)).count()
    assert len(in_sql) + complement == len(people)


def _differential(max_examples: int) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(st.lists(contacts(), min_size=1, max_size=8), st.lists(rules, min_size=1, max_size=8))
    def run(rows: list[dict[str, Any]], generated: list[Node]) -> None:
        with transaction.atomic():
            workspace = Workspace.objects.create(name="w", slug="w")
            people = _create(workspace, rows)
            # Read back: the evaluator sees what the database stored (e.g. Decimal precision).
            people = list(Contact.objects.filter(workspace=workspace).select_related("company"))
            for node in generated:
                _agree(workspace, people, node)
            transaction.set_rollback(True)

    run()


@requires_sqlite
@pytest.mark.django_db
def test_sql_and_memory_agree_on_generated_rules_and_contacts_sqlite() -> None:
    _differential(max_examples=120)


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db
def test_sql_and_memory_agree_on_generated_rules_and_contacts_postgres() -> None:
    _differential(max_examples=120)


TRICKY_CONTACTS: list[dict[str, Any]] = [
    {
        "name": "İstanbul",
        "plan": "ß",
        "custom_fields": {"a": "ΟΔΟΣ", "b": True},
        "company": None,
        "pages": ["/Pricing"],
    },
    {"name": "istanbul", "plan": "SS", "custom_fields": {"a": "οδος", "b": "true"}, "company": None, "pages": []},
    {"name": "100%_\\", "plan": None, "custom_fields": {"a": 5, "b": None}, "company": None, "pages": ["/a%b"]},
    {"name": None, "plan": "pro", "custom_fields": {"a": "", "b": 2.5}, "company": None, "pages": []},
    {"name": "Ω", "plan": "PRO", "custom_fields": {"a": [], "b": {}}, "company": {"plan": "Enterprise"}, "pages": []},
    {"name": "x", "plan": "Free", "custom_fields": {}, "company": {"plan": None, "mrr": 5}, "pages": ["/x"]},
]
TRICKY_RULES = [
    "user.name = istanbul",
    "user.name starts with i",
    "user.name contains '%'",
    "user.name contains _",
    "user.name ends with '\\\\'",
    "user.plan = ss",
    "user.plan = ß",
    "user.plan in (pro, free)",
    "user.plan not in (pro, free)",
    "user.custom_fields.a = 'οδος'",
    "user.custom_fields.a ends with σ",
    "user.custom_fields.a > 4",
    "user.custom_fields.a has any value",
    "user.custom_fields.a is unknown",
    "user.custom_fields.b = true",
    "user.custom_fields.b != true",
    "user.custom_fields.b in (true, 2.5, 'true')",
    "company.plan = enterprise",
    "company.plan != enterprise",
    "company.plan is unknown",
    "company.mrr >= 5",
    "NOT company.mrr >= 5",
    "activity.pages_visited contains %",
    "activity.pages_visited is unknown",
    "NOT (activity.pages_visited contains pricing OR user.plan = pro)",
]


@pytest.mark.django_db
@pytest.mark.parametrize("text", TRICKY_RULES)
def test_sql_and_memory_agree_on_the_known_traps(text: str) -> None:
    workspace = Workspace.objects.create(name="w", slug="w")
    defaults = {"email": None, "role": None, "user_id": None, "subscription_status": None, "stripe_mrr": None}
    defaults |= {"lifetime_value": None, "created_at": NOW, "last_active_at": None}
    _create(workspace, [defaults | row for row in TRICKY_CONTACTS])
    people = list(Contact.objects.filter(workspace=workspace).select_related("company"))
    _agree(workspace, people, parse_checked(text, CONTACT_CATALOG))


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["ключ", "a.b", "a-b_1", "Seats"])
def test_custom_field_keys_with_dots_dashes_and_letters_of_any_script(key: str) -> None:
    workspace = Workspace.objects.create(name="w", slug="w")
    _create(
        workspace,
        [
            {"user_id": "1", "custom_fields": {key: 5, "other": 5}, "company": None, "pages": []},
            {
                "user_id": "2",
                "custom_fields": {key.lower() if key != key.lower() else "x": 5},
                "company": None,
                "pages": [],
            },
        ],
    )
    people = list(Contact.objects.filter(workspace=workspace).select_related("company"))
    for text in (f"user.custom_fields.{key} = 5", f"user.custom_fields.{key} has any value"):
        node = parse_checked(text, CONTACT_CATALOG)
        _agree(workspace, people, node)
        matching = contacts_matching(workspace=workspace, rule=node, now=NOW)
        assert [contact.user_id for contact in matching] == ["1"]


@pytest.mark.django_db
def test_rules_only_select_contacts_of_the_workspace() -> None:
    mine, theirs = (Workspace.objects.create(name=n, slug=n) for n in ("mine", "theirs"))
    for workspace in (mine, theirs):
        Contact.objects.create(workspace=workspace, plan="pro")
    matching = contacts_matching(workspace=mine, rule="user.plan = pro", now=NOW)
    assert [contact.workspace_id for contact in matching] == [mine.pk]


def _chunks(size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    for code in range(1, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        chunk.append(chr(code))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@pytest.mark.postgres
@requires_postgres
@pytest.mark.django_db
def test_postgres_lower_agrees_with_fold_on_every_code_point() -> None:
    disagreements = []
    with connection.cursor() as cursor:
        for chunk in _chunks(100_000):
            cursor.execute("SELECT lower(x) FROM unnest(%s::text[]) WITH ORDINALITY AS t(x, i) ORDER BY i", [chunk])
            for char, (lowered,) in zip(chunk, cursor.fetchall(), strict=True):
                if lowered != fold(char):
                    disagreements.append((hex(ord(char)), lowered, fold(char)))
    assert disagreements == []


@requires_sqlite
@pytest.mark.django_db
def test_sqlite_folding_function_agrees_with_fold_on_every_code_point() -> None:
    disagreements = []
    with connection.cursor() as cursor:
        for chunk in _chunks(20_000):
            placeholders = ", ".join(["(%s)"] * len(chunk))
            cursor.execute(f"SELECT halo_fold(column1) FROM (VALUES {placeholders})", chunk)  # noqa: S608
            for char, (lowered,) in zip(chunk, cursor.fetchall(), strict=True):
                if lowered != fold(char):
                    disagreements.append((hex(ord(char)), lowered, fold(char)))
    assert disagreements == []
