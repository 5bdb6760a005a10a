"""A recursive-descent parser for the segment language: tokens → AST (``segments.lang.ast``).

Precedence is ``NOT`` > ``AND`` > ``OR``; keywords ignore case. The parser stops at the first error with
a diagnostic that says what it expected at that spot and, where it can guess, a hint ("did you mean
`contains`?"). Limits that protect the parser itself (length, nesting) are enforced here; the rest of the
checking against the field catalog is ``segments.lang.checker``'s job.
"""

from __future__ import annotations

import datetime as dt
import difflib
from decimal import Decimal

from segments.lang.ast import (
    And,
    Boolean,
    Condition,
    Date,
    DaysAgo,
    Node,
    Not,
    Number,
    Op,
    Or,
    Span,
    Text,
    Value,
)
from segments.lang.errors import Code, Diagnostic, RuleError
from segments.lang.lexer import Kind, Token, tokenize

MAX_RULE_BYTES = 4096
MAX_DEPTH = 10
MAX_DAYS = 36_500

_COMPARISONS = {"=": Op.EQ, "!=": Op.NE, "<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE}
_RESERVED = {"and", "or", "not"}
_OPERATOR_WORDS = [
    "contains",
    "starts with",
    "ends with",
    "in",
    "is unknown",
    "has any value",
    "more than",
    "less than",
    "exactly",
]
_OPERATOR_HINT = "e.g. `=`, `!=`, `>`, `contains`, `starts with`, `in (…)`, `is unknown`, `has any value`"


def parse(text: str) -> Node:
    """Parse a rule, or raise ``RuleError`` pointing at the first problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_RULE_BYTES:
        raise RuleError(
            text,
            [
                Diagnostic(
                    Code.RULE_TOO_LONG,
                    f"the rule is longer than {MAX_RULE_BYTES // 1024} KB",
                    Span(0, len(text)),
                    "split it into smaller segments",
                )
            ],
        )
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # --- token helpers ----------------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def at(self, kind: Kind) -> bool:
        return self.token.kind is kind

    def at_word(self, *words: str, token: Token | None = None) -> bool:
        token = token or self.token
        return token.kind is Kind.WORD and token.lower in words

    def expect_word(self, word: str, context: str) -> Token:
        if not self.at_word(word):
            raise self.error(f"expected `{word}` {context}")
        return self.advance()

    def error(
        self, message: str, hint: str = "", token: Token | None = None, code: Code = Code.UNEXPECTED_TOKEN
    ) -> RuleError:
        token = token or self.token
        found = "the end of the rule" if token.kind is Kind.EOF else f"`{token.text}`"
        return RuleError(self.text, [Diagnostic(code, f"{message}, found {found}", token.span, hint)])

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(
                self.text,
                [
                    Diagnostic(
                        Code.RULE_TOO_DEEP,
                        f"the rule nests deeper than {MAX_DEPTH} levels",
                        token.span,
                        "flatten it: AND and OR take any number of conditions",
                    )
                ],
            )

    # --- grammar ----------------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.at(Kind.EOF):
            raise RuleError(
                self.text,
                [Diagnostic(Code.EMPTY_RULE, "the rule is empty", self.token.span, "e.g. company.plan = enterprise")],
            )
        node = self.or_expr()
        if not self.at(Kind.EOF):
            raise self.unexpected_after_condition()
        return node

    def or_expr(self) -> Node:
        start = self.token.span.start
        operands = [self.and_expr()]
        while self.at_word("or"):
            self.advance()
            operands.append(self.and_expr())
        return self.combine(Or, operands, start)

    def and_expr(self) -> Node:
        start = self.token.span.start
        operands = [self.not_expr()]
        while self.at_word("and"):
            self.advance()
            operands.append(self.not_expr())
        return self.combine(And, operands, start)

    def combine(self, kind: type[And] | type[Or], operands: list[Node], start: int) -> Node:
        if len(operands) == 1:
            return operands[0]
        flat: list[Node] = []
        for operand in operands:
            if isinstance(operand, And | Or) and isinstance(operand, kind):
                flat.extend(operand.operands)
            else:
                flat.append(operand)
        return kind(tuple(flat), span=Span(start, self.tokens[self.index - 1].span.end))

    def not_expr(self) -> Node:
        if self.at_word("not"):
            token = self.advance()
            self.enter(token)
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand, span=Span(token.span.start, _end(operand)))
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind is Kind.LPAREN:
            self.advance()
            self.enter(token)
            node = self.or_expr()
            self.depth -= 1
            if not self.at(Kind.RPAREN):
                raise self.unexpected_after_condition(closing=True)
            self.advance()
            return node
        return self.condition()

    def condition(self) -> Condition:
        token = self.token
        if token.kind is not Kind.WORD or token.lower in _RESERVED:
            hint = "field names are not quoted" if token.kind is Kind.STRING else "e.g. company.plan = enterprise"
            raise self.error("expected a field such as `user.plan`", hint)
        field = self.advance()
        op_start = self.token
        op, values = self.predicate(field)
        op_span = Span(op_start.span.start, self.tokens[self.index - 1].span.end)
        return Condition(
            field.text,
            op,
            values,
            span=Span(field.span.start, self.tokens[self.index - 1].span.end),
            field_span=field.span,
            op_span=op_span,
        )

    def predicate(self, field: Token) -> tuple[Op, tuple[Value, ...]]:
        token = self.token
        if token.kind is Kind.OP:
            self.advance()
            return _COMPARISONS[token.text], (self.value(),)
        if token.kind is not Kind.WORD:
            raise self.error(f"expected an operator after `{field.text}`", _OPERATOR_HINT)
        word = token.lower
        if word == "not":
            self.advance()
            if self.at_word("in"):
                self.advance()
                return Op.NOT_IN, self.value_list()
            return self.text_operator(negated=True), (self.value(),)
        if word == "does":
            self.advance()
            self.expect_word("not", "after `does`")
            return self.text_operator(negated=True, verb=True), (self.value(),)
        if word in ("contains", "starts", "ends"):
            return self.text_operator(negated=False), (self.value(),)
        if word == "in":
            self.advance()
            return Op.IN, self.value_list()
        if word == "is":
            self.advance()
            negated = bool(self.at_word("not"))
            if negated:
                self.advance()
            if self.at_word("unknown"):
                self.advance()
                return (Op.HAS_ANY_VALUE if negated else Op.IS_UNKNOWN), ()
            return (Op.NE if negated else Op.EQ), (self.value(),)
        if word == "has":
            self.advance()
            self.expect_word("any", "in `has any value`")
            self.expect_word("value", "in `has any value`")
            return Op.HAS_ANY_VALUE, ()
        if word in ("more", "less"):
            self.advance()
            self.expect_word("than", f"after `{word}`")
            return (Op.MORE_THAN_DAYS_AGO if word == "more" else Op.LESS_THAN_DAYS_AGO), (self.days_ago(),)
        if word == "exactly":
            self.advance()
            return Op.EXACTLY_DAYS_AGO, (self.days_ago(),)
        close = difflib.get_close_matches(word, _OPERATOR_WORDS, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else _OPERATOR_HINT
        raise self.error(f"expected an operator after `{field.text}`", hint)

    def text_operator(self, *, negated: bool, verb: bool = False) -> Op:
        """``contains`` / ``starts with`` / ``ends with``; after ``does not`` the verb forms ``contain`` etc."""
        forms = {"contain": Op.CONTAINS, "start": Op.STARTS_WITH, "end": Op.ENDS_WITH}
        if not verb:
            forms = {f"{word}s": op for word, op in forms.items()}
        if not self.at_word(*forms):
            expected = " / ".join(f"`{form}`" for form in forms)
            hint = "e.g. `not contains`, `not in (…)`; for not equal use `!=`" if negated else ""
            raise self.error(f"expected {expected}", hint)
        op = forms[self.advance().lower]
        if op is not Op.CONTAINS:
            self.expect_word("with", f"after `{self.tokens[self.index - 1].text}`")
        negation = op.negation
        assert negation is not None
        return negation if negated else op

    def value_list(self) -> tuple[Value, ...]:
        if not self.at(Kind.LPAREN):
            raise self.error("expected `(` to open the list", "e.g. in (pro, enterprise)")
        self.advance()
        values = [self.value()]
        while self.at(Kind.COMMA):
            self.advance()
            if self.at(Kind.RPAREN):
                break
            values.append(self.value())
        if not self.at(Kind.RPAREN):
            raise self.error("expected `,` or `)` in the list", "e.g. in (pro, enterprise)")
        self.advance()
        return tuple(values)

    def value(self) -> Value:
        token = self.token
        if token.kind is Kind.STRING:
            self.advance()
            assert isinstance(token.value, str)
            return Text(token.value, span=token.span)
        if token.kind is Kind.DATE:
            self.advance()
            assert isinstance(token.value, dt.date)
            return Date(token.value, span=token.span)
        if token.kind is Kind.NUMBER:
            if self.at_word("day", "days", token=self.peek()):
                return self.days_ago()
            self.advance()
            assert isinstance(token.value, Decimal)
            return Number(token.value, text=token.text, span=token.span)
        if token.kind is Kind.WORD and token.lower not in _RESERVED:
            self.advance()
            if token.lower in ("true", "false"):
                return Boolean(token.lower == "true", span=token.span)
            return Text(token.text, span=token.span)
        hint = (
            f'quote it: "{token.text}"' if token.kind is Kind.WORD else 'e.g. enterprise, "two words", 42, 2024-01-31'
        )
        raise self.error("expected a value", hint)

    def days_ago(self) -> DaysAgo:
        token = self.token
        if token.kind is not Kind.NUMBER or not (token.text.isascii() and token.text.isdigit()):
            raise self.error("expected a whole number of days", "e.g. more than 30 days ago")
        days = int(token.text)
        if days > MAX_DAYS:
            raise self.error(f"expected at most {MAX_DAYS} days", "", code=Code.INVALID_NUMBER)
        self.advance()
        if not self.at_word("day", "days"):
            raise self.error("expected `days`", "e.g. 30 days ago")
        self.advance()
        ago = self.expect_word("ago", "after the number of days")
        return DaysAgo(days, span=Span(token.span.start, ago.span.end))

    def unexpected_after_condition(self, *, closing: bool = False) -> RuleError:
        token = self.token
        expected = "AND, OR or `)`" if closing else "AND, OR or the end of the rule"
        hint = ""
        if token.kind is Kind.WORD:
            if token.text in ("&&", "&"):
                hint = "use AND"
            elif token.text in ("||", "|"):
                hint = "use OR"
            elif close := difflib.get_close_matches(token.lower, ["and", "or"], n=1, cutoff=0.6):
                hint = f"did you mean `{close[0].upper()}`?"
            else:
                hint = 'quote values that contain spaces: "two words"'
        elif token.kind is Kind.RPAREN:
            hint = "this `)` has no matching `(`"
        elif closing and token.kind is Kind.EOF:
            hint = "add the missing `)`"
        return self.error(f"expected {expected}", hint)


def _end(node: Node) -> int:
    return node.span.end
