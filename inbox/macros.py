"""Macros' placeholders: ``{{ customer.first_name }}`` and its kin, filled in by plain substitution.

A macro's text is written by a workspace's teammates and is never run through Django's template engine (which
would let it read any attribute, call methods or load tags): ``macro_render`` replaces only the names in
``PLACEHOLDERS`` with values from a ``MacroContext`` and leaves everything else as typed. The result is plain
text, escaped wherever it is shown, like any reply. ``macro_check`` reports unknown names when a macro is saved.
"""

import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\.([a-z_]+)\s*\}\}")
PLACEHOLDERS = (
    "customer.first_name",
    "customer.name",
    "customer.email",
    "company.name",
    "teammate.first_name",
    "teammate.name",
    "ticket.id",
)


@dataclass(frozen=True)
class MacroContext:
    """The values a macro may use, already as text ("" when unknown)."""

    customer_name: str
    customer_email: str
    company_name: str
    teammate_name: str
    teammate_first_name: str
    ticket_id: str

    def values(self) -> dict[str, str]:
        first_name = self.customer_name.split()[0] if self.customer_name.strip() else ""
        return {
            "customer.first_name": first_name or "there",
            "customer.name": self.customer_name or "there",
            "customer.email": self.customer_email,
            "company.name": self.company_name,
            "teammate.first_name": self.teammate_first_name or self.teammate_name,
            "teammate.name": self.teammate_name,
            "ticket.id": self.ticket_id,
        }


def macro_unknown_placeholders(body: str) -> list[str]:
    """The placeholders of ``body`` that are not in ``PLACEHOLDERS``, in order."""
    found = [f"{group}.{name}" for group, name in PLACEHOLDER.findall(body)]
    return [name for name in dict.fromkeys(found) if name not in PLACEHOLDERS]


def macro_render(body: str, context: MacroContext) -> str:
    """``body`` with each known placeholder replaced by its value (an unknown one is left as typed)."""
    values = context.values()

    def replace(match: re.Match[str]) -> str:
        return values.get(f"{match.group(1)}.{match.group(2)}", match.group(0))

    return PLACEHOLDER.sub(replace, body)
