"""The first-reply promise of a ticket: when it is due, and whether it was kept.

A ticket's ``first_reply_due_at`` is its opening time plus the workspace's first-reply target (the priority
target for a priority ticket), counted in business hours (``halo.hours``): a ticket opened on Friday at
17:00 in an office that closes at 17:30 and has a two-hour target is due on Monday at 10:30. It is set by
``inbox.services`` when the ticket opens, and brought forward when a merge raises it to priority.
``first_replied_at`` is the time of the first teammate reply.

The state as the inbox shows it: ``met`` (replied by the due time), ``breached`` (replied late, or due and
still waiting), ``due_soon`` (waiting, due within ``WARNING_LEAD``), ``waiting`` (waiting, due later) and
``none`` (no due time). A ticket about to breach notifies its assignee and Slack once
(``inbox.services.tickets_first_reply_warn``, a beat task).
"""

from datetime import datetime, timedelta
from enum import StrEnum

from halo.hours import add_business_minutes
from halo.selectors import BusinessHoursSettings
from inbox.models import Ticket

# How long before its due time a waiting ticket counts as "due soon" and its assignee is told.
WARNING_LEAD = timedelta(minutes=15)


class SlaState(StrEnum):
    NONE = "none"
    WAITING = "waiting"
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    MET = "met"


def first_reply_due(*, business_hours: BusinessHoursSettings, opened_at: datetime, priority: bool) -> datetime | None:
    """When the first reply of a ticket opened at ``opened_at`` is due (None if the hours never open)."""
    schedule = business_hours.schedule(around=opened_at)
    return add_business_minutes(schedule, opened_at, business_hours.target_minutes(priority=priority))


def sla_state(ticket: Ticket, *, now: datetime) -> SlaState:
    due = ticket.first_reply_due_at
    if due is None:
        return SlaState.NONE
    if ticket.first_replied_at is not None:
        return SlaState.MET if ticket.first_replied_at <= due else SlaState.BREACHED
    if now >= due:
        return SlaState.BREACHED
    if ticket.status == Ticket.Status.CLOSED:
        return SlaState.NONE  # closed without a reply before it was due: nothing is waiting any more
    return SlaState.DUE_SOON if due - now <= WARNING_LEAD else SlaState.WAITING


def sla_breached(ticket: Ticket, *, now: datetime) -> bool:
    return sla_state(ticket, now=now) == SlaState.BREACHED
