"""Reads of the segments app: which contacts a rule selects (SQL), whether one contact matches (in memory).

``contacts_matching`` / ``contact_count_matching`` compile the rule to SQL, for lists and counts.
``contact_matches`` evaluates it in memory against ``contact_facts`` — a fixed two queries at most (the
company, unless already loaded, and the visited pages, only when the rule reads them) — which is what
the escalation engine calls for one contact at escalation time. Both paths agree on every rule and every
contact (a property test holds them to it, on SQLite and PostgreSQL). A rule is given as text (checked
here, ``RuleError`` if invalid) or as an AST from ``segments.rules.rule_parse``.
"""

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from halo.models import Contact, Workspace
from segments.compiler import compile_q
from segments.lang import Facts, Node, evaluate
from segments.lang.ast import DaysAgo, conditions
from segments.models import Segment
from segments.rules import rule_parse

PAGES_FIELD = "activity.pages_visited"


def _node(rule: str | Node) -> Node:
    return rule_parse(rule) if isinstance(rule, str) else rule


def contacts_matching(*, workspace: Workspace, rule: str | Node, now: dt.datetime) -> QuerySet[Contact]:
    """The workspace's contacts that match ``rule`` at time ``now`` (a lazy queryset, unordered)."""
    return Contact.objects.filter(workspace=workspace).filter(compile_q(_node(rule), now=now))


def rule_reads_time(rule: str | Node) -> bool:
    """Whether what a rule selects depends on when it is evaluated (a condition on "N days ago"): its SQL then
    holds values computed from ``now``."""
    return any(isinstance(value, DaysAgo) for condition in conditions(_node(rule)) for value in condition.values)


def contact_count_matching(*, workspace: Workspace, rule: str | Node, now: dt.datetime) -> int:
    return contacts_matching(workspace=workspace, rule=rule, now=now).count()


def contact_matches(*, contact: Contact, rule: str | Node, now: dt.datetime) -> bool:
    """Whether one contact matches ``rule`` at ``now``, evaluated in memory."""
    node = _node(rule)
    with_pages = any(condition.field.lower() == PAGES_FIELD for condition in conditions(node))
    return evaluate(node, contact_facts(contact=contact, with_pages=with_pages), now=now)


def contact_facts(*, contact: Contact, with_pages: bool = True) -> Facts:
    """One contact's data keyed by catalog field name, as the evaluator reads it."""
    company = contact.company
    facts: dict[str, Any] = {
        "user.name": contact.name,
        "user.email": contact.email,
        "user.role": contact.role,
        "user.plan": contact.plan,
        "user.user_id": contact.user_id,
        "user.created_at": contact.created_at,
        "user.custom_fields": contact.custom_fields,
        "company.name": company.name if company else None,
        "company.plan": company.plan if company else None,
        "company.employee_count": company.employee_count if company else None,
        "company.mrr": company.mrr if company else None,
        "company.industry": company.industry if company else None,
        "company.custom_fields": company.custom_fields if company else None,
        "stripe.subscription_status": contact.subscription_status,
        "stripe.mrr": contact.stripe_mrr,
        "stripe.lifetime_value": contact.lifetime_value,
        "activity.last_active": contact.last_active_at,
        PAGES_FIELD: (),
    }
    if with_pages and contact.pk is not None:
        facts[PAGES_FIELD] = tuple(contact.page_views.values_list("url", flat=True).distinct())
    return facts


def segment_list(*, workspace: Workspace) -> QuerySet[Segment]:
    return Segment.objects.filter(workspace=workspace).order_by("name", "pk")


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment:
    """A segment of the workspace; ``Segment.DoesNotExist`` for another workspace's id."""
    return segment_list(workspace=workspace).get(pk=segment_id)
