"""What a condition means, decided once for both back ends (the evaluator and the SQL compiler).

``plan_condition`` turns a checked ``Condition`` into a ``Plan``: the positive operator it applies (every
negated operator is the exact ``NOT`` of a positive one), whether to negate it, and its operands already
coerced to the comparison they take part in — folded text, ``Decimal`` numbers, booleans, or a day. Both
back ends read only the plan, so they cannot drift apart on aliases, coercions or case.

Semantics: a positive operator is false on an unknown value — missing, null, empty text, the
wrong JSON type for the comparison, or an absent company. Dates are whole UTC days: ``= 2024-01-31`` is
that day, ``< 2024-01-31`` is before it, ``> 2024-01-31`` after it; ``N days ago`` is the UTC day N days
before "now", ``more than N days ago`` means ``< N days ago``, ``less than`` means ``>`` and ``exactly``
means ``=``.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass
from decimal import Decimal

from segments.lang.ast import (
    ORDER_OPS,
    TEXT_OPS,
    Boolean,
    Condition,
    Date,
    DaysAgo,
    Number,
    Op,
    Text,
    Value,
)
from segments.lang.catalog import FieldType, ResolvedField
from segments.lang.folding import fold


class Kind(enum.Enum):
    """The comparison a condition makes."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DAY = "date"
    ANY = "any"  # has any value


def comparison_kind(field_type: FieldType, op: Op, value: Value) -> Kind | None:
    """How ``value`` is compared with a field of ``field_type`` under ``op``; ``None`` when it cannot be."""
    textual = isinstance(value, Text | Number | Boolean | Date)
    if field_type in (FieldType.TEXT, FieldType.PAGES):
        return Kind.TEXT if textual else None
    if field_type is FieldType.NUMBER:
        return Kind.NUMBER if isinstance(value, Number) else None
    if field_type is FieldType.DATETIME:
        return Kind.DAY if isinstance(value, Date | DaysAgo) else None
    # JSON: the literal decides; dates are compared as the ISO text a custom field would hold.
    if op in ORDER_OPS:
        return Kind.NUMBER if isinstance(value, Number) else None
    if op in TEXT_OPS:
        return Kind.TEXT if textual else None
    if isinstance(value, Number):
        return Kind.NUMBER
    if isinstance(value, Boolean):
        return Kind.BOOLEAN
    return Kind.TEXT if textual else None


def value_text(value: Value) -> str:
    """The text a value stands for when it is compared as text (``042`` stays ``042``)."""
    if isinstance(value, Text):
        return value.value
    if isinstance(value, Number):
        return value.source_text
    if isinstance(value, Boolean):
        return "true" if value.value else "false"
    if isinstance(value, Date):
        return value.value.isoformat()
    return f"{value.days} days ago"


_DAY_ALIASES = {Op.MORE_THAN_DAYS_AGO: Op.LT, Op.LESS_THAN_DAYS_AGO: Op.GT, Op.EXACTLY_DAYS_AGO: Op.EQ}


@dataclass(frozen=True, slots=True)
class Plan:
    """A condition reduced to one positive operator, a negation flag and coerced operands.

    ``op`` is one of ``IN`` (equality with any of the operands; ``=`` is ``IN`` with one), ``LT``, ``LE``,
    ``GT``, ``GE``, ``CONTAINS``, ``STARTS_WITH``, ``ENDS_WITH``, ``HAS_ANY_VALUE``, or, for dates, ``EQ``.
    """

    field: ResolvedField
    op: Op
    negated: bool
    kind: Kind
    texts: tuple[str, ...] = ()
    numbers: tuple[Decimal, ...] = ()
    booleans: tuple[bool, ...] = ()
    day: Date | DaysAgo | None = None


def plan_condition(condition: Condition, field: ResolvedField) -> Plan:
    """The plan of a condition that the checker accepted."""
    op = _DAY_ALIASES.get(condition.op, condition.op)
    negated = op.is_negated
    op = op.positive
    if op is Op.HAS_ANY_VALUE:
        return Plan(field, op, negated, Kind.ANY)
    if field.type is FieldType.DATETIME:
        day = condition.values[0]
        assert isinstance(day, Date | DaysAgo)
        return Plan(field, op, negated, Kind.DAY, day=day)
    if op is Op.EQ:
        op = Op.IN
    texts: list[str] = []
    numbers: list[Decimal] = []
    booleans: list[bool] = []
    kinds: set[Kind] = set()
    for value in condition.values:
        kind = comparison_kind(field.type, condition.op, value)
        assert kind is not None, "plan_condition needs a checked condition"
        kinds.add(kind)
        if kind is Kind.TEXT:
            texts.append(fold(value_text(value)))
        elif kind is Kind.NUMBER:
            assert isinstance(value, Number)
            numbers.append(value.value)
        elif kind is Kind.BOOLEAN:
            assert isinstance(value, Boolean)
            booleans.append(value.value)
    kind = kinds.pop() if len(kinds) == 1 else Kind.ANY  # a JSON `in` list may mix kinds
    return Plan(
        field,
        op,
        negated,
        kind,
        texts=tuple(dict.fromkeys(texts)),
        numbers=tuple(dict.fromkeys(numbers)),
        booleans=tuple(dict.fromkeys(booleans)),
    )


def day_range(day: Date | DaysAgo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The UTC day a date value denotes, as ``[start, end)``."""
    if isinstance(day, Date):
        date = day.value
    else:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        date = (now.astimezone(dt.UTC) - dt.timedelta(days=day.days)).date()
    start = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def known_text(value: object) -> str | None:
    """The folded text of a fact, or ``None`` when it is unknown for a text comparison."""
    return fold(value) if isinstance(value, str) and value else None


def known_number(value: object) -> Decimal | None:
    """A fact as an exact ``Decimal``, or ``None`` when it is not a (finite) number.

    A JSON float becomes the decimal of its shortest repr, i.e. the number as written in the JSON.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    return None


def has_value(value: object) -> bool:
    """``has any value``: not missing, null, empty text, an empty JSON list or an empty JSON object."""
    if value is None:
        return False
    if isinstance(value, str | list | dict | tuple):
        return len(value) > 0
    return True
