"""The Django-facing entry points of the language: parse and check a rule against Halo's contact catalog.

``rule_parse`` raises ``segments.lang.RuleError`` (code, message, position, hint); ``rule_validate`` turns
it into a Django ``ValidationError`` for model and form fields. A blank rule is not a rule: whoever
stores one decides what blank means (an escalation filter: everyone; a priority filter: nobody).
"""

from django.core.exceptions import ValidationError

from segments.lang import CONTACT_CATALOG, Node, RuleError, parse_checked, print_rule


def rule_parse(text: str) -> Node:
    """The checked AST of a rule over contacts, or ``RuleError`` pointing at the first problem."""
    return parse_checked(text, CONTACT_CATALOG)


def rule_format(text: str) -> str:
    """The canonical text of a valid rule (upper-case keywords, quoted text values)."""
    return print_rule(rule_parse(text))


def rule_validate(text: str) -> None:
    """Validator for model and form fields: blank is left to the field's ``blank`` option."""
    if not text or not text.strip():
        return
    try:
        rule_parse(text)
    except RuleError as error:
        raise ValidationError(
            "%(describe)s",
            code=error.code,
            params={"describe": error.describe()},
        ) from None
