"""The segment language's lexer: rule text → tokens with spans.

A bare word is any run of characters other than whitespace, parentheses, commas, quotes and the
comparison characters ``= ! < >``: so ``enterprise``, ``/pricing``, ``@acme.com`` and field paths such as
``user.custom_fields.is_vip`` are single words. A word that reads as a number (``42``, ``-3.5``) or an ISO
date (``2024-01-31``) becomes a number or a date token. Keywords are words too; the parser decides by
position, which is what lets ``unknown`` or ``value`` be a bare value.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from segments.lang.ast import Span
from segments.lang.errors import Code, Diagnostic, RuleError


class Kind(enum.Enum):
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    OP = "operator"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    WORD = "word"
    EOF = "end of rule"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    span: Span
    value: str | Decimal | dt.date | None = None

    @property
    def lower(self) -> str:
        return self.text.lower()


_WORD = re.compile(r"""[^\s(),"'=!<>]+""")
# ASCII digits only (``\d`` alone also matches ``١٢`` and other Unicode digits), as every integer Halo reads.
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_OPERATOR = re.compile(r"!=|<=|>=|==|<>|=|<|>|!")
_SPACE = re.compile(r"\s+")
_OPERATOR_HINTS = {"==": "use `=` to compare", "<>": "use `!=` for not equal", "!": "use `NOT` or `!=`"}


# Control characters (but tab and newlines) and lone surrogates cannot be stored or compared as text
# (PostgreSQL refuses NUL outright): they are refused where they stand.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def tokenize(text: str) -> list[Token]:
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        raise RuleError(
            text,
            [
                Diagnostic(
                    Code.UNEXPECTED_CHARACTER,
                    f"the character U+{ord(forbidden.group()):04X} cannot appear in a rule",
                    Span(forbidden.start(), forbidden.end()),
                    "remove it",
                )
            ],
        )
    tokens: list[Token] = []
    position = 0
    while True:
        space = _SPACE.match(text, position)
        if space:
            position = space.end()
        if position >= len(text):
            tokens.append(Token(Kind.EOF, "", Span(len(text), len(text))))
            return tokens
        char = text[position]
        if char in "(),":
            tokens.append(Token(Kind(char), char, Span(position, position + 1)))
            position += 1
        elif char in "\"'":
            token = _string(text, position)
            tokens.append(token)
            position = token.span.end
        elif operator := _OPERATOR.match(text, position):
            span = Span(position, operator.end())
            if operator.group() in _OPERATOR_HINTS:
                raise RuleError(
                    text,
                    [
                        Diagnostic(
                            Code.UNEXPECTED_CHARACTER,
                            f"`{operator.group()}` is not an operator",
                            span,
                            _OPERATOR_HINTS[operator.group()],
                        )
                    ],
                )
            tokens.append(Token(Kind.OP, operator.group(), span))
            position = span.end
        else:
            word = _WORD.match(text, position)
            assert word is not None  # every character not handled above starts a word
            tokens.append(_word(text, word.group(), Span(position, word.end())))
            position = word.end()


def _string(text: str, start: int) -> Token:
    """A quoted string; a backslash makes the next character literal (``"say \\"hi\\""``)."""
    quote = text[start]
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            chars.append(text[position + 1])
            position += 2
        elif char == quote:
            return Token(Kind.STRING, text[start : position + 1], Span(start, position + 1), "".join(chars))
        else:
            chars.append(char)
            position += 1
    raise RuleError(
        text,
        [
            Diagnostic(
                Code.UNTERMINATED_STRING,
                "this string is never closed",
                Span(start, len(text)),
                f"add a closing {quote}",
            )
        ],
    )


def _word(text: str, word: str, span: Span) -> Token:
    if _NUMBER.fullmatch(word):
        return Token(Kind.NUMBER, word, span, Decimal(word))
    if _DATE.fullmatch(word):
        try:
            return Token(Kind.DATE, word, span, dt.date.fromisoformat(word))
        except ValueError:
            raise RuleError(
                text, [Diagnostic(Code.INVALID_DATE, f"{word} is not a valid date", span, "dates are YYYY-MM-DD")]
            ) from None
    return Token(Kind.WORD, word, span, word)
