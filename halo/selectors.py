"""Reads on tenancy and people, always scoped to one workspace."""

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import holidays
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Q, QuerySet

from halo import hours
from halo.hours import Period, Schedule
from halo.identity import ContactIdentity
from halo.models import BusinessHours, Contact, Membership, WebhookEndpoint, Workspace
from halo.search import term_is_prefix, term_stem, terms_found


def contact_list(*, workspace: Workspace) -> QuerySet[Contact]:
    return Contact.objects.filter(workspace=workspace).select_related("company")


def contact_get(*, workspace: Workspace, user_id: str) -> Contact | None:
    return contact_list(workspace=workspace).filter(user_id=user_id).first()


def membership_get(*, workspace: Workspace, user_id: int) -> Membership | None:
    """A teammate's membership of ``workspace`` (None for a user of another workspace or no user at all)."""
    return Membership.objects.filter(workspace=workspace, user_id=user_id).select_related("user").first()


def workspace_ids_administered(*, user: User | AnonymousUser) -> set[int]:
    """Ids of the workspaces ``user`` is an admin of (empty for anonymous or inactive users)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values_list("workspace_id", flat=True))


# What an ``app_id`` may look like (``halo.models.new_app_id`` makes them); anything else finds nothing.
APP_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def workspace_by_app_id(app_id: Any) -> Workspace | None:
    """The workspace of a well-formed ``app_id`` (anything else, e.g. a NUL byte, finds nothing)."""
    if not isinstance(app_id, str) or not APP_ID_PATTERN.fullmatch(app_id):
        return None
    return Workspace.objects.filter(app_id=app_id).first()


def contact_of_identity(*, workspace: Workspace, identity: ContactIdentity) -> Contact | None:
    """The contact of a verified widget caller if it exists already (never creates one)."""
    if identity.user_id is not None:
        return Contact.objects.filter(workspace=workspace, user_id=identity.user_id).first()
    if identity.visitor_id is not None:
        return Contact.objects.filter(workspace=workspace, visitor_id=identity.visitor_id).first()
    return None


def workspace_origin_allowed(*, workspace: Workspace, origin: str) -> bool:
    """Whether a browser on ``origin`` may call the workspace's widget (its ``allowed_origins``; ``*``: any)."""
    allowed = {str(value).rstrip("/").lower() for value in workspace.allowed_origins or []}
    return origin.rstrip("/").lower() in allowed or "*" in allowed


def origin_is_same_host(*, origin: str, host: str) -> bool:
    """Whether ``origin`` is Halo's own host (the widget demo page)."""
    return urlsplit(origin).netloc.lower() == host.lower()


# --- Finding contacts by text (the inbox's search) --------------------------------------------------

# The expressions indexed by migration 0005_contact_text_search (the contact's columns qualified: the query
# joins the company, which has a ``name`` too; PostgreSQL matches the index on the resolved columns).
CONTACT_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(halo_contact.name, '') || ' ' || "
    "translate(coalesce(halo_contact.email, ''), '@.+_-', '     '))"
)
COMPANY_DOCUMENT = "to_tsvector('simple'::regconfig, coalesce(name, ''))"


def _tsquery_term(term: str) -> str:
    """A term in ``to_tsquery`` syntax (a prefix query from ``PREFIX_MIN_CHARS`` characters on). Terms are
    letters and digits only (``halo.search.search_terms``): no query syntax can come from a user."""
    return f"{term_stem(term)}:*" if term_is_prefix(term) else term


def contacts_matching_text(*, workspace_id: int, terms: list[str], limit: int) -> dict[int, int]:
    """Contacts of a workspace whose name, email or company name has words matching ``terms``, as {contact id:
    bit mask of the terms matched}, at most ``limit``: those whose own name and email hold every term; when
    there are none (a query that mixes a contact's words with a message's or a company's), those matching any
    term. One query, or two. (Asking for "any" always would make an email's common words — its domain — match
    every contact.)"""
    if not terms:
        return {}
    found: dict[int, int] = {}
    for every in (True, False) if len(terms) > 1 else (False,):  # one word: "any" looks in companies too
        if found:
            break
        for pk, name, email, company in _contacts_with_terms(
            workspace_id=workspace_id, terms=terms, every=every, limit=limit
        ):
            mask = terms_found(" ".join(part for part in (name, email, company) if part), terms)
            if mask:
                found[pk] = mask
    return found


def _contacts_with_terms(*, workspace_id: int, terms: list[str], every: bool, limit: int) -> list[tuple[Any, ...]]:
    contacts = Contact.objects.filter(workspace_id=workspace_id)
    if connection.vendor == "postgresql":
        query = (" & " if every else " | ").join(_tsquery_term(term) for term in terms)
        # "Every" looks in the contact's own document (one GIN lookup: the usual search, a name or an email);
        # a query mixing the contact's words and its company's is found by "any", a UNION of both lookups.
        if every:
            contacts = contacts.extra(  # noqa: S610  # nosec B610 (expressions of ours; the query text is bound)
                where=[f"{CONTACT_DOCUMENT} @@ to_tsquery('simple', %s)"], params=[query]
            )
        else:
            contacts = contacts.extra(  # noqa: S610  # nosec B610
                where=[
                    "halo_contact.id IN ("  # noqa: S608  # nosec B608
                    "SELECT id FROM halo_contact WHERE workspace_id = %s "
                    f"AND {CONTACT_DOCUMENT} @@ to_tsquery('simple', %s) "
                    "UNION SELECT id FROM halo_contact WHERE workspace_id = %s AND company_id IN "
                    "(SELECT id FROM halo_company WHERE workspace_id = %s "
                    f"AND {COMPANY_DOCUMENT} @@ to_tsquery('simple', %s)))"
                ],
                params=[workspace_id, query, workspace_id, workspace_id, query],
            )
    else:
        condition = Q() if every else Q(pk__in=[])
        for term in terms:
            needle = term_stem(term) if term_is_prefix(term) else term
            one = Q(name__icontains=needle) | Q(email__icontains=needle) | Q(company__name__icontains=needle)
            condition = condition & one if every else condition | one
        contacts = contacts.filter(condition)
    return list(contacts.values_list("pk", "name", "email", "company__name")[:limit])


# --- Business hours ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessHoursSettings:
    """A workspace's business hours as the API shows them (defaults when it never set any)."""

    timezone: str
    weekly: list[dict[str, Any]]
    holidays_country: str | None
    holidays: list[str]
    first_reply_target_minutes: int
    priority_first_reply_target_minutes: int

    def schedule(self, *, around: datetime) -> Schedule:
        """The schedule for arithmetic near ``around``: the country's holidays of the year before it to two
        years after it (a first-reply due time is hours or days away), with the custom dates."""
        closed = {date.fromisoformat(value) for value in self.holidays}
        if self.holidays_country:
            for year in range(around.year - 1, around.year + 3):
                closed |= _country_holidays(self.holidays_country, year)
        periods = tuple(
            Period(item["day"], hours.minute_of_day(item["open"]), hours.minute_of_day(item["close"]))
            for item in self.weekly
        )
        return Schedule(timezone=self.timezone, periods=periods, closed_dates=frozenset(closed))

    def target_minutes(self, *, priority: bool) -> int:
        return self.priority_first_reply_target_minutes if priority else self.first_reply_target_minutes


@functools.lru_cache(maxsize=512)
def _country_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


def business_hours_get(*, workspace: Workspace) -> BusinessHoursSettings:
    """The workspace's business hours, or the defaults: open around the clock. No query when the workspace
    was read with them (``select_related("workspace__business_hours")``, as the widget's reads do), else one."""
    row: BusinessHours | None
    if Workspace.business_hours.is_cached(workspace):
        row = getattr(workspace, "business_hours", None)
    else:
        row = BusinessHours.objects.filter(workspace_id=workspace.pk).first()
    if row is None:
        return BusinessHoursSettings(
            timezone=workspace.timezone,
            weekly=[{"day": period.day, "open": "00:00", "close": "24:00"} for period in hours.ALWAYS_OPEN_PERIODS],
            holidays_country=None,
            holidays=[],
            first_reply_target_minutes=BusinessHours.DEFAULT_FIRST_REPLY_TARGET_MINUTES,
            priority_first_reply_target_minutes=BusinessHours.DEFAULT_PRIORITY_FIRST_REPLY_TARGET_MINUTES,
        )
    return BusinessHoursSettings(
        timezone=workspace.timezone,
        weekly=list(row.weekly),
        holidays_country=row.holidays_country,
        holidays=list(row.holidays),
        first_reply_target_minutes=row.first_reply_target_minutes,
        priority_first_reply_target_minutes=row.priority_first_reply_target_minutes,
    )


def webhook_endpoint_list(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace).order_by("id")


def webhook_endpoint_get(*, workspace: Workspace, endpoint_id: int) -> WebhookEndpoint | None:
    return webhook_endpoint_list(workspace=workspace).filter(pk=endpoint_id).first()


def webhook_paused_recipients(*, workspace_id: int) -> list[str]:
    """The email addresses of the workspace's admins (told when one of its endpoints is paused)."""
    emails = Membership.objects.filter(workspace_id=workspace_id, role=Membership.Role.ADMIN).values_list(
        "user__email", flat=True
    )
    return sorted({email for email in emails if email})
