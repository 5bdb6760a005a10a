"""Writes of the escalation app: an agent's escalation settings (versioned), and what a decision means.

``escalation_settings_ensure`` / ``escalation_settings_update`` are the only writers of the settings and
their version history; the admin form, the API and the demo all go through them, with the model's own
validation. ``decision_record`` turns the engine's ``Decision`` into the record stored with a turn, and
``handoff_notice`` is what the customer reads when a human takes over. The flow that uses them — a widget
message, a "Talk to a human" click, an external bot's turn — is ``escalation.flow``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, KnowledgeArticle, Message
from agents.turns import TurnDecision
from escalation.engine import Decision
from escalation.models import (
    EscalationSettings,
    EscalationSettingsVersion,
    EscalationShadow,
    KnowledgeGapLink,
    ReportDay,
    ReportRollupState,
)
from escalation.reports import report_days_compute, report_days_touched
from escalation.selectors import ExpectedReply, agent_escalation_settings, escalation_settings_unsaved_copy
from halo.models import Contact, Workspace
from inbox.models import EscalationEvent, Ticket

# The settings a workspace edits (admin form and API), in the order the admin shows them.
SETTINGS_FIELDS = (
    "mode",
    "confidence_threshold",
    "max_attempts",
    "require_knowledge_search",
    "require_web_search",
    "escalation_filter",
    "priority_filter",
    "default_assignee",
    "routing_type",
    "default_inbox",
    "escalation_phrases",
    "handoff_phrases",
    "expected_reply_time",
)
# The foreign-key settings, stored and compared by id.
SETTINGS_FOREIGN_KEYS = {"default_assignee": "default_assignee_id", "default_inbox": "default_inbox_id"}


class HandoffUnavailable(Exception):
    """The contact does not match the agent's escalation filter: no human handoff for them."""


class ConversationHandedOff(Exception):
    """A human owns the conversation: the AI (an external bot included) stays silent."""


@dataclass(frozen=True)
class Handoff:
    """The result of one escalation: the ticket, whether it was created, the event recorded, and the system
    message that told the customer (None when the conversation was handed off already)."""

    ticket: Ticket
    created: bool
    event: EscalationEvent | None
    message: Message | None = None
    user_message: Message | None = None  # the user's message that asked, when stored with the handoff


# --- Settings ----------------------------------------------------------------------------------------


def _settings_values(escalation_settings: EscalationSettings) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in SETTINGS_FIELDS:
        values[name] = getattr(escalation_settings, SETTINGS_FOREIGN_KEYS.get(name, name))
    return values


def escalation_settings_ensure(*, agent: Agent) -> EscalationSettings:
    """The agent's escalation settings, created with the defaults (version 1) the first time they are needed."""
    existing = agent_escalation_settings(agent=agent)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            # By id: nothing is cached on the agent instance (see ``agent_escalation_settings``).
            escalation_settings = EscalationSettings.objects.create(agent_id=agent.pk)
            EscalationSettingsVersion.objects.create(
                escalation_settings=escalation_settings,
                version=1,
                changed_via="system",
                changes={name: [None, value] for name, value in _settings_values(escalation_settings).items()},
                values=_settings_values(escalation_settings),
            )
    except IntegrityError:  # created concurrently (the one-to-one is unique): use that one
        return EscalationSettings.objects.get(agent=agent)
    return escalation_settings


def _settings_apply(escalation_settings: EscalationSettings, data: dict[str, Any]) -> None:
    """Set ``data`` on the instance and validate the whole as a save does (``ValidationError``); no write."""
    unknown = set(data) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown setting." for name in sorted(unknown)})
    for name, value in data.items():
        if name in SETTINGS_FOREIGN_KEYS and not (value is None or hasattr(value, "pk")):
            setattr(escalation_settings, SETTINGS_FOREIGN_KEYS[name], value)
        else:
            setattr(escalation_settings, name, value)
    escalation_settings.full_clean(exclude=["agent"])


def escalation_settings_draft(*, escalation_settings: EscalationSettings, data: dict[str, Any]) -> EscalationSettings:
    """The settings as they would be with ``data`` applied, validated exactly like a save
    (``ValidationError`` with the field errors), and never written: an unsaved copy."""
    draft = escalation_settings_unsaved_copy(escalation_settings)
    _settings_apply(draft, data)
    return draft


def settings_values(escalation_settings: EscalationSettings) -> dict[str, Any]:
    """Every setting of ``escalation_settings`` as plain values (foreign keys as ids), as versions store them."""
    return _settings_values(escalation_settings)


def escalation_settings_update(
    *, escalation_settings: EscalationSettings, data: dict[str, Any], changed_by: User | None = None, via: str = "api"
) -> EscalationSettings:
    """Apply a change to an agent's escalation settings, validated as everywhere (``full_clean``), as a new version.

    ``data`` maps setting names to values (model instances or ids for the assignee and the inbox).
    Nothing is written, and no version is made, when the values do not change. The caller's ``settings``
    instance shows the change afterwards (as does the agent it is cached on).
    """
    unknown = set(data) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown setting." for name in sorted(unknown)})
    with transaction.atomic():
        locked = EscalationSettings.objects.select_for_update().select_related("agent").get(pk=escalation_settings.pk)
        before = _settings_values(locked)
        _settings_apply(locked, data)
        after = _settings_values(locked)
        changes = {name: [before[name], after[name]] for name in SETTINGS_FIELDS if before[name] != after[name]}
        if not changes:
            return locked
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        EscalationSettingsVersion.objects.create(
            escalation_settings=locked,
            version=locked.version,
            changed_by=changed_by if changed_by is not None and changed_by.pk else None,
            changed_via=via,
            changed_at=locked.updated_at,
            changes=changes,
            values=after,
        )
    for field in EscalationSettings._meta.concrete_fields:
        setattr(escalation_settings, field.attname, getattr(locked, field.attname))
    return locked


# --- Shadow settings ---------------------------------------------------------------------------------


def escalation_shadow_save(
    *, escalation_settings: EscalationSettings, data: dict[str, Any], changed_by: User | None = None
) -> EscalationShadow:
    """Save a draft as the agent's shadow settings: ``data`` over the live values, validated exactly like a
    save of the live settings. Each save is a new shadow version, measured from now."""
    draft = escalation_settings_draft(escalation_settings=escalation_settings, data=data)
    values = _settings_values(draft)
    now = timezone.now()
    user = changed_by if changed_by is not None and changed_by.pk else None
    with transaction.atomic():
        shadow = EscalationShadow.objects.select_for_update().filter(agent_id=escalation_settings.agent_id).first()
        if shadow is None:
            return EscalationShadow.objects.create(
                agent_id=escalation_settings.agent_id, values=values, since=now, changed_by=user
            )
        shadow.values, shadow.since, shadow.changed_by = values, now, user
        shadow.version += 1
        shadow.save()
    return shadow


def escalation_shadow_delete(*, agent: Agent) -> bool:
    """Remove the agent's shadow settings; False when it had none."""
    deleted, _ = EscalationShadow.objects.filter(agent_id=agent.pk).delete()
    return bool(deleted)


def escalation_shadow_promote(
    *, escalation_settings: EscalationSettings, changed_by: User | None = None, via: str = "api"
) -> EscalationSettings | None:
    """Make the shadow the live settings, through the normal versioned save, and remove it (one
    transaction). None when the agent has no shadow."""
    with transaction.atomic():
        shadow = EscalationShadow.objects.select_for_update().filter(agent_id=escalation_settings.agent_id).first()
        if shadow is None:
            return None
        values = {name: value for name, value in shadow.values.items() if name in SETTINGS_FIELDS}
        promoted = escalation_settings_update(
            escalation_settings=escalation_settings, data=values, changed_by=changed_by, via=via
        )
        shadow.delete()
    return promoted


# --- Knowledge gaps ----------------------------------------------------------------------------------


def knowledge_gap_link(
    *, workspace: Workspace, key: str, article: KnowledgeArticle | None, linked_by: User | None = None
) -> KnowledgeGapLink | None:
    """Link an article to a knowledge-gap topic (it is handled), or unlink it (``article`` None)."""
    if article is not None and article.workspace_id != workspace.pk:
        raise ValidationError({"article": "Choose an article of this workspace."})
    with transaction.atomic():
        if article is None:
            KnowledgeGapLink.objects.filter(workspace=workspace, key=key).delete()
            return None
        link, _ = KnowledgeGapLink.objects.update_or_create(
            workspace=workspace,
            key=key,
            defaults={
                "article": article,
                "linked_by": linked_by if linked_by is not None and linked_by.pk else None,
                "linked_at": timezone.now(),
            },
        )
    return link


# --- Decisions ---------------------------------------------------------------------------------------


def decision_record(decision: Decision, *, at: datetime, shadow: dict[str, Any] | None = None) -> TurnDecision:
    """The record of ``decision`` stored with its turn, with the shadow settings' decision beside it if any."""
    return TurnDecision(
        shadow=shadow,
        signals=tuple(signal.value for signal in decision.signals),
        escalated=decision.escalate,
        reason=decision.reason.value if decision.reason is not None else None,
        suppressed_by=decision.suppressed_by.value if decision.suppressed_by is not None else None,
        decided_at=at,
    )


def handoff_notice(*, contact: Contact, escalation_settings: EscalationSettings, expected: ExpectedReply) -> str:
    """What the customer reads when their conversation is handed to the team: when to expect a reply (the
    team's measured time during business hours, when it is back outside them) and where a reply will reach
    them. Outside hours, a customer Halo has no email address for is asked for one first: nobody may read
    the chat before they close it."""
    if contact.email:
        reach = f" If you leave before they do, we'll email you at {contact.email}."
    elif contact.unverified_email:
        reach = f" We'll email you at {contact.unverified_email} once you confirm it (we've sent you a link)."
    else:
        reach = ""
    if not expected.open_now:
        back = f"we're back {expected.back}" if expected.back else "we'll reply as soon as we're back"
        text = f"Our team is away right now: {back}."
        if not reach:
            text += (
                " Please leave your email address here first, so we can get back to you even if you close this page."
            )
        return text + " I've passed this conversation on; a teammate will pick it up when we're back." + reach
    text = f"Thanks for your patience. I've passed this conversation to our team; they {expected.reply}." + reach
    if not reach and contact.is_anonymous:
        text += " Please leave your email address here so we can get back to you even if you close this page."
    return text


# --- The escalation report's rollups -------------------------------------------------------------------

# A transaction still open when the last run read the rows commits rows stamped before that run: looking
# back this far catches them (no write transaction of the product lasts that long).
ROLLUP_MARGIN = timedelta(minutes=5)
# Days recounted per transaction (a first run over a long history goes month by month).
ROLLUP_CHUNK_DAYS = 31


def report_days_refresh(*, workspace: Workspace, days: Iterable[date], now: datetime | None = None) -> int:
    """Count ``days`` of the workspace again from its stored rows and replace their ``ReportDay`` rows (the
    only writer of the table); returns how many rows it wrote. Each chunk of days is one transaction: a
    report never reads a day half replaced.

    Days are local to the workspace's time zone as ``workspace`` holds it. A chunk counted in a zone that is
    no longer the workspace's when it is written is dropped, not written: the change of zone recorded a
    recount of every day (``halo.services.workspace_timezone_changed``), and a beat run that read the old zone
    must not write its days after that recount."""
    ordered = sorted(set(days))
    written = 0
    for index in range(0, len(ordered), ROLLUP_CHUNK_DAYS):
        chunk = ordered[index : index + ROLLUP_CHUNK_DAYS]
        counted = report_days_compute(workspace=workspace, days=chunk, now=now)
        with transaction.atomic():
            # The zone is read under a row lock that a change of zone (``business_hours_set``, the admin's
            # save) also takes: either the change waits for this chunk, and its recount comes after it, or
            # this chunk sees the new zone. The lock is held for one chunk's DELETE and INSERT only.
            zone_now = (
                Workspace.objects.select_for_update(no_key=True)
                .filter(pk=workspace.pk)
                .values_list("timezone", flat=True)
                .first()
            )
            if zone_now != workspace.timezone:
                return written
            ReportDay.objects.filter(workspace=workspace, day__in=chunk).delete()
            ReportDay.objects.bulk_create(
                ReportDay(workspace=workspace, agent_id=agent_id, day=day, settings_version=version, counts=counts)
                for (agent_id, day, version), counts in counted.items()
            )
        written += len(counted)
    return written


def report_rollups_recount(*, workspace_id: int, now: datetime | None = None) -> int:
    """Count every report day of one workspace again, in its time zone as it is now (after the zone changed every
    local day moved): the days from its first conversation or ticket to today are replaced, and the rows of any
    other day (a day of the old zone only) removed. Returns how many days were recounted."""
    now = now or timezone.now()
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return 0
    days = report_days_touched(workspace=workspace, since=None, now=now)
    stale = ReportDay.objects.filter(workspace=workspace)
    if days:
        stale = stale.filter(Q(day__lt=min(days)) | Q(day__gt=max(days)))
    stale.delete()
    report_days_refresh(workspace=workspace, days=days, now=now)
    ReportRollupState.objects.update_or_create(workspace=workspace, defaults={"refreshed_at": now})
    return len(days)


def report_rollups_update(*, now: datetime | None = None, full: bool = False) -> int:
    """Bring every workspace's report days up to date (the beat job): recount the days touched since the last
    run (``full``: every day, e.g. after a time zone change). Returns how many days were recounted."""
    now = now or timezone.now()
    recounted = 0
    states = {state.workspace_id: state.refreshed_at for state in ReportRollupState.objects.all()}
    for workspace in Workspace.objects.order_by("pk"):
        last = None if full else states.get(workspace.pk)
        since = last - ROLLUP_MARGIN if last is not None else None
        days = report_days_touched(workspace=workspace, since=since, now=now)
        report_days_refresh(workspace=workspace, days=days, now=now)
        ReportRollupState.objects.update_or_create(workspace=workspace, defaults={"refreshed_at": now})
        recounted += len(days)
    return recounted


def email_captured_notice(*, contact: Contact, confirmation_sent: bool) -> str:
    """What the chat says when a visitor types an address: replies are emailed there once it is confirmed."""
    if not confirmation_sent:
        return (
            f"We'll email you at {contact.unverified_email} once you confirm it, but we've sent as many "
            "confirmation emails as we can today. Please try again tomorrow."
        )
    return (
        f"We'll email you at {contact.unverified_email} once you confirm it: "
        "we've sent you a link. Open it to get our replies by email."
    )
