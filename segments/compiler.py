"""The Django compiler: a checked segment rule → a ``Q`` over ``Contact`` (with its company and page views).

Invariants the SQL holds, so that it agrees with ``segments.lang.evaluator`` on every rule and contact:

- ``NOT`` is pushed down to the conditions first (``push_not_down``); a negated condition compiles to
  ``NOT COALESCE((positive), FALSE)``, the exact complement of the positive one even where SQL's positive
  comparison is NULL (unknown value). Django's own ``~Q(...)`` is never applied to a nullable comparison.
- A positive condition may be NULL on unknown values; that is safe because, after the push-down, no ``NOT``
  sits above it and a NULL under AND/OR excludes the row exactly as FALSE would.
- Company conditions are ``EXISTS`` over the contact's company and page conditions ``EXISTS`` over its
  page views: no join can drop a contact without a company, and negation is plain ``NOT EXISTS``.
- On PostgreSQL, equality with a JSON number or boolean is containment (``cf @> '{"k": 5}'``), the same
  comparison in a form a GIN index serves (``halo`` migration ``0004``).
- JSON keys are read through a ``CASE`` on the JSON type (never an AND guard: SQL does not promise the
  evaluation order), so a value of another JSON type is NULL, i.e. unknown.
- Text is folded with ``lower()`` on PostgreSQL and with ``segments.lang.folding.fold`` itself on SQLite
  (registered on each connection as ``halo_fold``); literals are folded in Python by the same function.
- "Now" and every literal are bound parameters; nothing is formatted into the SQL text but the column
  references Django compiles and the fixed SQL of this module.

The field bindings (which column, through which relation, each catalog field reads) are data:
``CONTACT_BINDINGS``. Only the PostgreSQL and SQLite back ends are supported.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Exists, Expression, F, OuterRef, Q
from django.db.models.sql.compiler import SQLCompiler

from halo.models import Company, PageView
from segments.lang.ast import And, Condition, Node, Not, Op, Or
from segments.lang.catalog import CONTACT_CATALOG, Catalog, FieldType
from segments.lang.normalize import push_not_down
from segments.lang.semantics import Kind, Plan, day_range, plan_condition

Via = Literal["contact", "company", "page_views"]


@dataclass(frozen=True, slots=True)
class Binding:
    """Where a catalog field lives: a column of the contact, of its company, or of its page views."""

    column: str
    via: Via = "contact"


CONTACT_BINDINGS: dict[str, Binding] = {
    "user.name": Binding("name"),
    "user.email": Binding("email"),
    "user.role": Binding("role"),
    "user.plan": Binding("plan"),
    "user.user_id": Binding("user_id"),
    "user.created_at": Binding("created_at"),
    "user.custom_fields": Binding("custom_fields"),
    "company.name": Binding("name", "company"),
    "company.plan": Binding("plan", "company"),
    "company.employee_count": Binding("employee_count", "company"),
    "company.mrr": Binding("mrr", "company"),
    "company.industry": Binding("industry", "company"),
    "company.custom_fields": Binding("custom_fields", "company"),
    "stripe.subscription_status": Binding("subscription_status"),
    "stripe.mrr": Binding("stripe_mrr"),
    "stripe.lifetime_value": Binding("lifetime_value"),
    "activity.last_active": Binding("last_active_at"),
    "activity.pages_visited": Binding("url", "page_views"),
}


def compile_q(
    node: Node,
    *,
    now: dt.datetime,
    catalog: Catalog = CONTACT_CATALOG,
    bindings: dict[str, Binding] = CONTACT_BINDINGS,
) -> Q:
    """A ``Q`` for ``Contact`` that selects exactly the contacts the (checked) rule matches at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return _compile(push_not_down(node), now, catalog, bindings)


def _compile(node: Node, now: dt.datetime, catalog: Catalog, bindings: dict[str, Binding]) -> Q:
    if isinstance(node, Condition):
        return _condition(node, False, now, catalog, bindings)
    if isinstance(node, Not):
        assert isinstance(node.operand, Condition), "push_not_down leaves NOT only on conditions"
        return _condition(node.operand, True, now, catalog, bindings)
    parts = [_compile(operand, now, catalog, bindings) for operand in node.operands]
    assert isinstance(node, And | Or)
    return functools.reduce(operator.and_ if isinstance(node, And) else operator.or_, parts)


def _condition(
    condition: Condition, negate: bool, now: dt.datetime, catalog: Catalog, bindings: dict[str, Binding]
) -> Q:
    field = catalog.resolve(condition.field)
    assert field is not None, "the checker refuses unknown fields"
    plan = plan_condition(condition, field)
    negated = plan.negated != negate
    binding = bindings[field.spec.name]
    if binding.via == "contact":
        return Q(RulePredicate(F(binding.column), plan=plan, json_key=field.key, now=now, negated=negated))
    predicate = RulePredicate(F(binding.column), plan=plan, json_key=field.key, now=now)
    if binding.via == "company":
        related = Exists(Company.objects.filter(pk=OuterRef("company_id")).filter(predicate))
    else:
        related = Exists(PageView.objects.filter(contact_id=OuterRef("pk")).filter(predicate))
    return ~Q(related) if negated else Q(related)


class RulePredicate(Expression):
    """One condition's comparison, rendered per database vendor; never NULL when ``negated``."""

    conditional = True
    output_field = BooleanField()

    def __init__(
        self,
        column: Any,
        *,
        plan: Plan,
        json_key: str | None,
        now: dt.datetime,
        negated: bool = False,
    ) -> None:
        super().__init__(output_field=BooleanField())
        self.column = column
        self.plan = plan
        self.json_key = json_key
        self.now = now
        self.negated = negated

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, list[Any]]:
        column_sql, column_params = compiler.compile(self.column)
        if column_params:
            raise NotSupportedError("a segment rule compares plain columns only")
        if connection.vendor not in ("postgresql", "sqlite"):
            raise NotSupportedError(f"segment rules do not support {connection.vendor}")
        sql, params = _Renderer(connection, column_sql, self.json_key, self.now).render(self.plan)
        if self.negated:
            sql = f"NOT COALESCE(({sql}), {'FALSE' if connection.vendor == 'postgresql' else '0'})"
        return f"({sql})", params


class _Renderer:
    """The SQL of one plan on one vendor. Every literal goes out as a parameter."""

    def __init__(self, connection: BaseDatabaseWrapper, column: str, json_key: str | None, now: dt.datetime) -> None:
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        self.column = column
        self.json_key = json_key
        self.now = now

    # --- values -----------------------------------------------------------------------------------

    def json_read(self, kind: Kind) -> tuple[str, list[Any]]:
        """The JSON key as a typed SQL value, NULL when it holds another JSON type."""
        c = self.column
        key = self.json_key
        assert key is not None
        if self.postgres:
            guard = {"text": "'string'", "number": "'number'", "boolean": "'boolean'"}[kind.value]
            cast = {"text": "", "number": "::numeric", "boolean": "::boolean"}[kind.value]
            return f"CASE WHEN jsonb_typeof({c} -> %s::text) = {guard} THEN ({c} ->> %s::text){cast} END", [key, key]
        # SQLite matches path labels against the key as written in the JSON text, and Django writes JSON
        # with ASCII escapes (`"\u043a…"`): the label is escaped the same way, as Django's KeyTransform does.
        path = "$." + json.dumps(key)
        if kind is Kind.BOOLEAN:
            return f"CASE json_type({c}, %s) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END", [path]
        types = "'text'" if kind is Kind.TEXT else "'integer', 'real'"
        return f"CASE WHEN json_type({c}, %s) IN ({types}) THEN json_extract({c}, %s) END", [path, path]

    def value(self, kind: Kind) -> tuple[str, list[Any]]:
        sql, params = self.json_read(kind) if self.json_key is not None else (self.column, [])
        if kind is Kind.TEXT:
            sql = f"{'lower' if self.postgres else 'halo_fold'}({sql})"
        return sql, params

    def number_param(self, number: Decimal) -> Any:
        if self.postgres:
            return number
        # SQLite compares numbers only with numbers: a Decimal would be bound as text.
        return int(number) if number == number.to_integral_value() else float(number)

    def boolean_param(self, value: bool) -> Any:
        return value if self.postgres else int(value)

    # --- conditions -------------------------------------------------------------------------------

    def render(self, plan: Plan) -> tuple[str, list[Any]]:
        if plan.op is Op.HAS_ANY_VALUE:
            return self.has_value(textual=plan.field.type in (FieldType.TEXT, FieldType.PAGES))
        if plan.kind is Kind.DAY:
            return self.day(plan)
        if plan.op is Op.IN:
            return self.in_list(plan)
        if plan.kind is Kind.TEXT:
            return self.text_match(plan)
        sql, params = self.value(Kind.NUMBER)
        symbol = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}[plan.op]
        return f"{sql} {symbol} %s", [*params, self.number_param(plan.numbers[0])]

    def in_list(self, plan: Plan) -> tuple[str, list[Any]]:
        groups: list[tuple[str, list[Any]]] = []
        for kind, literals in (
            (Kind.TEXT, list(plan.texts)),
            (Kind.NUMBER, [self.number_param(n) for n in plan.numbers]),
            (Kind.BOOLEAN, [self.boolean_param(b) for b in plan.booleans]),
        ):
            if not literals:
                continue
            if self.postgres and self.json_key is not None and kind is not Kind.TEXT:
                groups.append(self.json_contains(kind, literals))
                continue
            sql, params = self.value(kind)
            if len(literals) == 1:
                groups.append((f"{sql} = %s", [*params, *literals]))
            else:
                groups.append((f"{sql} IN ({', '.join(['%s'] * len(literals))})", [*params, *literals]))
        if len(groups) == 1:
            return groups[0]
        return " OR ".join(f"({sql})" for sql, _ in groups), [p for _, params in groups for p in params]

    def json_contains(self, kind: Kind, literals: list[Any]) -> tuple[str, list[Any]]:
        """Equality with a JSON number or boolean as containment, which a GIN index serves (PostgreSQL).

        ``cf @> '{"k": 5}'`` holds exactly when ``k`` is a JSON number equal to 5 (numeric equality:
        ``5.0`` too) — never for a string ``"5"`` or an array ``[5]`` — i.e. the typed comparison.
        """
        key = json.dumps(self.json_key)
        documents = [f"{{{key}: {str(v) if kind is Kind.NUMBER else json.dumps(v)}}}" for v in literals]
        sql = " OR ".join([f"{self.column} @> %s::jsonb"] * len(documents))
        return (f"({sql})" if len(documents) > 1 else sql), documents

    def text_match(self, plan: Plan) -> tuple[str, list[Any]]:
        sql, params = self.value(Kind.TEXT)
        needle = plan.texts[0]
        if plan.op is Op.CONTAINS:
            function = "strpos" if self.postgres else "instr"
            return f"{function}({sql}, %s) > 0", [*params, needle]
        if plan.op is Op.STARTS_WITH:
            if self.postgres:
                return f"left({sql}, %s) = %s", [*params, len(needle), needle]
            return f"substr({sql}, 1, %s) = %s", [*params, len(needle), needle]
        assert plan.op is Op.ENDS_WITH
        if self.postgres:
            return f"right({sql}, %s) = %s", [*params, len(needle), needle]
        return f"substr({sql}, %s) = %s", [*params, -len(needle), needle]

    def day(self, plan: Plan) -> tuple[str, list[Any]]:
        assert plan.day is not None
        start, end = (self.connection.ops.adapt_datetimefield_value(bound) for bound in day_range(plan.day, self.now))
        c = self.column
        if plan.op is Op.EQ:
            return f"{c} >= %s AND {c} < %s", [start, end]
        symbol, bound = {Op.LT: ("<", start), Op.LE: ("<", end), Op.GT: (">=", end), Op.GE: (">=", start)}[plan.op]
        return f"{c} {symbol} %s", [bound]

    def has_value(self, *, textual: bool) -> tuple[str, list[Any]]:
        c = self.column
        key = self.json_key
        if key is None:
            # Text columns keep "no value" as NULL (a check constraint), but "" is unknown all the same.
            return f"{c} IS NOT NULL AND {c} <> ''" if textual else f"{c} IS NOT NULL", []
        if self.postgres:
            return (
                f"CASE jsonb_typeof({c} -> %s::text) WHEN 'string' THEN ({c} ->> %s::text) <> '' "
                f"WHEN 'array' THEN jsonb_array_length({c} -> %s::text) > 0 "
                f"WHEN 'object' THEN ({c} -> %s::text) <> '{{}}'::jsonb "
                f"WHEN 'number' THEN TRUE WHEN 'boolean' THEN TRUE ELSE FALSE END",
                [key] * 4,
            )
        path = "$." + json.dumps(key)
        return (
            f"CASE json_type({c}, %s) WHEN 'text' THEN json_extract({c}, %s) <> '' "
            f"WHEN 'array' THEN json_array_length({c}, %s) > 0 "
            f"WHEN 'object' THEN json_extract({c}, %s) <> '{{}}' "
            f"WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'true' THEN 1 WHEN 'false' THEN 1 ELSE 0 END",
            [path] * 4,
        )
