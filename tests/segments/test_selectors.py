"""Selectors: one contact in memory with a fixed number of queries, lists and counts in SQL."""

import datetime as dt
from decimal import Decimal

import pytest

from halo.models import Contact, PageView, Workspace
from segments.lang import RuleError
from segments.rules import rule_parse
from segments.selectors import (
    contact_count_matching,
    contact_facts,
    contact_matches,
    contacts_matching,
    rule_reads_time,
)
from tests.halo.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)


def test_contact_matches_reads_one_contact_with_at_most_two_queries(
    workspace: Workspace, django_assert_num_queries: object
) -> None:
    company = CompanyFactory(workspace=workspace, plan="Enterprise", mrr=Decimal("4900"))
    ContactFactory(workspace=workspace, company=company)
    PageView.objects.create(contact=Contact.objects.get(), url="/pricing")
    rule = rule_parse("company.mrr > 1000 AND activity.pages_visited contains /PRICING")
    contact = Contact.objects.get()

    with django_assert_num_queries(2):  # type: ignore[operator]
        assert contact_matches(contact=contact, rule=rule, now=NOW)
    contact = Contact.objects.select_related("company").get()
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert contact_matches(contact=contact, rule="company.plan = enterprise", now=NOW)


def test_contact_facts_of_a_contact_without_company_are_unknown(workspace: Workspace) -> None:
    contact = ContactFactory(workspace=workspace, plan="pro", custom_fields={"seats": 3})
    facts = contact_facts(contact=contact)
    assert facts["user.plan"] == "pro"
    assert facts["company.plan"] is None
    assert facts["user.custom_fields"] == {"seats": 3}
    assert facts["activity.pages_visited"] == ()
    assert contact_matches(contact=contact, rule="company.plan != enterprise", now=NOW)


def test_lists_and_counts_take_a_rule_as_text(workspace: Workspace) -> None:
    ContactFactory(workspace=workspace, plan="Pro")
    ContactFactory(workspace=workspace, plan=None)
    assert [c.plan for c in contacts_matching(workspace=workspace, rule="user.plan = pro", now=NOW)] == ["Pro"]
    assert contact_count_matching(workspace=workspace, rule="user.plan is unknown", now=NOW) == 1
    with pytest.raises(RuleError):
        contact_count_matching(workspace=workspace, rule="user.plan ~ pro", now=NOW)


def test_now_is_a_parameter_not_the_clock(workspace: Workspace) -> None:
    ContactFactory(workspace=workspace, last_active_at=dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC))
    rule = "activity.last_active exactly 9 days ago"
    assert contact_count_matching(workspace=workspace, rule=rule, now=NOW) == 1
    assert contact_count_matching(workspace=workspace, rule=rule, now=NOW + dt.timedelta(days=1)) == 0
    contact = Contact.objects.get()
    assert contact_matches(contact=contact, rule=rule, now=NOW)
    assert not contact_matches(contact=contact, rule=rule, now=NOW + dt.timedelta(days=1))


def test_the_matching_queryset_works_as_a_subquery_of_another_model(workspace: Workspace) -> None:
    enterprise = CompanyFactory(workspace=workspace, plan="Enterprise")
    inside = ContactFactory(workspace=workspace, company=enterprise)
    PageView.objects.create(contact=inside, url="/pricing")
    ContactFactory(workspace=workspace)
    matching = contacts_matching(
        workspace=workspace, rule="company.plan = enterprise AND activity.pages_visited has any value", now=NOW
    )
    # How another app filters its own rows by a rule, e.g. tickets: .filter(contact__in=matching).
    views = PageView.objects.filter(contact__in=matching)
    assert [view.contact_id for view in views] == [inside.pk]


@pytest.mark.parametrize(
    ("rule", "reads_time"),
    [
        ("company.plan = enterprise", False),
        ("user.created_at = 2026-01-05", False),  # a fixed day
        ("activity.last_active more than 7 days ago", True),
        ("company.plan = enterprise AND NOT user.created_at < 30 days ago", True),
        ("user.plan in (pro, team) OR activity.last_active exactly 0 days ago", True),
    ],
)
def test_a_rule_reads_the_time_when_it_counts_days_back_from_now(rule: str, reads_time: bool) -> None:
    assert rule_reads_time(rule) is reads_time
    assert rule_reads_time(rule_parse(rule)) is reads_time
