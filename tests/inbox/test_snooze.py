"""Snoozing a ticket: until a time (the wake-up job opens it) or until the customer writes (their message
opens it at once), so a customer's reply never waits unseen in the Snoozed list."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.flow import message_receive
from inbox.events import TICKET_UPDATED
from inbox.models import InboxEvent, Ticket
from inbox.services import ticket_update, tickets_wake_due
from inbox.tasks import tickets_wake

pytestmark = pytest.mark.django_db


def status_events(ticket: Ticket) -> list[str]:
    return [event.payload["status"] for event in InboxEvent.objects.filter(ticket=ticket, type=TICKET_UPDATED)]


def test_a_customer_message_wakes_a_snoozed_ticket(escalate: Callable[..., Ticket]) -> None:
    ticket = escalate()
    ticket_update(ticket=ticket, data={"status": "snoozed"})
    conversation = ticket.conversations.get()

    result = message_receive(conversation=conversation, body="Any news on this?")

    ticket.refresh_from_db()
    assert (ticket.status, ticket.snoozed_until) == ("open", None)
    assert status_events(ticket) == ["snoozed", "open"]  # open inbox pages move it back to the Open list
    assert result.ticket is not None
    assert result.ticket.status == "open"
    assert [message.author for message in result.messages] == ["user"]  # the human still owns it: no AI turn


def test_a_teammate_reply_does_not_wake_it(escalate: Callable[..., Ticket], teammate) -> None:
    from inbox.services import ticket_reply

    ticket = escalate()
    ticket_update(ticket=ticket, data={"status": "snoozed"})
    ticket_reply(ticket=ticket, teammate=teammate.user, body="We'll get back to you on Monday.")

    ticket.refresh_from_db()
    assert ticket.status == "snoozed"


def test_snoozed_until_a_time_wakes_when_it_comes(api: APIClient, escalate: Callable[..., Ticket]) -> None:
    ticket = escalate()
    until = timezone.now() + timedelta(hours=2)

    response = api.patch(
        f"/api/v1/tickets/{ticket.pk}", {"status": "snoozed", "snoozed_until": until.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "snoozed"
    assert response.json()["snoozed_until"] is not None

    assert tickets_wake_due(now=until - timedelta(minutes=1)) == 0
    assert Ticket.objects.get(pk=ticket.pk).status == "snoozed"
    assert tickets_wake_due(now=until) == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.snoozed_until) == ("open", None)
    assert status_events(ticket) == ["snoozed", "open"]


def test_the_wake_up_job_runs_every_minute(settings: Any) -> None:
    [entry] = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == tickets_wake.name]
    assert entry["schedule"] == 60.0


def test_the_wake_up_job_opens_every_due_ticket_once(escalate: Callable[..., Ticket]) -> None:
    past = timezone.now() - timedelta(minutes=1)
    due = [escalate() for _ in range(3)]
    later = escalate()
    for ticket in due:
        Ticket.objects.filter(pk=ticket.pk).update(status="snoozed", snoozed_until=past)
    ticket_update(ticket=later, data={"status": "snoozed", "snoozed_until": timezone.now() + timedelta(days=1)})

    assert tickets_wake.apply().get() == 3
    assert tickets_wake.apply().get() == 0
    assert sorted(Ticket.objects.values_list("status", flat=True)) == ["open", "open", "open", "snoozed"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "snoozed", "snoozed_until": "2001-01-01T00:00:00Z"}, "must be in the future"),
        ({"status": "open", "snoozed_until": "2099-01-01T00:00:00Z"}, "Only a snoozed ticket"),
        ({"snoozed_until": "tomorrow"}, "Datetime has wrong format"),
    ],
)
def test_a_bad_wake_up_time_is_a_clear_error(
    api: APIClient, escalate: Callable[..., Ticket], data: dict[str, str], message: str
) -> None:
    ticket = escalate()
    response = api.patch(f"/api/v1/tickets/{ticket.pk}", data, format="json")

    assert response.status_code == 400
    assert message in str(response.json())
    assert Ticket.objects.get(pk=ticket.pk).status == "open"  # nothing half-written


def test_leaving_snoozed_clears_the_wake_up_time(escalate: Callable[..., Ticket]) -> None:
    ticket = escalate()
    ticket_update(ticket=ticket, data={"status": "snoozed", "snoozed_until": timezone.now() + timedelta(hours=1)})
    ticket = ticket_update(ticket=ticket, data={"status": "priority"})
    assert ticket.snoozed_until is None


def test_a_teammate_snoozes_for_a_day_from_the_ticket_page(staff: Client, escalate: Callable[..., Ticket]) -> None:
    ticket = escalate()
    page = staff.get(reverse("inbox:ticket", args=[ticket.pk])).content.decode()
    assert '<option value="1d">for 1 day</option>' in page

    before = timezone.now()
    response = staff.post(
        reverse("inbox:ticket-action", args=[ticket.pk, "status"]),
        {"status": "snoozed", "snooze_for": "1d"},
        follow=True,
    )

    ticket.refresh_from_db()
    assert ticket.status == "snoozed"
    assert ticket.snoozed_until is not None
    assert before + timedelta(days=1) <= ticket.snoozed_until <= timezone.now() + timedelta(days=1)
    assert 'id="ticket-snoozed-until">until <time' in response.content.decode()


def test_snoozing_without_a_period_waits_for_the_customer(staff: Client, escalate: Callable[..., Ticket]) -> None:
    ticket = escalate()
    response = staff.post(
        reverse("inbox:ticket-action", args=[ticket.pk, "status"]), {"status": "snoozed", "snooze_for": ""}, follow=True
    )

    ticket.refresh_from_db()
    assert (ticket.status, ticket.snoozed_until) == ("snoozed", None)
    assert "until the customer writes</span>" in response.content.decode()


def test_an_unknown_snooze_period_is_refused(staff: Client, escalate: Callable[..., Ticket]) -> None:
    ticket = escalate()
    response = staff.post(
        reverse("inbox:ticket-action", args=[ticket.pk, "status"]),
        {"status": "snoozed", "snooze_for": "99y"},
        follow=True,
    )

    assert "Select a valid choice" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "open"
