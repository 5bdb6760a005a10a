"""Celery adapters of escalation's outbox work: load the outbox row, call one service, idempotent."""

from celery import shared_task

from halo.models import OutboxMessage
from halo.outbox import PermanentFailure, outbox_process
from inbox.models import Ticket
from inbox.services import ticket_summarize


def _summarize(message: OutboxMessage) -> None:
    try:
        ticket_summarize(ticket_id=int(message.payload["ticket_id"]))
    except Ticket.DoesNotExist:
        raise PermanentFailure("The ticket no longer exists.") from None


@shared_task(name="escalation.tasks.ticket_summarize")
def ticket_summarize_task(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=_summarize)
