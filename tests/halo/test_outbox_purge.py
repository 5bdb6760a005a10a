"""Retention of the outbox: delivered messages are purged after ``OUTBOX_RETENTION_DAYS``, in bounded batches,
by a beat job; work still to do and failures kept for admins are never touched."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from halo.models import OutboxMessage
from halo.outbox import outbox_purge
from halo.tasks import outbox_purge as outbox_purge_task
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def message(*, state: str, age_days: float, **fields: Any) -> OutboxMessage:
    """A message created ``age_days`` ago; a done one was delivered then."""
    at = timezone.now() - timedelta(days=age_days)
    return OutboxMessage.objects.create(
        workspace=fields.pop("workspace", None) or WorkspaceFactory(),
        task="inbox.tasks.slack_notify",
        payload={"ticket_id": 1},
        state=state,
        created_at=at,
        next_attempt_at=at,
        done_at=at if state == OutboxMessage.State.DONE else None,
        **fields,
    )


def test_purge_deletes_delivered_messages_past_the_retention_and_keeps_everything_else(settings: Any) -> None:
    settings.OUTBOX_RETENTION_DAYS = 30
    workspace = WorkspaceFactory()
    expired = [message(workspace=workspace, state="done", age_days=age) for age in (31, 400)]
    kept = [
        message(workspace=workspace, state="done", age_days=29),
        message(workspace=workspace, state="failed", age_days=400, last_error="HTTP 404 from Slack"),
        message(workspace=workspace, state="pending", age_days=400),
        message(workspace=workspace, state="running", age_days=400),
    ]

    deleted = outbox_purge()

    assert deleted == len(expired)
    remaining = OutboxMessage.objects.order_by("pk")
    assert [(m.pk, m.state) for m in remaining] == [(m.pk, m.state) for m in kept]
    assert remaining.get(state="failed").last_error == "HTTP 404 from Slack"


def test_purge_deletes_a_large_backlog_in_bounded_batches() -> None:
    workspace = WorkspaceFactory()
    for _ in range(25):
        message(workspace=workspace, state="done", age_days=60)
    recent = message(workspace=workspace, state="done", age_days=1)

    with CaptureQueriesContext(connection) as queries:
        deleted = outbox_purge(older_than=timedelta(days=30), batch_size=10)

    assert deleted == 25
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [recent.pk]
    # One short statement per batch of at most 10 rows, never one statement over the whole backlog.
    deletes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 3
    assert all('"halo_outboxmessage"."id" IN' in sql for sql in deletes)


def test_purge_runs_as_a_beat_job_with_the_retention_from_settings(settings: Any) -> None:
    settings.OUTBOX_RETENTION_DAYS = 7
    old = message(state="done", age_days=8)
    young = message(state="done", age_days=6)
    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]

    result = outbox_purge_task.apply()  # the Celery task beat sends, run here

    assert outbox_purge_task.name in scheduled
    assert result.get() == 1
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()
    assert OutboxMessage.objects.filter(pk=young.pk).exists()
