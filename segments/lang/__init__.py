"""The segment language as a pure library: no Django, no database, no clock.

``parse`` (text → AST), ``check`` / ``parse_checked`` (AST against a field catalog → diagnostics),
``print_rule`` (AST → canonical text), ``evaluate`` (AST, one contact's facts and now → bool) and
``push_not_down`` (negation normal form, for compilers). The Django compiler lives beside this package, in
``segments.compiler``.
"""

from segments.lang.ast import Node
from segments.lang.catalog import CONTACT_CATALOG, Catalog, FieldSpec, FieldType
from segments.lang.checker import MAX_CONDITIONS, check, parse_checked
from segments.lang.errors import Code, Diagnostic, Position, RuleError
from segments.lang.evaluator import Facts, compile_predicate, evaluate
from segments.lang.normalize import push_not_down
from segments.lang.parser import MAX_DEPTH, MAX_RULE_BYTES, parse
from segments.lang.printer import print_rule

__all__ = [
    "CONTACT_CATALOG",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_RULE_BYTES",
    "Catalog",
    "Code",
    "Diagnostic",
    "Facts",
    "FieldSpec",
    "FieldType",
    "Node",
    "Position",
    "RuleError",
    "check",
    "compile_predicate",
    "evaluate",
    "parse",
    "parse_checked",
    "print_rule",
    "push_not_down",
]
