"""The checker: a parsed rule against a field catalog and the limits → diagnostics.

It reports every problem it finds (an empty list means the rule is valid): unknown fields with a "did you
mean" hint, operators that do not fit the field's type, values of the wrong type, empty values, numbers
the back ends cannot compare exactly, and the limits (50 conditions, nesting depth 10; the 4 KB limit is
checked before parsing).
"""

from __future__ import annotations

from segments.lang.ast import ORDER_OPS, Condition, Node, Number, Op, Text, Value, conditions, depth
from segments.lang.catalog import OPERATORS, Catalog, FieldType
from segments.lang.errors import Code, Diagnostic, RuleError
from segments.lang.parser import MAX_DEPTH, parse
from segments.lang.semantics import Kind, comparison_kind

MAX_CONDITIONS = 50
# Numbers are compared exactly in Python and PostgreSQL but as doubles in SQLite: 15 significant digits
# below 10^15 is where the three agree.
MAX_SIGNIFICANT_DIGITS = 15

_TYPE_EXAMPLES = {
    FieldType.TEXT: 'a text such as enterprise or "two words"',
    FieldType.NUMBER: "a number such as 100 or 49.90",
    FieldType.DATETIME: "a date such as 2024-01-31 or 30 days ago",
    FieldType.PAGES: "a text such as /pricing",
    FieldType.JSON: "a text, a number or true/false",
}


def check(node: Node, catalog: Catalog) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    found = conditions(node)
    if len(found) > MAX_CONDITIONS:
        diagnostics.append(
            Diagnostic(
                Code.TOO_MANY_CONDITIONS,
                f"the rule has {len(found)} conditions; at most {MAX_CONDITIONS} are allowed",
                found[MAX_CONDITIONS].span,
                "use `in (…)` to test one field against many values",
            )
        )
    if depth(node) > MAX_DEPTH:
        diagnostics.append(
            Diagnostic(
                Code.RULE_TOO_DEEP,
                f"the rule nests deeper than {MAX_DEPTH} levels",
                node.span,
                "flatten it: AND and OR take any number of conditions",
            )
        )
    for condition in found:
        diagnostics.extend(_check_condition(condition, catalog))
    return diagnostics


def parse_checked(text: str, catalog: Catalog) -> Node:
    """Parse and check a rule; raise ``RuleError`` with every diagnostic if it is not valid."""
    node = parse(text)
    diagnostics = check(node, catalog)
    if diagnostics:
        raise RuleError(text, diagnostics)
    return node


def _check_condition(condition: Condition, catalog: Catalog) -> list[Diagnostic]:
    field = catalog.resolve(condition.field)
    if field is None:
        suggestion = catalog.suggest(condition.field)
        return [
            Diagnostic(
                Code.UNKNOWN_FIELD,
                f"unknown field `{condition.field}`",
                condition.field_span,
                f"did you mean `{suggestion}`?" if suggestion else "fields look like user.plan or company.name",
            )
        ]
    allowed = OPERATORS[field.type]
    if condition.op not in allowed:
        return [
            Diagnostic(
                Code.OPERATOR_NOT_ALLOWED,
                f"`{_op_text(condition.op)}` does not apply to `{condition.field}` ({field.type.value})",
                condition.op_span,
                "use one of: " + ", ".join(_op_text(op) for op in Op if op in allowed),
            )
        ]
    diagnostics: list[Diagnostic] = []
    for value in condition.values:
        problem = _check_value(condition, field.type, value)
        if problem is not None:
            diagnostics.append(problem)
    return diagnostics


def _check_value(condition: Condition, field_type: FieldType, value: Value) -> Diagnostic | None:
    if comparison_kind(field_type, condition.op, value) is None:
        expects = (
            "a number" if field_type is FieldType.JSON and condition.op in ORDER_OPS else _TYPE_EXAMPLES[field_type]
        )
        return Diagnostic(
            Code.VALUE_TYPE_MISMATCH,
            f"`{condition.field}` {_op_text(condition.op)} expects {expects}",
            value.span,
            "",
        )
    if isinstance(value, Text) and not value.value:
        return Diagnostic(
            Code.EMPTY_VALUE,
            "an empty text never matches: empty values count as unknown",
            value.span,
            f"use `{condition.field} is unknown` or `has any value`",
        )
    if isinstance(value, Number) and comparison_kind(field_type, condition.op, value) is Kind.NUMBER:
        digits = value.value.normalize().as_tuple().digits
        if abs(value.value) >= 10**MAX_SIGNIFICANT_DIGITS or len(digits) > MAX_SIGNIFICANT_DIGITS:
            return Diagnostic(
                Code.INVALID_NUMBER,
                f"numbers are limited to {MAX_SIGNIFICANT_DIGITS} significant digits below 10^15",
                value.span,
                "round the number",
            )
    return None


def _op_text(op: Op) -> str:
    return f"{op.value} N days ago" if op.value in ("more than", "less than", "exactly") else op.value
