"""Notifications of the inbox: a Slack message when a ticket is created, an email when one is assigned, and
both when a ticket's first reply is about to be late (``inbox.sla``).

Both are *recorded* in the transaction that creates or assigns the ticket, as transactional-outbox rows
(``halo.outbox``), and *delivered* by Celery (``inbox.tasks``) outside any transaction, with retries and
backoff; a message that cannot be delivered ends ``failed`` with its last error, in the admin's
"Outbox messages" list (where an admin can retry it). A row is claimed under a lease before delivery, so
two workers never send it twice; a worker that dies mid-delivery gives it back when the lease ends
(R2). The one window left is a crash after Slack or the SMTP server accepted a message and before the row
is marked done: neither takes an idempotency key, so that message would be sent again (the email carries
a stable ``Message-ID`` so mail clients fold the copy).

Where Slack messages go: the ticket's custom inbox's webhook if it has one, else the workspace's; none
set, nothing is recorded. The assignee is not emailed about a ticket they assigned to themselves.
"""

from halo.outbox import outbox_enqueue
from inbox.models import Ticket

SLACK_TASK = "inbox.tasks.slack_notify"
EMAIL_TASK = "inbox.tasks.assignment_email"
FIRST_REPLY_SLACK_TASK = "inbox.tasks.first_reply_slack"
FIRST_REPLY_EMAIL_TASK = "inbox.tasks.first_reply_email"


def slack_channel_for(ticket: Ticket) -> str | None:
    """Which webhook a ticket's Slack message goes to: ``inbox:<id>``, ``workspace:<id>`` or None."""
    if ticket.inbox_id is not None and ticket.inbox is not None and ticket.inbox.slack_webhook_url:
        return f"inbox:{ticket.inbox_id}"
    if ticket.workspace.slack_webhook_url:
        return f"workspace:{ticket.workspace_id}"
    return None


def notifications_ticket_created(*, ticket: Ticket, actor_id: int | None = None) -> None:
    """Record the notifications of a new ticket (inside its transaction)."""
    channel = slack_channel_for(ticket)
    if channel is not None:
        outbox_enqueue(
            workspace=ticket.workspace, task=SLACK_TASK, payload={"ticket_id": ticket.pk, "channel": channel}
        )
    if ticket.assignee_id is not None:
        notification_assignment(ticket=ticket, actor_id=actor_id)


def notification_assignment(*, ticket: Ticket, actor_id: int | None = None) -> None:
    """Record the email to a ticket's (new) assignee, unless they assigned it to themselves."""
    if ticket.assignee_id is None or ticket.assignee_id == actor_id:
        return
    outbox_enqueue(
        workspace=ticket.workspace,
        task=EMAIL_TASK,
        payload={"ticket_id": ticket.pk, "assignee_id": ticket.assignee_id},
    )


def notifications_first_reply_due(*, ticket: Ticket) -> None:
    """Record the warnings of a ticket whose first reply is about to be late (inside the transaction that
    flags it): an email to its assignee, if it has one, and a Slack message where its new-ticket message
    would go."""
    channel = slack_channel_for(ticket)
    if channel is not None:
        outbox_enqueue(
            workspace=ticket.workspace,
            task=FIRST_REPLY_SLACK_TASK,
            payload={"ticket_id": ticket.pk, "channel": channel},
        )
    if ticket.assignee_id is not None:
        outbox_enqueue(
            workspace=ticket.workspace,
            task=FIRST_REPLY_EMAIL_TASK,
            payload={"ticket_id": ticket.pk, "assignee_id": ticket.assignee_id},
        )
