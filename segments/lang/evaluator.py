"""The in-memory evaluator: does one contact match a rule, given its facts and "now"?

``Facts`` maps each catalog field name to the contact's value (``None`` when absent); a JSON field maps
its prefix (``user.custom_fields``) to the whole dict, and ``activity.pages_visited`` to a sequence of
URLs. A rule is compiled once into nested closures (cached per rule and catalog), so evaluating it over
many contacts costs a few function calls per condition.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from segments.lang.ast import And, Condition, Node, Not, Op, Or
from segments.lang.catalog import CONTACT_CATALOG, Catalog, FieldType
from segments.lang.semantics import Kind, Plan, day_range, has_value, known_number, known_text, plan_condition

Facts = Mapping[str, object]
Predicate = Callable[[Facts, dt.datetime], bool]
_Test = Callable[[object, dt.datetime], bool]


def evaluate(node: Node, facts: Facts, *, now: dt.datetime, catalog: Catalog = CONTACT_CATALOG) -> bool:
    """Whether the contact described by ``facts`` matches the (checked) rule at time ``now``."""
    return compile_predicate(node, catalog)(facts, now)


@functools.lru_cache(maxsize=2048)
def compile_predicate(node: Node, catalog: Catalog = CONTACT_CATALOG) -> Predicate:
    """The rule as a function of (facts, now). The rule must have passed the checker."""
    if isinstance(node, Condition):
        return _condition(node, catalog)
    if isinstance(node, Not):
        inner = compile_predicate(node.operand, catalog)
        return lambda facts, now: not inner(facts, now)
    parts = tuple(compile_predicate(operand, catalog) for operand in node.operands)
    if isinstance(node, And):

        def all_of(facts: Facts, now: dt.datetime) -> bool:
            # A plain loop: all() over a generator costs a frame per call, on the hottest path of evaluation.
            for part in parts:  # noqa: SIM110
                if not part(facts, now):
                    return False
            return True

        return all_of
    assert isinstance(node, Or)

    def any_of(facts: Facts, now: dt.datetime) -> bool:
        for part in parts:  # noqa: SIM110
            if part(facts, now):
                return True
        return False

    return any_of


def _condition(condition: Condition, catalog: Catalog) -> Predicate:
    field = catalog.resolve(condition.field)
    assert field is not None, "the checker refuses unknown fields"
    plan = plan_condition(condition, field)
    test = _pages_test(plan) if field.type is FieldType.PAGES else _value_test(plan)
    source = field.spec.name
    key = field.key
    negated = plan.negated

    if key is None:

        def read(facts: Facts) -> object:
            return facts.get(source)

    else:

        def read(facts: Facts) -> object:
            document = facts.get(source)
            return document.get(key) if isinstance(document, dict) else None

    if negated:
        return lambda facts, now: not test(read(facts), now)
    return lambda facts, now: test(read(facts), now)


def _pages_test(plan: Plan) -> _Test:
    """Pages hold a positive operator when some page does; ``has any value`` when there is a page."""
    one_page = _value_test(plan)

    def test(pages: object, now: dt.datetime) -> bool:
        if not isinstance(pages, Sequence) or isinstance(pages, str):
            return False
        return any(one_page(page, now) for page in pages)

    return test


def _value_test(plan: Plan) -> _Test:
    op = plan.op
    if op is Op.HAS_ANY_VALUE:
        return lambda value, now: has_value(value)
    if plan.kind is Kind.DAY:
        return _day_test(plan)
    if op is Op.IN:
        return _in_test(plan)
    if plan.kind is Kind.TEXT:
        needle = plan.texts[0]
        text_tests: dict[Op, Callable[[str], bool]] = {
            Op.CONTAINS: lambda text: needle in text,
            Op.STARTS_WITH: lambda text: text.startswith(needle),
            Op.ENDS_WITH: lambda text: text.endswith(needle),
        }
        text_test = text_tests[op]

        def test_text(value: object, now: dt.datetime) -> bool:
            text = known_text(value)
            return text is not None and text_test(text)

        return test_text
    assert plan.kind is Kind.NUMBER
    bound = plan.numbers[0]
    number_tests: dict[Op, Callable[[Decimal], bool]] = {
        Op.LT: lambda number: number < bound,
        Op.LE: lambda number: number <= bound,
        Op.GT: lambda number: number > bound,
        Op.GE: lambda number: number >= bound,
    }
    number_test = number_tests[op]

    def test_number(value: object, now: dt.datetime) -> bool:
        number = known_number(value)
        return number is not None and number_test(number)

    return test_number


def _in_test(plan: Plan) -> _Test:
    texts = frozenset(plan.texts)
    numbers = frozenset(plan.numbers)
    booleans = frozenset(plan.booleans)

    def test(value: object, now: dt.datetime) -> bool:
        if isinstance(value, bool):
            return value in booleans
        if isinstance(value, str):
            return bool(texts) and known_text(value) in texts
        number = known_number(value)
        return number is not None and number in numbers

    return test


def _day_test(plan: Plan) -> _Test:
    op = plan.op
    day = plan.day
    assert day is not None

    # The day's bounds depend on "now" only: kept for the last "now" seen (a batch shares one). One tuple
    # is read and written at a time, so threads sharing the cached predicate never mix two "now"s.
    cache: list[tuple[dt.datetime | None, tuple[dt.datetime, dt.datetime] | None]] = [(None, None)]

    def test(value: object, now: dt.datetime) -> bool:
        if not isinstance(value, dt.datetime):
            return False
        cached_now, bounds = cache[0]
        if cached_now is not now or bounds is None:
            bounds = day_range(day, now)
            cache[0] = (now, bounds)
        start, end = bounds
        if op is Op.EQ:
            return start <= value < end
        if op is Op.LT:
            return value < start
        if op is Op.LE:
            return value < end
        if op is Op.GT:
            return value >= end
        return value >= start  # GE

    return test
