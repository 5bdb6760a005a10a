"""The Django-facing entry points: parse, canonical form and the validator behind the rule fields."""

import pytest
from django.core.exceptions import ValidationError

from segments.lang import RuleError
from segments.rules import rule_format, rule_parse, rule_validate


def test_rule_format_gives_the_canonical_text() -> None:
    assert rule_format("company.plan = enterprise or not user.plan in (pro,team)") == (
        'company.plan = "enterprise" OR NOT user.plan in ("pro", "team")'
    )


def test_rule_parse_refuses_an_unknown_field_with_a_suggestion() -> None:
    with pytest.raises(RuleError) as raised:
        rule_parse("stripe.status = active")
    assert raised.value.hint == "did you mean `stripe.subscription_status`?"


def test_the_validator_leaves_blank_to_the_field_and_names_the_error_code() -> None:
    assert rule_validate("") is None
    assert rule_validate("  \n ") is None
    with pytest.raises(ValidationError) as raised:
        rule_validate("user.plan not = pro")
    assert raised.value.error_list[0].code == "unexpected_token"
    assert raised.value.messages == [
        "line 1, column 15: expected `contains` / `starts` / `ends`, found `=` "
        "(e.g. `not contains`, `not in (…)`; for not equal use `!=`)"
    ]
