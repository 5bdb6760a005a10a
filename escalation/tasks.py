"""Celery adapters of the escalation app (the work is in ``escalation.services``)."""

from celery import shared_task

from escalation.services import report_rollups_update

ROLLUPS_TASK = "escalation.tasks.report_rollups_update"


@shared_task(name=ROLLUPS_TASK)
def report_rollups() -> int:
    """Recount the escalation report's days touched since the last run (beat, every minute)."""
    return report_rollups_update()
