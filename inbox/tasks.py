"""Celery adapters of the inbox's outbox work: each hands its outbox row's id to one delivery, idempotently."""

from celery import shared_task

from halo.outbox import outbox_process
from inbox.events import inbox_events_prune
from inbox.notifications.emails import assignment_email_deliver
from inbox.notifications.slack import slack_deliver
from inbox.services import tickets_wake_due


@shared_task(name="inbox.tasks.slack_notify")
def slack_notify(message_id: int) -> None:
    slack_deliver(message_id=message_id)


@shared_task(name="inbox.tasks.assignment_email")
def assignment_email(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=assignment_email_deliver)


@shared_task(name="inbox.tasks.events_prune")
def events_prune() -> int:
    return inbox_events_prune()


@shared_task(name="inbox.tasks.tickets_wake")
def tickets_wake() -> int:
    return tickets_wake_due()
