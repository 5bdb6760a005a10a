# ruff: noqa: RUF001 (Greek and Turkish letters are the point: they are the case-folding traps)
"""Hypothesis strategies for segment rules (valid against the contact catalog) and for contacts' data.

The alphabet is chosen to hit the known traps: case folding (``İ ß Σ ς É``), LIKE wildcards (``% _``),
backslashes, empty strings, JSON values of every type, missing keys and an absent company.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from segments.lang.ast import And, Boolean, Condition, Date, DaysAgo, Node, Not, Number, Op, Or, Text

NOW = dt.datetime(2025, 3, 10, 15, 30, tzinfo=dt.UTC)

TEXT_FIELDS = [
    "user.name",
    "user.email",
    "user.role",
    "user.plan",
    "user.user_id",
    "company.name",
    "company.plan",
    "company.industry",
    "stripe.subscription_status",
]
NUMBER_FIELDS = ["company.employee_count", "company.mrr", "stripe.mrr", "stripe.lifetime_value"]
DATE_FIELDS = ["user.created_at", "activity.last_active"]
JSON_FIELDS = ["user.custom_fields.a", "user.custom_fields.b", "company.custom_fields.a"]
PAGES = "activity.pages_visited"

ALPHABET = "aAbİiıßsΣσς%_\\éÉ/"
short_text = st.text(alphabet=ALPHABET, min_size=1, max_size=3)
text_values = st.builds(Text, short_text)
number_values = st.sampled_from(["0", "1", "5", "-1", "2.5", "10.25", "100", "3"]).map(
    lambda text: Number(Decimal(text), text)
)
boolean_values = st.builds(Boolean, st.booleans())
day_values = st.one_of(
    st.builds(DaysAgo, st.integers(min_value=0, max_value=4)),
    st.builds(Date, st.dates(min_value=dt.date(2025, 3, 5), max_value=dt.date(2025, 3, 11))),
)

TEXT_OPS = [
    Op.EQ,
    Op.NE,
    Op.CONTAINS,
    Op.NOT_CONTAINS,
    Op.STARTS_WITH,
    Op.NOT_STARTS_WITH,
    Op.ENDS_WITH,
    Op.NOT_ENDS_WITH,
]
ORDER = [Op.LT, Op.LE, Op.GT, Op.GE]


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    kind = draw(st.sampled_from(["text", "number", "date", "json", "pages", "unary"]))
    if kind == "unary":
        field = draw(st.sampled_from(TEXT_FIELDS + NUMBER_FIELDS + DATE_FIELDS + JSON_FIELDS + [PAGES]))
        return Condition(field, draw(st.sampled_from([Op.IS_UNKNOWN, Op.HAS_ANY_VALUE])))
    if kind in ("text", "pages"):
        field = PAGES if kind == "pages" else draw(st.sampled_from(TEXT_FIELDS))
        op = draw(st.sampled_from([*TEXT_OPS, Op.IN, Op.NOT_IN]))
        values = st.one_of(text_values, number_values)
    elif kind == "number":
        field = draw(st.sampled_from(NUMBER_FIELDS))
        op = draw(st.sampled_from([Op.EQ, Op.NE, *ORDER, Op.IN, Op.NOT_IN]))
        values = number_values
    elif kind == "date":
        field = draw(st.sampled_from(DATE_FIELDS))
        op = draw(
            st.sampled_from([Op.EQ, Op.NE, *ORDER, Op.MORE_THAN_DAYS_AGO, Op.LESS_THAN_DAYS_AGO, Op.EXACTLY_DAYS_AGO])
        )
        if op in (Op.MORE_THAN_DAYS_AGO, Op.LESS_THAN_DAYS_AGO, Op.EXACTLY_DAYS_AGO):
            return Condition(field, op, (draw(st.builds(DaysAgo, st.integers(min_value=0, max_value=4))),))
        values = day_values
    else:
        field = draw(st.sampled_from(JSON_FIELDS))
        op = draw(st.sampled_from([*TEXT_OPS, *ORDER, Op.IN, Op.NOT_IN]))
        if op in ORDER:
            values = number_values
        elif op in TEXT_OPS[2:]:
            values = text_values
        else:
            values = st.one_of(text_values, number_values, boolean_values)
    if op in (Op.IN, Op.NOT_IN):
        return Condition(field, op, tuple(draw(st.lists(values, min_size=1, max_size=3))))
    return Condition(field, op, (draw(values),))


def _combine(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def flat(kind: type[And] | type[Or], items: list[Node]) -> Node:
        out: list[Node] = []
        for item in items:
            out.extend(item.operands if isinstance(item, kind) else [item])
        return kind(tuple(out))

    return st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda items: flat(And, items)),
        st.lists(children, min_size=2, max_size=3).map(lambda items: flat(Or, items)),
    )


rules: st.SearchStrategy[Node] = st.recursive(conditions(), _combine, max_leaves=6)

# --- contacts ---------------------------------------------------------------------------------------

nullable_text = st.one_of(st.none(), short_text)
json_values = st.one_of(
    st.none(),
    st.just(""),
    short_text,
    st.sampled_from([0, 1, 5, -1, 3, 100, 2.5, 10.25, 5.0, 0.1]),
    st.booleans(),
    st.sampled_from([[], [1], ["a"], {}, {"x": 1}]),
)
json_documents = st.dictionaries(st.sampled_from(["a", "b"]), json_values, max_size=2)
decimals = st.one_of(st.none(), st.sampled_from(["0", "1", "5", "2.50", "10.25", "100", "-1", "3"]).map(Decimal))
datetimes = st.one_of(
    st.none(),
    st.datetimes(
        min_value=dt.datetime(2025, 3, 4),
        max_value=dt.datetime(2025, 3, 12),
        timezones=st.just(dt.UTC),
    ),
)


@st.composite
def companies(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    return {
        "name": draw(nullable_text),
        "plan": draw(nullable_text),
        "industry": draw(nullable_text),
        "employee_count": draw(st.one_of(st.none(), st.sampled_from([0, 1, 3, 5, 100]))),
        "mrr": draw(decimals),
        "custom_fields": draw(json_documents),
    }


@st.composite
def contacts(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "name": draw(nullable_text),
        "email": draw(nullable_text),
        "role": draw(nullable_text),
        "plan": draw(nullable_text),
        "user_id": draw(nullable_text),
        "subscription_status": draw(nullable_text),
        "stripe_mrr": draw(decimals),
        "lifetime_value": draw(decimals),
        "created_at": draw(datetimes) or NOW,
        "last_active_at": draw(datetimes),
        "custom_fields": draw(json_documents),
        "company": draw(companies()),
        "pages": draw(st.lists(short_text, max_size=2)),
    }
