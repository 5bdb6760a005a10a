"""The email to a teammate when a ticket is assigned to them (Django's email: SMTP in production).

``assignment_email_deliver`` is the outbox handler of ``inbox.tasks.assignment_email``. It sends nothing
when the ticket has been reassigned (or deleted) since: the email is about the assignment that is still
true. The HTML part is rendered with autoescaping (customer text is escaped); the plain-text part is
plain text; the subject is one line (Django refuses header injection anyway). A refused recipient is a
permanent failure; any other SMTP or network error is retried with the outbox's backoff.
"""

import smtplib
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from halo import clock
from halo.models import OutboxMessage
from halo.outbox import PermanentFailure
from inbox.models import Ticket, reason_label
from inbox.notifications.slack import ticket_link

SUBJECT_CHARS = 150


def _one_line(text: str) -> str:
    return " ".join(text.split())


def assignment_email_build(*, ticket: Ticket, message_id: str) -> EmailMultiAlternatives:
    contact = ticket.contact
    context = {
        "ticket": ticket,
        "contact_name": contact.name or contact.email or contact.user_id or f"Visitor {contact.pk}",
        "company": contact.company,
        "reason": reason_label(ticket.reason),
        "link": ticket_link(ticket.pk),
        "assignee": ticket.assignee,
    }
    subject = _one_line(f"[{ticket.workspace.name}] Ticket #{ticket.pk} from {context['contact_name']} is yours")
    email = EmailMultiAlternatives(
        subject=subject[:SUBJECT_CHARS],
        body=render_to_string("inbox/email/assigned.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[ticket.assignee.email] if ticket.assignee else [],
        headers={"Message-ID": message_id},
    )
    email.attach_alternative(render_to_string("inbox/email/assigned.html", context), "text/html")
    return email


def assignment_email_deliver(message: OutboxMessage) -> None:
    """Outbox handler: email the assignee of ``payload.ticket_id`` if it is still ``payload.assignee_id``."""
    ticket = (
        Ticket.objects.select_related("contact__company", "assignee", "workspace")
        .filter(pk=int(message.payload["ticket_id"]))
        .first()
    )
    if ticket is None or ticket.assignee_id != message.payload.get("assignee_id") or ticket.assignee is None:
        return  # deleted or reassigned since: the email would be wrong
    if not ticket.assignee.email:
        raise PermanentFailure(f"The assignee {ticket.assignee} has no email address.")
    email = assignment_email_build(ticket=ticket, message_id=f"<halo-outbox-{message.pk}@halo.invalid>")
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentFailure(f"The mail server refused the recipient: {error.recipients}") from None


def _local_text(moment: datetime, timezone: str) -> str:
    """``Fri 4 Dec, 17:30`` on the workspace's clock (where its business hours are)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def first_reply_email_deliver(message: OutboxMessage) -> None:
    """Outbox handler: warn the assignee of ``payload.ticket_id`` that its first reply is about to be late,
    unless the ticket was answered, reassigned or deleted since (the warning would be wrong)."""
    ticket = (
        Ticket.objects.select_related("contact__company", "assignee", "workspace")
        .filter(pk=int(message.payload["ticket_id"]))
        .first()
    )
    if (
        ticket is None
        or ticket.first_replied_at is not None
        or ticket.assignee is None
        or ticket.assignee_id != message.payload.get("assignee_id")
    ):
        return
    if not ticket.assignee.email:
        raise PermanentFailure(f"The assignee {ticket.assignee} has no email address.")
    contact = ticket.contact
    due = ticket.first_reply_due_at
    context = {
        "ticket": ticket,
        "contact_name": contact.name or contact.email or contact.user_id or f"Visitor {contact.pk}",
        "link": ticket_link(ticket.pk),
        "assignee": ticket.assignee,
        "due": _local_text(due, ticket.workspace.timezone) if due is not None else "",
        "overdue": due is not None and due <= clock.now(),
    }
    subject = _one_line(
        f"[{ticket.workspace.name}] Ticket #{ticket.pk} from {context['contact_name']}: first reply "
        + ("overdue" if context["overdue"] else "due soon")
    )
    email = EmailMultiAlternatives(
        subject=subject[:SUBJECT_CHARS],
        body=render_to_string("inbox/email/first_reply_due.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[ticket.assignee.email],
        headers={"Message-ID": f"<halo-outbox-{message.pk}@halo.invalid>"},
    )
    email.attach_alternative(render_to_string("inbox/email/first_reply_due.html", context), "text/html")
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentFailure(f"The mail server refused the recipient: {error.recipients}") from None
