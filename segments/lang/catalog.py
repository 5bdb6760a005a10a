"""The field catalog: which fields a rule may name, their types, and the operators each type allows.

The catalog is data. The checker, the evaluator and the Django compiler read it; nothing in the language
hard-codes a field. ``CONTACT_CATALOG`` is Halo's catalog of contact fields. A *JSON* field is a prefix such as
``user.custom_fields``: ``user.custom_fields.<key>`` reads one top-level key, whose JSON type is only
known per contact, so the literal decides the comparison (text, number or boolean) and a value of another
JSON type is unknown.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from segments.lang.ast import DAYS_AGO_OPS, LIST_OPS, ORDER_OPS, TEXT_OPS, UNARY_OPS, Op


class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    DATETIME = "date"
    PAGES = "list of pages"
    JSON = "custom field"


_EQUALITY = frozenset({Op.EQ, Op.NE}) | LIST_OPS | UNARY_OPS

OPERATORS: Mapping[FieldType, frozenset[Op]] = {
    FieldType.TEXT: _EQUALITY | TEXT_OPS,
    FieldType.NUMBER: _EQUALITY | ORDER_OPS,
    FieldType.DATETIME: frozenset({Op.EQ, Op.NE}) | UNARY_OPS | ORDER_OPS | DAYS_AGO_OPS,
    FieldType.PAGES: _EQUALITY | TEXT_OPS,
    FieldType.JSON: _EQUALITY | TEXT_OPS | ORDER_OPS,
}

# Custom-field keys a rule can name: letters, digits, `_`, `-` and `.` (a dot is part of the key: keys
# are top-level, there are no nested paths).
JSON_KEY = re.compile(r"[\w\-.]+")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    description: str = ""


@dataclass(frozen=True, slots=True)
class ResolvedField:
    """A field named by a rule: its spec and, for a JSON field, the key read from it."""

    spec: FieldSpec
    key: str | None = None

    @property
    def type(self) -> FieldType:
        return self.spec.type


@dataclass(frozen=True, eq=False)
class Catalog:
    """Field name → spec. Compared and hashed by identity, so compiled predicates can be cached per catalog."""

    fields: Mapping[str, FieldSpec]

    def resolve(self, name: str) -> ResolvedField | None:
        """The field a rule names; field names ignore case, custom-field keys do not."""
        spec = self.fields.get(name.lower())
        if spec is not None:
            return None if spec.type is FieldType.JSON else ResolvedField(spec)
        for prefix in self.json_prefixes:
            if name.lower().startswith(prefix + "."):
                key = name[len(prefix) + 1 :]
                return ResolvedField(self.fields[prefix], key) if JSON_KEY.fullmatch(key) else None
        return None

    @property
    def json_prefixes(self) -> list[str]:
        return [spec.name for spec in self.fields.values() if spec.type is FieldType.JSON]

    def suggest(self, name: str) -> str | None:
        """The closest known field name, for "did you mean …?"."""
        candidates = [spec.name for spec in self.fields.values() if spec.type is not FieldType.JSON]
        parts = name.split(".", 2)
        key = parts[2] if len(parts) == 3 else "<key>"
        candidates += [f"{prefix}.{key}" for prefix in self.json_prefixes]
        matches = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.6)
        if not matches and len(parts) == 3:
            # `user.custom_field.tier` is closest to the prefix, which the key makes look far.
            close = difflib.get_close_matches(".".join(parts[:2]).lower(), self.json_prefixes, n=1, cutoff=0.8)
            matches = [f"{close[0]}.{key}"] if close else []
        return matches[0] if matches else None


CONTACT_CATALOG = Catalog(
    {
        spec.name: spec
        for spec in [
            FieldSpec("user.name", FieldType.TEXT, "The contact's name."),
            FieldSpec("user.email", FieldType.TEXT, "The contact's email address."),
            FieldSpec("user.role", FieldType.TEXT, "The contact's role."),
            FieldSpec("user.plan", FieldType.TEXT, "The contact's plan."),
            FieldSpec("user.user_id", FieldType.TEXT, "The workspace's own id of the user."),
            FieldSpec("user.created_at", FieldType.DATETIME, "When the contact was first seen."),
            FieldSpec("user.custom_fields", FieldType.JSON, "A custom field of the contact."),
            FieldSpec("company.name", FieldType.TEXT, "The company's name."),
            FieldSpec("company.plan", FieldType.TEXT, "The company's plan."),
            FieldSpec("company.employee_count", FieldType.NUMBER, "Number of employees."),
            FieldSpec("company.mrr", FieldType.NUMBER, "The company's monthly recurring revenue."),
            FieldSpec("company.industry", FieldType.TEXT, "The company's industry."),
            FieldSpec("company.custom_fields", FieldType.JSON, "A custom field of the company."),
            FieldSpec("stripe.subscription_status", FieldType.TEXT, "Stripe subscription status."),
            FieldSpec("stripe.mrr", FieldType.NUMBER, "Monthly recurring revenue in Stripe."),
            FieldSpec("stripe.lifetime_value", FieldType.NUMBER, "Lifetime value in Stripe."),
            FieldSpec("activity.last_active", FieldType.DATETIME, "When the contact was last active."),
            FieldSpec("activity.pages_visited", FieldType.PAGES, "The URLs of the pages the contact viewed."),
        ]
    }
)
