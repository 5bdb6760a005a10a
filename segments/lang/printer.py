"""The canonical printer: AST → rule text that parses back to the same AST.

Canonical form: upper-case ``AND``/``OR``/``NOT``, every text value double-quoted, numbers as written,
dates ISO, parentheses only where precedence needs them. Saved segments can store it so that equal rules
look equal.
"""

from __future__ import annotations

from segments.lang.ast import (
    DAYS_AGO_OPS,
    LIST_OPS,
    UNARY_OPS,
    And,
    Boolean,
    Condition,
    Date,
    DaysAgo,
    Node,
    Not,
    Number,
    Or,
    Text,
    Value,
)

_PRECEDENCE: dict[type, int] = {Or: 1, And: 2, Not: 3, Condition: 4}


def print_rule(node: Node) -> str:
    if isinstance(node, Condition):
        return _condition(node)
    if isinstance(node, Not):
        return f"NOT {_child(node.operand, Not)}"
    keyword = " AND " if isinstance(node, And) else " OR "
    return keyword.join(_child(operand, type(node)) for operand in node.operands)


def _child(node: Node, parent: type) -> str:
    text = print_rule(node)
    return f"({text})" if _PRECEDENCE[type(node)] <= _PRECEDENCE[parent] and not isinstance(node, Not) else text


def _condition(condition: Condition) -> str:
    op = condition.op
    if op in UNARY_OPS:
        return f"{condition.field} {op.value}"
    if op in LIST_OPS:
        return f"{condition.field} {op.value} ({', '.join(print_value(value) for value in condition.values)})"
    if op in DAYS_AGO_OPS:
        return f"{condition.field} {op.value} {print_value(condition.values[0])}"
    return f"{condition.field} {op.value} {print_value(condition.values[0])}"


def print_value(value: Value) -> str:
    if isinstance(value, Text):
        escaped = value.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, Number):
        return value.source_text
    if isinstance(value, Boolean):
        return "true" if value.value else "false"
    if isinstance(value, Date):
        return value.value.isoformat()
    if isinstance(value, DaysAgo):
        return f"{value.days} days ago"
    raise TypeError(f"not a value: {value!r}")
