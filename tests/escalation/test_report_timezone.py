"""The escalation report's rollups after a workspace's time zone changes: the change records a recount of every
day in the same transaction (an outbox job), and the recount moves every day to the new zone."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from agents.models import Agent
from escalation.models import ReportDay
from escalation.services import report_days_refresh, report_rollups_update
from escalation.tasks import report_rollups_recount
from halo.models import OutboxMessage, Workspace
from halo.services import REPORT_RECOUNT_TASK, business_hours_set
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory

pytestmark = pytest.mark.django_db
LATE_ON_THE_9TH = datetime(2026, 11, 9, 23, 30, tzinfo=UTC)  # the 10th in Paris


def recounts(workspace: Workspace) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(workspace=workspace, task=REPORT_RECOUNT_TASK))


def report_days(workspace: Workspace) -> dict[date, int]:
    return {
        row.day: row.counts["conversations"] for row in ReportDay.objects.filter(workspace=workspace).order_by("day")
    }


def test_a_time_zone_change_records_a_recount_in_its_transaction(workspace: Workspace) -> None:
    business_hours_set(workspace=workspace, data={"timezone": "Europe/Paris"})

    [recount] = recounts(workspace)
    assert recount.state == OutboxMessage.State.PENDING

    business_hours_set(workspace=workspace, data={"timezone": "Europe/Paris"})  # no change: nothing to recount
    with pytest.raises(ValidationError):
        business_hours_set(workspace=workspace, data={"timezone": "Mars/Olympus"})
    assert recounts(workspace) == [recount]


def test_a_time_zone_change_in_the_admin_records_a_recount(admin_client_of: Client, workspace: Workspace) -> None:
    form = {"name": workspace.name, "slug": workspace.slug, "allowed_origins": "[]"}

    admin_client_of.post(f"/admin/halo/workspace/{workspace.pk}/change/", {**form, "timezone": workspace.timezone})
    assert recounts(workspace) == []
    response = admin_client_of.post(f"/admin/halo/workspace/{workspace.pk}/change/", {**form, "timezone": "Asia/Tokyo"})

    assert response.status_code == 302
    assert len(recounts(workspace)) == 1


def test_the_recount_moves_every_report_day_to_the_new_zone(
    workspace: Workspace, agent: Agent, django_capture_on_commit_callbacks: Any
) -> None:
    ConversationFactory(
        workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace), created_at=LATE_ON_THE_9TH
    )
    report_rollups_update(now=datetime(2026, 11, 12, tzinfo=UTC))
    assert report_days(workspace)[date(2026, 11, 9)] == 1

    with django_capture_on_commit_callbacks():  # the job is run below, as the worker would
        business_hours_set(workspace=workspace, data={"timezone": "Europe/Paris"})
    [recount] = recounts(workspace)
    report_rollups_recount(message_id=recount.pk)

    days = report_days(workspace)
    assert days[date(2026, 11, 10)] == 1
    assert date(2026, 11, 9) not in days  # the old zone's day is gone, not left beside the new one
    recount.refresh_from_db()
    assert recount.state == OutboxMessage.State.DONE


def test_a_beat_run_that_read_the_old_zone_writes_nothing_after_the_change(
    workspace: Workspace, agent: Agent, django_capture_on_commit_callbacks: Any
) -> None:
    ConversationFactory(
        workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace), created_at=LATE_ON_THE_9TH
    )
    read_by_beat = Workspace.objects.get(pk=workspace.pk)  # the beat run reads the workspace, still in UTC
    with django_capture_on_commit_callbacks():
        business_hours_set(workspace=workspace, data={"timezone": "Europe/Paris"})
    [recount] = recounts(workspace)
    report_rollups_recount(message_id=recount.pk)

    # The beat run goes on with the zone it read, after the change and its recount committed.
    written = report_days_refresh(workspace=read_by_beat, days=[date(2026, 11, 9), date(2026, 11, 10)])

    assert written == 0
    assert report_days(workspace) == {date(2026, 11, 10): 1}  # the recount's days, in Paris time, untouched
