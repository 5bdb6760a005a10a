"""Celery adapters of the inbox's outbox work: each hands its outbox row's id to one delivery, idempotently."""

from celery import shared_task

from halo.models import OutboxMessage
from halo.outbox import PermanentFailure, outbox_process
from inbox.events import inbox_events_prune
from inbox.models import Ticket
from inbox.notifications import EMAIL_TASK, FIRST_REPLY_EMAIL_TASK, FIRST_REPLY_SLACK_TASK, SLACK_TASK
from inbox.notifications.emails import assignment_email_deliver, first_reply_email_deliver
from inbox.notifications.replies import (
    CONFIRM_EMAIL_TASK,
    REPLY_EMAIL_TASK,
    email_confirmation_deliver,
    reply_email_deliver,
)
from inbox.notifications.slack import first_reply_slack_deliver, slack_deliver
from inbox.services import (
    ASSIGN_TASK,
    SUMMARY_TASK,
    tickets_assign_waiting,
    tickets_first_reply_warn,
    tickets_wake_due,
)
from inbox.services import ticket_summarize as ticket_summarize_service


def _summarize(message: OutboxMessage) -> None:
    try:
        ticket_summarize_service(ticket_id=int(message.payload["ticket_id"]))
    except Ticket.DoesNotExist:
        raise PermanentFailure("The ticket no longer exists.") from None


@shared_task(name=SUMMARY_TASK)
def ticket_summarize(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=_summarize)


@shared_task(name=SLACK_TASK)
def slack_notify(message_id: int) -> None:
    slack_deliver(message_id=message_id)


@shared_task(name=EMAIL_TASK)
def assignment_email(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=assignment_email_deliver)


@shared_task(name=REPLY_EMAIL_TASK)
def reply_email(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=reply_email_deliver)


@shared_task(name=CONFIRM_EMAIL_TASK)
def email_confirmation(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=email_confirmation_deliver)


@shared_task(name="inbox.tasks.events_prune")
def events_prune() -> int:
    return inbox_events_prune()


@shared_task(name="inbox.tasks.tickets_wake")
def tickets_wake() -> int:
    return tickets_wake_due()


@shared_task(name=FIRST_REPLY_SLACK_TASK)
def first_reply_slack(message_id: int) -> None:
    first_reply_slack_deliver(message_id=message_id)


@shared_task(name=FIRST_REPLY_EMAIL_TASK)
def first_reply_email(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=first_reply_email_deliver)


@shared_task(name="inbox.tasks.first_reply_warn")
def first_reply_warn() -> int:
    return tickets_first_reply_warn()


def _assign(message: OutboxMessage) -> None:
    tickets_assign_waiting(workspace_id=message.workspace_id)


@shared_task(name=ASSIGN_TASK)
def tickets_assign(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=_assign)


@shared_task(name="inbox.tasks.tickets_assign_sweep")
def tickets_assign_sweep() -> int:
    return tickets_assign_waiting()
