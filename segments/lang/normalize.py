"""Negation normal form: ``NOT`` pushed down to the conditions (De Morgan), for the SQL compiler.

In the result a ``Not`` only ever wraps a ``Condition``, and double negations are gone. The rule means
exactly the same: ``NOT`` of a condition is kept as ``Not(condition)`` rather than swapped for an operator
(``<`` is not the complement of ``>=`` when the value is unknown).
"""

from __future__ import annotations

from segments.lang.ast import And, Condition, Node, Not, Or


def push_not_down(node: Node, *, negate: bool = False) -> Node:
    if isinstance(node, Condition):
        return Not(node, span=node.span) if negate else node
    if isinstance(node, Not):
        return push_not_down(node.operand, negate=not negate)
    operands = tuple(push_not_down(operand, negate=negate) for operand in node.operands)
    flipped = (isinstance(node, And)) == negate  # And under NOT becomes Or, and vice versa
    kind = Or if flipped else And
    flat: list[Node] = []
    for operand in operands:
        if isinstance(operand, And | Or) and isinstance(operand, kind):
            flat.extend(operand.operands)
        else:
            flat.append(operand)
    return kind(tuple(flat), span=node.span)
