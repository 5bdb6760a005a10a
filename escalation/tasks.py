"""Celery adapters of the escalation app (the work is in ``escalation.services``)."""

from celery import shared_task

from escalation.services import report_rollups_recount as report_rollups_recount_service
from escalation.services import report_rollups_update
from halo.models import OutboxMessage
from halo.outbox import outbox_process
from halo.services import REPORT_RECOUNT_TASK

ROLLUPS_TASK = "escalation.tasks.report_rollups_update"


@shared_task(name=ROLLUPS_TASK)
def report_rollups() -> int:
    """Recount the escalation report's days touched since the last run (beat, every minute)."""
    return report_rollups_update()


def _recount(message: OutboxMessage) -> None:
    report_rollups_recount_service(workspace_id=message.workspace_id)


@shared_task(name=REPORT_RECOUNT_TASK)
def report_rollups_recount(message_id: int) -> None:
    """Recount every report day of the message's workspace (recorded with a change of its time zone)."""
    outbox_process(message_id=message_id, handler=_recount)
