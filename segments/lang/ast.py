"""The segment language's syntax tree: frozen dataclasses with source spans.

Spans are excluded from equality, so two rules that differ only in layout (spacing, keyword case, bare
word or quoted string, parentheses that the precedence makes redundant) compare equal: that is what the
round-trip property ``parse(print_rule(ast)) == ast`` checks. ``AND``/``OR`` nodes are flat: a parser
never puts an ``And`` directly inside an ``And`` (nor an ``Or`` in an ``Or``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open range ``[start, end)`` of character offsets into the rule's text."""

    start: int
    end: int


NO_SPAN = Span(0, 0)


class Op(enum.Enum):
    """Comparison operators; the value is the canonical spelling used by the printer."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"
    STARTS_WITH = "starts with"
    NOT_STARTS_WITH = "not starts with"
    ENDS_WITH = "ends with"
    NOT_ENDS_WITH = "not ends with"
    IN = "in"
    NOT_IN = "not in"
    HAS_ANY_VALUE = "has any value"
    IS_UNKNOWN = "is unknown"
    MORE_THAN_DAYS_AGO = "more than"
    LESS_THAN_DAYS_AGO = "less than"
    EXACTLY_DAYS_AGO = "exactly"

    @property
    def positive(self) -> Op:
        """The operator this one negates, or itself when it is positive."""
        return _NEGATED_TO_POSITIVE.get(self, self)

    @property
    def is_negated(self) -> bool:
        """Negated operators are exactly ``NOT`` of their positive form, so they hold on unknown values."""
        return self in _NEGATED_TO_POSITIVE

    @property
    def negation(self) -> Op | None:
        """The operator that is the exact complement of this one, if the language has one."""
        if self in _NEGATED_TO_POSITIVE:
            return _NEGATED_TO_POSITIVE[self]
        return _POSITIVE_TO_NEGATED.get(self)


_NEGATED_TO_POSITIVE = {
    Op.NE: Op.EQ,
    Op.NOT_CONTAINS: Op.CONTAINS,
    Op.NOT_STARTS_WITH: Op.STARTS_WITH,
    Op.NOT_ENDS_WITH: Op.ENDS_WITH,
    Op.NOT_IN: Op.IN,
    Op.IS_UNKNOWN: Op.HAS_ANY_VALUE,
}
_POSITIVE_TO_NEGATED = {positive: negated for negated, positive in _NEGATED_TO_POSITIVE.items()}

UNARY_OPS = frozenset({Op.HAS_ANY_VALUE, Op.IS_UNKNOWN})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
DAYS_AGO_OPS = frozenset({Op.MORE_THAN_DAYS_AGO, Op.LESS_THAN_DAYS_AGO, Op.EXACTLY_DAYS_AGO})
TEXT_OPS = frozenset({Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH, Op.NOT_STARTS_WITH, Op.ENDS_WITH, Op.NOT_ENDS_WITH})
ORDER_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


@dataclass(frozen=True, slots=True)
class Text:
    """A quoted string or a bare word (``enterprise``)."""

    value: str
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Number:
    """A decimal number; ``text`` keeps its spelling, used when the number is compared as text."""

    value: Decimal
    text: str = ""
    span: Span = dataclass_field(default=NO_SPAN, compare=False)

    @property
    def source_text(self) -> str:
        return self.text or str(self.value)


@dataclass(frozen=True, slots=True)
class Boolean:
    value: bool
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Date:
    """An ISO date ``YYYY-MM-DD``: the whole UTC day."""

    value: dt.date
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class DaysAgo:
    """``N days ago``: the UTC day N days before "now"."""

    days: int
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


Value = Text | Number | Boolean | Date | DaysAgo


@dataclass(frozen=True, slots=True)
class Condition:
    """``field op values``: no value for unary operators, one or more for ``in``, one otherwise.

    For ``more than|less than|exactly N days ago`` the single value is the ``DaysAgo``.
    """

    field: str
    op: Op
    values: tuple[Value, ...] = ()
    span: Span = dataclass_field(default=NO_SPAN, compare=False)
    field_span: Span = dataclass_field(default=NO_SPAN, compare=False)
    op_span: Span = dataclass_field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]
    span: Span = dataclass_field(default=NO_SPAN, compare=False)


Node = Condition | Not | And | Or


def conditions(node: Node) -> list[Condition]:
    """Every condition of a rule, left to right."""
    if isinstance(node, Condition):
        return [node]
    if isinstance(node, Not):
        return conditions(node.operand)
    return [c for operand in node.operands for c in conditions(operand)]


def depth(node: Node) -> int:
    """Nesting depth: the number of boolean operators on the longest path from the root to a condition."""
    if isinstance(node, Condition):
        return 0
    if isinstance(node, Not):
        return 1 + depth(node.operand)
    return 1 + max(depth(operand) for operand in node.operands)
