"""Diagnostics of the segment language: a stable code, the span it points at, a message and a hint.

``RuleError`` carries every diagnostic of a rule (the first one is the one to show); ``Position`` turns
a span's start into the line/column a person reads (both 1-based) and the 0-based character offset.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from segments.lang.ast import Span


class Code(enum.Enum):
    """Stable, machine-readable error codes (they appear in API responses: do not rename)."""

    EMPTY_RULE = "empty_rule"
    RULE_TOO_LONG = "rule_too_long"
    TOO_MANY_CONDITIONS = "too_many_conditions"
    RULE_TOO_DEEP = "rule_too_deep"
    UNEXPECTED_CHARACTER = "unexpected_character"
    UNTERMINATED_STRING = "unterminated_string"
    UNEXPECTED_TOKEN = "unexpected_token"  # noqa: S105 (not a password)
    UNKNOWN_FIELD = "unknown_field"
    OPERATOR_NOT_ALLOWED = "operator_not_allowed"
    VALUE_TYPE_MISMATCH = "value_type_mismatch"
    EMPTY_VALUE = "empty_value"
    INVALID_NUMBER = "invalid_number"
    INVALID_DATE = "invalid_date"


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int
    offset: int

    @classmethod
    def of(cls, text: str, offset: int) -> Position:
        offset = max(0, min(offset, len(text)))
        before = text[:offset]
        line = before.count("\n") + 1
        column = offset - (before.rfind("\n") + 1) + 1
        return cls(line=line, column=column, offset=offset)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: Code
    message: str
    span: Span
    hint: str = ""


class RuleError(ValueError):
    """A rule that cannot be used: it does not parse, or it does not fit the field catalog or the limits."""

    def __init__(self, text: str, diagnostics: list[Diagnostic]) -> None:
        if not diagnostics:
            raise ValueError("a RuleError needs at least one diagnostic")
        self.text = text
        self.diagnostics = diagnostics
        super().__init__(self.describe())

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def code(self) -> str:
        return self.first.code.value

    @property
    def message(self) -> str:
        return self.first.message

    @property
    def hint(self) -> str:
        return self.first.hint

    @property
    def position(self) -> Position:
        return Position.of(self.text, self.first.span.start)

    def describe(self) -> str:
        """One line a person can act on: ``line 1, column 5: unknown field … (did you mean …?)``."""
        position = self.position
        text = f"line {position.line}, column {position.column}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text
