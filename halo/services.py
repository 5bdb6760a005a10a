"""Writes on tenancy and people: provisioning workspaces and API keys, upserting contacts, recording activity.

Each service takes keyword-only arguments, owns its transaction and validates through the models' own
validation (``full_clean``), so the admin, the API and the commands refuse the same bad input. Optional
text arrives as ``""`` or ``None`` and is stored as NULL. Upserts are idempotent and safe under concurrent
requests: the database's unique constraints decide which writer creates a row, the others update it.
"""

import re
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import holidays
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from halo import hours
from halo.email_confirmation import EmailClaim
from halo.hours import Period
from halo.identity import ContactIdentity
from halo.inserts import insert_unless_conflict
from halo.models import ApiKey, BusinessHours, Company, Contact, Membership, PageView, Workspace, validate_custom_fields
from halo.outbox import outbox_enqueue

CONTACT_TEXT_FIELDS = ("email", "name", "role", "plan")
COMPANY_TEXT_FIELDS = ("name", "plan", "industry")
# The ``stripe`` object of the API → the contact's columns.
STRIPE_FIELDS = {"subscription_status": "subscription_status", "mrr": "stripe_mrr", "lifetime_value": "lifetime_value"}

ModelT = TypeVar("ModelT", bound=models.Model)
# The most tickets a teammate's capacity can name (a typo such as 10000 is refused rather than meaning "no limit").
MEMBERSHIP_CAPACITY_MAX = 1000


@dataclass(frozen=True)
class WorkspaceCreated:
    """A new workspace and what its owner needs once: the raw API key is not stored and cannot be shown again."""

    workspace: Workspace
    admin: User
    api_key: ApiKey
    raw_api_key: str


@dataclass(frozen=True)
class ContactUpserted:
    contact: Contact
    created: bool


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def user_get_or_create(*, email: str, password: str | None = None) -> tuple[User, bool]:
    """The staff login for ``email`` (its username); a new user gets ``password``, an existing one keeps theirs."""
    email = User.objects.normalize_email(email.strip()).lower()
    user = User.objects.filter(username=email).first()
    if user is not None:
        return user, False
    user = User(username=email, email=email)
    if password:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user, True


def api_key_create(*, workspace: Workspace, name: str = "default") -> tuple[ApiKey, str]:
    """A new API key for ``workspace``; returns the row and the raw key ``halo_<prefix>_<secret>`` (shown once)."""
    prefix, secret = secrets.token_hex(6), secrets.token_hex(32)
    api_key = ApiKey(workspace=workspace, name=name, prefix=prefix, key_hash=ApiKey.hash_secret(secret))
    api_key.full_clean(exclude=["prefix", "key_hash"])
    api_key.save()
    return api_key, f"halo_{prefix}_{secret}"


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def workspace_create(
    *,
    name: str,
    admin_email: str,
    admin_password: str | None,
    slug: str | None = None,
    timezone_name: str = "UTC",
    allowed_origins: list[str] | None = None,
) -> WorkspaceCreated:
    """A workspace with its admin (an existing login is reused, its password untouched) and a first API key."""
    with transaction.atomic():
        workspace = Workspace(
            name=name.strip(),
            slug=slug or _unique_slug(name),
            timezone=timezone_name,
            allowed_origins=allowed_origins or [],
        )
        workspace.full_clean()
        workspace.save()
        admin, _ = user_get_or_create(email=admin_email, password=admin_password)
        membership_set(workspace=workspace, user=admin, role=Membership.Role.ADMIN)
        api_key, raw_key = api_key_create(workspace=workspace)
    return WorkspaceCreated(workspace=workspace, admin=admin, api_key=api_key, raw_api_key=raw_key)


def membership_set(*, workspace: Workspace, user: User, role: str) -> Membership:
    """Make ``user`` a member of ``workspace`` with ``role`` (creates or changes the one membership)."""
    with transaction.atomic():
        membership, created = _locked_get_or_create(
            Membership.objects.all(), lookup={"workspace": workspace, "user": user}, defaults={"role": role}
        )
        if not created and membership.role != role:
            membership.role = role
            membership.full_clean()
            membership.save(update_fields=["role"])
        if role == Membership.Role.ADMIN and not user.is_staff:
            # Workspace admins manage their workspace in the Django admin (scoped by halo.admin).
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return membership


@dataclass(frozen=True)
class MembershipUpdated:
    """A changed membership, and whether the teammate can now take more work than before (available again,
    or a capacity raised or lifted)."""

    membership: Membership
    more_room: bool


MEMBERSHIP_EDITABLE_FIELDS = ("available", "capacity")


def membership_update(*, membership: Membership, data: Mapping[str, Any]) -> MembershipUpdated:
    """Change a teammate's ``available`` (bool) and/or ``capacity`` (a whole number of tickets, or None for
    no limit) in their workspace, under the membership's row lock (the one team assignment takes)."""
    unknown = set(data) - set(MEMBERSHIP_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    errors: dict[str, str] = {}
    if "available" in data and not isinstance(data["available"], bool):
        errors["available"] = "true or false."
    capacity = data.get("capacity")
    if (
        "capacity" in data
        and capacity is not None
        and (
            isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MEMBERSHIP_CAPACITY_MAX
        )
    ):
        errors["capacity"] = f"A whole number from 0 to {MEMBERSHIP_CAPACITY_MAX}, or null for no limit."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Membership.objects.select_for_update().select_related("workspace").get(pk=membership.pk)
        was_available, had_capacity = locked.available, locked.capacity
        for name in MEMBERSHIP_EDITABLE_FIELDS:
            if name in data:
                setattr(locked, name, data[name])
        locked.save(update_fields=[name for name in MEMBERSHIP_EDITABLE_FIELDS if name in data])
    more_room = locked.available and (
        not was_available or (had_capacity is not None and (locked.capacity is None or locked.capacity > had_capacity))
    )
    return MembershipUpdated(membership=locked, more_room=more_room)


def _locked_get_or_create(
    queryset: models.QuerySet[ModelT], *, lookup: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> tuple[ModelT, bool]:
    """Get the row locked for update, or create it; a concurrent creator's row wins (the unique constraint
    decides) and is returned instead. Call inside a transaction."""
    existing = queryset.select_for_update().filter(**lookup).first()
    if existing is not None:
        return existing, False
    row = queryset.model(**lookup, **(defaults or {}))
    row.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a lost race
            row.save(force_insert=True)
    except IntegrityError:
        return queryset.select_for_update().get(**lookup), False
    return row, True


def _merge_custom_fields(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Keys sent are set; a key sent as null or "" is removed; keys not sent are kept."""
    merged = dict(current)
    for key, value in changes.items():
        value = _blank_to_none(value)
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def company_upsert(*, workspace: Workspace, company_id: str, data: Mapping[str, Any]) -> Company:
    """Create or update the company the workspace knows as ``company_id``; only the fields in ``data`` change."""
    company_id = _blank_to_none(company_id)
    if company_id is None:
        raise ValidationError({"company_id": ["This field is required."]})
    with transaction.atomic():
        company, _ = _locked_get_or_create(
            Company.objects.filter(workspace=workspace), lookup={"workspace": workspace, "company_id": company_id}
        )
        for field in (*COMPANY_TEXT_FIELDS, "employee_count", "mrr"):
            if field in data:
                setattr(company, field, _blank_to_none(data[field]))
        if "custom_fields" in data:
            company.custom_fields = _merge_custom_fields(company.custom_fields, data["custom_fields"] or {})
        company.full_clean(validate_constraints=False)
        company.save()
    return company


def contact_upsert(*, workspace: Workspace, user_id: str, data: Mapping[str, Any]) -> ContactUpserted:
    """Create or update the contact the workspace knows as ``user_id``. Idempotent: the same call twice leaves
    one contact and one company in the same state.

    ``data`` holds the public field names of the contacts API; a field that is absent is left as it is, ``null`` or
    ``""`` clears it. ``custom_fields`` are merged key by key. ``company`` upserts the company by its
    ``company_id`` and links it (``null`` unlinks); ``stripe`` sets the Stripe columns. Everything is
    written in one transaction, so invalid input changes nothing.
    """
    user_id = _blank_to_none(user_id)
    if user_id is None:
        raise ValidationError({"user_id": ["This field is required."]})
    with transaction.atomic():
        contact, created = _locked_get_or_create(
            Contact.objects.filter(workspace=workspace), lookup={"workspace": workspace, "user_id": user_id}
        )
        for field in CONTACT_TEXT_FIELDS:
            if field in data:
                setattr(contact, field, _blank_to_none(data[field]))
        if "last_active_at" in data:
            contact.last_active_at = data["last_active_at"]
        if "custom_fields" in data:
            contact.custom_fields = _merge_custom_fields(contact.custom_fields, data["custom_fields"] or {})
        if "stripe" in data:
            stripe = data["stripe"] or {field: None for field in STRIPE_FIELDS}
            for field, column in STRIPE_FIELDS.items():
                if field in stripe:
                    setattr(contact, column, _blank_to_none(stripe[field]))
        if "company" in data:
            company_data = data["company"]
            contact.company = (
                None
                if company_data is None
                else company_upsert(workspace=workspace, company_id=company_data.get("company_id"), data=company_data)
            )
        contact.full_clean(validate_constraints=False)
        contact.save()
    return ContactUpserted(contact=contact, created=created)


def page_view_record(*, contact: Contact, url: str, occurred_at: datetime | None = None) -> PageView:
    """Record that ``contact`` visited ``url``; ``last_active_at`` moves forward to the visit (never back)."""
    return page_views_record(contact=contact, views=[(url, occurred_at or timezone.now())])[0]


def page_views_record(*, contact: Contact, views: list[tuple[str, datetime]]) -> list[PageView]:
    """Record a batch of visits in one transaction (all or nothing) and bring ``last_active_at`` up to the latest."""
    if not views:
        return []
    rows = [PageView(contact=contact, url=url.strip(), occurred_at=occurred_at) for url, occurred_at in views]
    for row in rows:
        row.full_clean(exclude=["contact"])
    with transaction.atomic():
        created = PageView.objects.bulk_create(rows)
        latest = max(row.occurred_at for row in rows)
        # A conditional update, so concurrent batches never move last_active_at backwards.
        Contact.objects.filter(pk=contact.pk).filter(
            models.Q(last_active_at__isnull=True) | models.Q(last_active_at__lt=latest)
        ).update(last_active_at=latest)
    contact.refresh_from_db(fields=["last_active_at"])
    return created


# How fresh ``last_active_at`` must be for chatting not to write it again: one UPDATE per minute of chat at
# most, not one per message.
ACTIVE_GRANULARITY = timedelta(minutes=1)


def contact_touch(*, contact: Contact, at: datetime) -> None:
    """The contact was active at ``at`` (they chatted): ``last_active_at`` moves forward to it, never back,
    and is not written again within ``ACTIVE_GRANULARITY`` (read from the instance: no query then)."""
    if contact.last_active_at is not None and contact.last_active_at >= at - ACTIVE_GRANULARITY:
        return
    Contact.objects.filter(pk=contact.pk).filter(
        models.Q(last_active_at__isnull=True) | models.Q(last_active_at__lt=at)
    ).update(last_active_at=at)
    contact.last_active_at = at


# --- Widget callers ---------------------------------------------------------------------------------


def contact_of_identity_resolve(*, workspace: Workspace, identity: ContactIdentity) -> Contact:
    """The contact of a verified widget caller, created on first sight (see ``contact_of_identity_get_or_create``)."""
    return contact_of_identity_get_or_create(workspace=workspace, identity=identity)[0]


def contact_of_identity_get_or_create(
    *, workspace: Workspace, identity: ContactIdentity, active_at: datetime | None = None
) -> tuple[Contact, bool]:
    """The contact of a verified widget caller, created on first sight (active at ``active_at``, if given),
    and whether this call created it.

    An identified user's email, name and traits (custom fields) are upserted lightly from a signed identity
    (``user_jwt``; only values that are given and differ; traits merged key by key); the server API stays
    the source of truth for everything else. The identity is already verified (``halo.identity``).
    Creation is race-free: the database's unique constraints decide, and the loser of a race reads the
    winner's row.
    An anonymous visitor is one ``INSERT … ON CONFLICT DO NOTHING`` (no lookup first, no savepoint), read
    only when it exists already.
    """
    if identity.user_id is not None:
        lookup: dict[str, Any] = {"workspace": workspace, "user_id": identity.user_id}
    elif identity.visitor_id is not None:
        created = _contact_visitor_insert(workspace=workspace, visitor_id=identity.visitor_id, active_at=active_at)
        if created is not None:
            return created, True
        return Contact.objects.get(workspace=workspace, visitor_id=identity.visitor_id), False
    else:
        raise ValueError("A widget caller needs a user_id or a visitor_id.")
    signed: dict[str, Any] = {
        name: value
        for name, value in (("email", identity.email), ("name", identity.name))
        if value and identity.user_id
    }
    contact = Contact.objects.filter(**lookup).first()
    if contact is None:
        custom = dict(identity.traits) if identity.user_id else {}
        try:
            with transaction.atomic():
                contact = Contact.objects.create(**lookup, **signed, custom_fields=custom, last_active_at=active_at)
        except IntegrityError:
            return Contact.objects.get(**lookup), False
        return contact, True
    if identity.traits:
        merged = {**contact.custom_fields, **identity.traits}
        if merged != contact.custom_fields:
            validate_custom_fields(merged)  # the merge may pass the count limit
            signed["custom_fields"] = merged
    changed = [name for name, value in signed.items() if getattr(contact, name) != value]
    if changed:
        for name in changed:
            setattr(contact, name, signed[name])
        contact.save(update_fields=changed)
    return contact, False


def _contact_visitor_insert(*, workspace: Workspace, visitor_id: str, active_at: datetime | None) -> Contact | None:
    """Insert an anonymous visitor's contact unless one exists (``contact_unique_visitor_id`` decides); the
    new contact, or None when it existed."""
    contact = Contact(workspace=workspace, visitor_id=visitor_id, last_active_at=active_at)
    return contact if insert_unless_conflict(contact, constraint="contact_unique_visitor_id") else None


_EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")


def contact_email_capture(*, contact: Contact, text: str) -> None:
    """An anonymous visitor without a verified email who writes one in the chat (the handoff message asks
    for it) gets it stored as ``unverified_email``: theirs by claim only until they confirm it. Identified
    users' emails come from the workspace, never from chat text."""
    if not contact.is_anonymous or contact.email:
        return
    match = _EMAIL_IN_TEXT.search(text)
    if match is None:
        return
    email = match.group(0).rstrip(".").lower()
    try:
        validate_email(email)
    except ValidationError:
        return
    if contact.unverified_email == email:
        return
    contact.unverified_email = email
    Contact.objects.filter(pk=contact.pk, email__isnull=True).update(unverified_email=email)


class EmailNotConfirmed(Exception):
    """A confirmation link that confirms nothing (the contact is gone, identified, already verified, or typed
    another address since)."""


def contact_email_verify(*, claim: EmailClaim) -> tuple[Contact, bool]:
    """A visitor confirmed the address they typed (``halo.email_confirmation``): it becomes their verified
    ``email``. Only for the anonymous contact the link names, and only while it has no verified email and
    still claims this address: never another contact's email overwritten, never a merge into another contact
    that has the same address. One conditional UPDATE, so two clicks confirm once: the second returns
    ``(contact, False)``."""
    updated = Contact.objects.filter(
        pk=claim.contact_id, user_id__isnull=True, email__isnull=True, unverified_email=claim.email
    ).update(email=claim.email, unverified_email=None)
    contact = Contact.objects.filter(pk=claim.contact_id).first()
    if contact is None or (not updated and contact.email != claim.email):
        raise EmailNotConfirmed("This link no longer confirms an address.")
    return contact, bool(updated)


# --- Business hours ----------------------------------------------------------------------------------

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_PERIODS_PER_DAY = 6
MAX_CUSTOM_HOLIDAYS = 400


def _weekly_periods(weekly: Any) -> tuple[list[Period], list[str]]:
    """The periods of a ``weekly`` list, and one message per problem (format, order, overlap)."""
    if not isinstance(weekly, list):
        return [], ['A list of {"day": 0-6, "open": "HH:MM", "close": "HH:MM"}.']
    periods: list[Period] = []
    errors: list[str] = []
    for index, item in enumerate(weekly):
        where = f"Period {index + 1}"
        if not isinstance(item, Mapping) or set(item) != {"day", "open", "close"}:
            errors.append(f'{where}: give exactly "day", "open" and "close".')
            continue
        day = item["day"]
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            errors.append(f"{where}: day is 0 (Monday) to 6 (Sunday).")
            continue
        where = f"{DAY_NAMES[day]} {item['open']}-{item['close']}"
        try:
            opens, closes = hours.minute_of_day(item["open"]), hours.minute_of_day(item["close"])
        except ValueError:
            errors.append(f"{where}: times are HH:MM, from 00:00 to 24:00.")
            continue
        if closes <= opens:
            errors.append(f"{where}: the closing time must be after the opening time.")
            continue
        periods.append(Period(day, opens, closes))
    for day in range(7):
        if sum(1 for period in periods if period.day == day) > MAX_PERIODS_PER_DAY:
            errors.append(f"{DAY_NAMES[day]}: at most {MAX_PERIODS_PER_DAY} periods a day.")
    for first, second in hours.periods_overlapping(periods):
        errors.append(
            f"{DAY_NAMES[first.day]}: {hours.clock_text(first.open_minute)}-{hours.clock_text(first.close_minute)} "
            f"overlaps {hours.clock_text(second.open_minute)}-{hours.clock_text(second.close_minute)}."
        )
    if not errors and not periods:
        errors.append("Give at least one opening period (00:00-24:00 every day for around the clock).")
    return periods, errors


def _holiday_dates(values: Any) -> tuple[list[date], list[str]]:
    if not isinstance(values, list):
        return [], ["A list of dates (YYYY-MM-DD)."]
    dates: list[date] = []
    errors: list[str] = []
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            dates.append(value)
            continue
        try:
            dates.append(date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else date.min)
        except ValueError:
            dates.append(date.min)
        if dates[-1] == date.min:
            errors.append(f"{str(value)[:40]!r} is not a date (YYYY-MM-DD).")
            dates.pop()
    if len(set(dates)) > MAX_CUSTOM_HOLIDAYS:
        errors.append(f"At most {MAX_CUSTOM_HOLIDAYS} custom dates.")
    return sorted(set(dates)), errors


def _target(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "A whole number of business minutes."
    if not 1 <= value <= BusinessHours.MAX_TARGET_MINUTES:
        return f"From 1 to {BusinessHours.MAX_TARGET_MINUTES} business minutes."
    return None


# The escalation app's task that counts a workspace's report days again, by name: ``halo`` sits below it.
REPORT_RECOUNT_TASK = "escalation.tasks.report_rollups_recount"


def workspace_timezone_changed(*, workspace: Workspace) -> None:
    """Record, in the transaction that changes the workspace's time zone, what the change requires: the
    escalation report's rollups are per local day, so every day is counted again in the new zone (an outbox
    job: it is delivered once the change commits, and never lost if the worker is down)."""
    outbox_enqueue(workspace=workspace, task=REPORT_RECOUNT_TASK, payload={})


def business_hours_set(*, workspace: Workspace, data: Mapping[str, Any]) -> BusinessHours:
    """Set a workspace's business hours: ``timezone`` (the workspace's own), ``weekly``, ``holidays_country``,
    ``holidays`` and the two first-reply targets, in the API's shapes. Fields left out keep their values.

    Every problem is reported at once, by field (``ValidationError``), and nothing is written unless all of
    it is valid: close at or before open, overlapping periods, a time that is not HH:MM, an unknown time
    zone or country, a date that is not one.
    """
    with transaction.atomic():
        locked_workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
        row, timezone_name = business_hours_check(workspace=locked_workspace, data=data)
        if locked_workspace.timezone != timezone_name:
            locked_workspace.timezone = timezone_name
            locked_workspace.save(update_fields=["timezone"])
            workspace_timezone_changed(workspace=locked_workspace)
        row.updated_at = timezone.now()
        row.save()
    workspace.timezone = timezone_name
    return row


def business_hours_check(*, workspace: Workspace, data: Mapping[str, Any]) -> tuple[BusinessHours, str]:
    """The workspace's business-hours row with ``data`` applied (not saved) and the time zone, or a
    ``ValidationError`` by field naming every problem (``business_hours_set`` explains the rules)."""
    known = {"timezone", "weekly", "holidays_country", "holidays", *BUSINESS_HOURS_TARGETS}
    unknown = sorted(set(data) - known)
    errors: dict[str, list[str]] = {name: ["Unknown field."] for name in unknown}
    row = BusinessHours.objects.filter(workspace_id=workspace.pk).first() or BusinessHours(
        workspace=workspace, weekly=business_hours_weekly_default()
    )
    timezone_name = data.get("timezone", workspace.timezone)
    if not isinstance(timezone_name, str) or timezone_name not in zoneinfo.available_timezones():
        errors["timezone"] = [f"{str(timezone_name)[:60]!r} is not a known time zone (e.g. Europe/Berlin)."]
    if "weekly" in data:
        periods, weekly_errors = _weekly_periods(data["weekly"])
        if weekly_errors:
            errors["weekly"] = weekly_errors
        row.weekly = business_hours_weekly_json(periods)
    if "holidays_country" in data:
        country = data["holidays_country"]
        if country in (None, ""):
            row.holidays_country = None
        elif not isinstance(country, str) or country.upper() not in holidays.list_supported_countries():
            errors["holidays_country"] = [
                f"{str(country)[:20]!r} is not a country whose holidays are known (an ISO code, e.g. DE)."
            ]
        else:
            row.holidays_country = country.upper()
    if "holidays" in data:
        dates, date_errors = _holiday_dates(data["holidays"])
        if date_errors:
            errors["holidays"] = date_errors
        row.holidays = [day.isoformat() for day in dates]
    for name in BUSINESS_HOURS_TARGETS:
        if name in data:
            problem = _target(data[name])
            if problem:
                errors[name] = [problem]
            else:
                setattr(row, name, data[name])
    if errors:
        raise ValidationError(errors)
    return row, timezone_name


BUSINESS_HOURS_TARGETS = ("first_reply_target_minutes", "priority_first_reply_target_minutes")


def business_hours_weekly_default() -> list[dict[str, Any]]:
    return business_hours_weekly_json(list(hours.ALWAYS_OPEN_PERIODS))


def business_hours_weekly_json(periods: list[Period]) -> list[dict[str, Any]]:
    return [
        {
            "day": period.day,
            "open": hours.clock_text(period.open_minute),
            "close": hours.clock_text(period.close_minute),
        }
        for period in sorted(periods)
    ]
