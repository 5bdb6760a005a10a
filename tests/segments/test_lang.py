"""The pure language: parsing goldens, error messages, the printer round trip, limits and the evaluator."""

import datetime as dt
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

from segments.lang import CONTACT_CATALOG, RuleError, check, evaluate, parse, parse_checked, print_rule, push_not_down
from segments.lang.ast import And, Boolean, Condition, Date, DaysAgo, Not, Number, Op, Or, Text
from tests.segments.strategies import NOW, rules


def cond(field: str, op: Op, *values: object) -> Condition:
    return Condition(field, op, tuple(values))  # type: ignore[arg-type]


A = cond("user.plan", Op.EQ, Text("a"))
B = cond("user.role", Op.EQ, Text("b"))
C = cond("user.name", Op.EQ, Text("c"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user.plan = a OR user.role = b AND user.name = c", Or((A, And((B, C))))),
        ("user.plan = a AND user.role = b OR user.name = c", Or((And((A, B)), C))),
        ("NOT user.plan = a AND user.role = b", And((Not(A), B))),
        ("NOT (user.plan = a AND user.role = b)", Not(And((A, B)))),
        ("(user.plan = a OR user.role = b) AND user.name = c", And((Or((A, B)), C))),
        ("user.plan = a and (user.role = b and user.name = c)", And((A, B, C))),
        ("user.plan = a oR user.role = b Or user.name = c", Or((A, B, C))),
        ("not not user.plan = a", Not(Not(A))),
    ],
)
def test_precedence_is_not_then_and_then_or_and_keywords_ignore_case(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("company.plan = enterprise", cond("company.plan", Op.EQ, Text("enterprise"))),
        ('company.plan = "enterprise"', cond("company.plan", Op.EQ, Text("enterprise"))),
        ("company.plan = 'two words'", cond("company.plan", Op.EQ, Text("two words"))),
        (r'user.name = "say \"hi\" \\ bye"', cond("user.name", Op.EQ, Text('say "hi" \\ bye'))),
        ("user.custom_fields.is_vip = TRUE", cond("user.custom_fields.is_vip", Op.EQ, Boolean(True))),
        ("stripe.mrr >= 49.90", cond("stripe.mrr", Op.GE, Number(Decimal("49.90"), "49.90"))),
        ("stripe.mrr > -3", cond("stripe.mrr", Op.GT, Number(Decimal("-3"), "-3"))),
        ("user.created_at < 2024-01-31", cond("user.created_at", Op.LT, Date(dt.date(2024, 1, 31)))),
        ("user.created_at > 30 days ago", cond("user.created_at", Op.GT, DaysAgo(30))),
        (
            "activity.last_active MORE THAN 30 DAYS AGO",
            cond("activity.last_active", Op.MORE_THAN_DAYS_AGO, DaysAgo(30)),
        ),
        ("activity.last_active less than 1 day ago", cond("activity.last_active", Op.LESS_THAN_DAYS_AGO, DaysAgo(1))),
        ("activity.last_active exactly 7 days ago", cond("activity.last_active", Op.EXACTLY_DAYS_AGO, DaysAgo(7))),
        ("activity.pages_visited contains /pricing", cond("activity.pages_visited", Op.CONTAINS, Text("/pricing"))),
        ("user.email ends with @acme.com", cond("user.email", Op.ENDS_WITH, Text("@acme.com"))),
        ("user.email does not end with @acme.com", cond("user.email", Op.NOT_ENDS_WITH, Text("@acme.com"))),
        ("user.email not starts with admin", cond("user.email", Op.NOT_STARTS_WITH, Text("admin"))),
        ("user.email does not contain test", cond("user.email", Op.NOT_CONTAINS, Text("test"))),
        ("user.plan in (pro, 'free', 3)", cond("user.plan", Op.IN, Text("pro"), Text("free"), Number(Decimal(3), "3"))),
        ("user.plan not in (pro)", cond("user.plan", Op.NOT_IN, Text("pro"))),
        ("user.plan is unknown", cond("user.plan", Op.IS_UNKNOWN)),
        ("user.plan is not unknown", cond("user.plan", Op.HAS_ANY_VALUE)),
        ("user.plan has any value", cond("user.plan", Op.HAS_ANY_VALUE)),
        ("user.plan is pro", cond("user.plan", Op.EQ, Text("pro"))),
        ("user.plan is not pro", cond("user.plan", Op.NE, Text("pro"))),
        ("user.plan = unknown", cond("user.plan", Op.EQ, Text("unknown"))),
    ],
)
def test_parses_every_operator_and_value_form(text: str, expected: Condition) -> None:
    node = parse(text)
    assert node == expected
    assert check(node, CONTACT_CATALOG) == []


def test_the_seed_example_works_as_written() -> None:
    node = parse_checked("company.plan = enterprise OR user.custom_fields.is_vip = true", CONTACT_CATALOG)
    enterprise = {"company.plan": "Enterprise", "user.custom_fields": {}}
    vip = {"company.plan": None, "user.custom_fields": {"is_vip": True}}
    nobody = {"company.plan": "pro", "user.custom_fields": {"is_vip": "true"}}
    assert [evaluate(node, facts, now=NOW) for facts in (enterprise, vip, nobody)] == [True, True, False]


@pytest.mark.parametrize(
    ("text", "code", "column", "message"),
    [
        (
            "user.plann = pro",
            "unknown_field",
            1,
            "line 1, column 1: unknown field `user.plann` (did you mean `user.plan`?)",
        ),
        (
            "company.plan = x AND compnay.plan = y",
            "unknown_field",
            22,
            "line 1, column 22: unknown field `compnay.plan` (did you mean `company.plan`?)",
        ),
        (
            "user.custom_field.tier = gold",
            "unknown_field",
            1,
            "line 1, column 1: unknown field `user.custom_field.tier` (did you mean `user.custom_fields.tier`?)",
        ),
        (
            "company.plan > 5",
            "operator_not_allowed",
            14,
            "line 1, column 14: `>` does not apply to `company.plan` (text) (use one of: =, !=, contains, "
            "not contains, starts with, not starts with, ends with, not ends with, in, not in, has any value, "
            "is unknown)",
        ),
        (
            "stripe.mrr = lots",
            "value_type_mismatch",
            14,
            "line 1, column 14: `stripe.mrr` = expects a number such as 100 or 49.90",
        ),
        (
            "user.plan == pro",
            "unexpected_character",
            11,
            "line 1, column 11: `==` is not an operator (use `=` to compare)",
        ),
        (
            "user.plan contain pro",
            "unexpected_token",
            11,
            "line 1, column 11: expected an operator after `user.plan`, found `contain` (did you mean `contains`?)",
        ),
        (
            "user.plan = pro adn user.role = x",
            "unexpected_token",
            17,
            "line 1, column 17: expected AND, OR or the end of the rule, found `adn` (did you mean `AND`?)",
        ),
        (
            "(user.plan = pro",
            "unexpected_token",
            17,
            "line 1, column 17: expected AND, OR or `)`, found the end of the rule (add the missing `)`)",
        ),
        (
            "user.plan = 'pro",
            "unterminated_string",
            13,
            "line 1, column 13: this string is never closed (add a closing ')",
        ),
        (
            "user.plan = ''",
            "empty_value",
            13,
            "line 1, column 13: an empty text never matches: empty values count as unknown "
            "(use `user.plan is unknown` or `has any value`)",
        ),
        ("   ", "empty_rule", 4, "line 1, column 4: the rule is empty (e.g. company.plan = enterprise)"),
        (
            "user.created_at > 2024-02-30",
            "invalid_date",
            19,
            "line 1, column 19: 2024-02-30 is not a valid date (dates are YYYY-MM-DD)",
        ),
        (
            "stripe.mrr > 1234567890.1234567",
            "invalid_number",
            14,
            "line 1, column 14: numbers are limited to 15 significant digits below 10^15 (round the number)",
        ),
        (
            "user.custom_fields.signup < 2024-01-01",
            "value_type_mismatch",
            29,
            "line 1, column 29: `user.custom_fields.signup` < expects a number",
        ),
    ],
)
def test_errors_say_where_and_what_to_do(text: str, code: str, column: int, message: str) -> None:
    with pytest.raises(RuleError) as raised:
        parse_checked(text, CONTACT_CATALOG)
    assert (raised.value.code, raised.value.position.column, raised.value.describe()) == (code, column, message)


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused(char: str) -> None:
    with pytest.raises(RuleError) as raised:
        parse_checked(f'user.plan = "a{char}"', CONTACT_CATALOG)
    assert (raised.value.code, raised.value.position.column) == ("unexpected_character", 15)


def test_error_position_counts_lines_and_columns() -> None:
    with pytest.raises(RuleError) as raised:
        parse_checked("company.plan = enterprise\n  AND user.plam = pro", CONTACT_CATALOG)
    position = raised.value.position
    assert (position.line, position.column, position.offset) == (2, 7, 32)


def test_limits_are_enforced_with_clear_errors() -> None:
    fifty = " OR ".join(f"user.plan = p{i}" for i in range(50))
    assert parse_checked(fifty, CONTACT_CATALOG)
    with pytest.raises(RuleError, match="51 conditions; at most 50"):
        parse_checked(fifty + " OR user.plan = last", CONTACT_CATALOG)

    ten = "NOT " * 10 + "user.plan = a"
    assert parse_checked(ten, CONTACT_CATALOG)
    with pytest.raises(RuleError, match="deeper than 10") as raised:
        parse_checked("(" * 11 + "user.plan = a" + ")" * 11, CONTACT_CATALOG)
    assert raised.value.code == "rule_too_deep"
    deep_ast = "user.plan = a"
    for level in range(11):
        deep_ast = f"user.role = r{level} {'AND' if level % 2 else 'OR'} ({deep_ast})"
    with pytest.raises(RuleError, match="deeper than 10"):
        parse_checked(deep_ast, CONTACT_CATALOG)

    with pytest.raises(RuleError, match="longer than 4 KB") as raised:
        parse_checked("user.plan in (" + ", ".join(["abcdefgh"] * 500) + ")", CONTACT_CATALOG)
    assert raised.value.code == "rule_too_long"


@settings(max_examples=300, deadline=None)
@given(rules)
def test_printing_then_parsing_gives_back_the_same_rule(node: object) -> None:
    assert parse(print_rule(node)) == node  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(rules)
def test_generated_rules_pass_the_checker(node: object) -> None:
    assert check(node, CONTACT_CATALOG) == []  # type: ignore[arg-type]


def test_canonical_form_quotes_text_and_upper_cases_keywords() -> None:
    node = parse("not (company.plan = enterprise or user.custom_fields.n >= 5) and user.name contains 'a \"b'")
    assert (
        print_rule(node)
        == 'NOT (company.plan = "enterprise" OR user.custom_fields.n >= 5) AND user.name contains "a \\"b"'
    )


def test_push_not_down_keeps_not_only_on_conditions() -> None:
    node = parse("NOT (user.plan = a AND NOT (user.role = b OR user.name = c))")
    assert push_not_down(node) == Or((Not(A), Or((B, C)))) or push_not_down(node) == Or((Not(A), B, C))
    assert push_not_down(node) == Or((Not(A), B, C))


# --- evaluator --------------------------------------------------------------------------------------

FACTS = {
    "user.name": "Zoë ÇELİK",
    "user.email": "zoe@Acme.com",
    "user.plan": "",
    "user.role": None,
    "user.user_id": "042",
    "user.created_at": dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC),
    "user.custom_fields": {"is_vip": True, "seats": 12, "ratio": 0.1, "tier": "GOLD", "empty": "", "list": []},
    "company.plan": None,
    "company.mrr": None,
    "company.custom_fields": None,
    "stripe.mrr": Decimal("49.90"),
    "activity.last_active": dt.datetime(2025, 3, 7, 23, 59, tzinfo=dt.UTC),
    "activity.pages_visited": ("/Pricing/team", "/docs"),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user.name contains çelik", True),
        ("user.name = 'zoë çeli̇k'", False),
        ("user.name ends with lik", True),
        ("user.email ends with @acme.com", True),
        ("user.user_id = 042", True),
        ("user.user_id = 42", False),
        ("user.plan is unknown", True),
        ("user.plan != pro", True),
        ("user.plan = pro", False),
        ("user.role not in (admin)", True),
        ("user.custom_fields.is_vip = true", True),
        ("user.custom_fields.is_vip = 'true'", False),
        ("user.custom_fields.seats > 10", True),
        ("user.custom_fields.seats in (11, 12)", True),
        ("user.custom_fields.ratio = 0.1", True),
        ("user.custom_fields.tier = gold", True),
        ("user.custom_fields.tier > 1", False),
        ("NOT user.custom_fields.tier > 1", True),
        ("user.custom_fields.empty has any value", False),
        ("user.custom_fields.list is unknown", True),
        ("user.custom_fields.missing != x", True),
        ("company.plan = enterprise", False),
        ("company.plan != enterprise", True),
        ("company.custom_fields.x is unknown", True),
        ("stripe.mrr >= 49.9", True),
        ("stripe.mrr < 49.9", False),
        ("activity.pages_visited contains /pricing", True),
        ("activity.pages_visited = /docs", True),
        ("activity.pages_visited not contains /pricing", False),
        ("activity.last_active exactly 3 days ago", True),
        ("activity.last_active = 2025-03-07", True),
        ("activity.last_active > 2025-03-07", False),
        ("activity.last_active more than 2 days ago", True),
        ("activity.last_active less than 4 days ago", True),
        ("activity.last_active less than 3 days ago", False),
        ("user.created_at <= 2025-03-01", True),
        ("user.created_at < 2025-03-01", False),
    ],
)
def test_evaluator_semantics(text: str, expected: bool) -> None:
    assert evaluate(parse_checked(text, CONTACT_CATALOG), FACTS, now=NOW) is expected


@settings(max_examples=200, deadline=None)
@given(rules)
def test_not_is_the_exact_complement_in_memory(node: object) -> None:
    assert evaluate(Not(node), FACTS, now=NOW) is not evaluate(node, FACTS, now=NOW)  # type: ignore[arg-type]


def test_the_language_package_imports_without_django() -> None:
    root = Path(__file__).resolve().parents[2]
    program = textwrap.dedent(
        """
        import sys

        class BlockDjango:
            def find_spec(self, name, path=None, target=None):
                if name == "django" or name.startswith("django."):
                    raise ImportError("django is blocked in this test")
                return None

        sys.meta_path.insert(0, BlockDjango())
        import datetime as dt
        from segments.lang import CONTACT_CATALOG, evaluate, parse_checked
        node = parse_checked("company.plan = enterprise", CONTACT_CATALOG)
        assert evaluate(node, {"company.plan": "ENTERPRISE"}, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        assert not any(name == "django" or name.startswith("django.") for name in sys.modules)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("digits", ["\u0661\u0662", "\uff11\uff12", "\U0001d7d9\U0001d7da"])
def test_numbers_and_day_counts_are_ascii_digits_only(digits: str) -> None:
    """Like every integer Halo reads (``halo.params``): Unicode digits are text, never the number 12."""
    assert parse(f"user.plan = {digits}") == cond("user.plan", Op.EQ, Text(digits))
    with pytest.raises(RuleError, match="whole number of days"):
        parse(f"activity.last_active more than {digits} days ago")
