"""Celery adapters of halo: the outbox's periodic sweep and purge, and the webhook deliveries."""

from celery import shared_task

from halo.outbox import outbox_process
from halo.outbox import outbox_purge as _outbox_purge
from halo.outbox import outbox_sweep as _outbox_sweep
from halo.webhooks.delivery import webhook_deliver as _webhook_deliver
from halo.webhooks.delivery import webhook_paused_email_send
from halo.webhooks.events import DELIVER_TASK
from halo.webhooks.services import PAUSED_EMAIL_TASK


@shared_task(name="halo.tasks.outbox_sweep")
def outbox_sweep() -> int:
    return _outbox_sweep()


@shared_task(name="halo.tasks.outbox_purge")
def outbox_purge() -> int:
    return _outbox_purge()


@shared_task(name=DELIVER_TASK)
def webhook_deliver(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=_webhook_deliver)


@shared_task(name=PAUSED_EMAIL_TASK)
def webhook_paused_email(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=webhook_paused_email_send)
