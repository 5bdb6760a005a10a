"""The demo's conversations and tickets (``escalation.demo``): made through the real widget flow, in every
inbox list a teammate opens first, once."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.models import Conversation
from escalation.models import ReportDay
from halo.models import Workspace
from inbox.models import CustomInbox, Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_fills_the_inbox_with_open_priority_manual_and_closed_tickets_once() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    workspace = Workspace.objects.get(slug="acme")
    # The live demo's tickets (the month of history opened its own an hour ago and earlier, all closed).
    tickets = Ticket.objects.filter(workspace=workspace, created_at__gte=timezone.now() - timedelta(minutes=30))
    history = Ticket.objects.filter(workspace=workspace, created_at__lt=timezone.now() - timedelta(minutes=30))
    assert history.count() > 50
    assert not history.exclude(status=Ticket.Status.CLOSED).exists()
    assert history.filter(reopened_count__gt=0).exists()
    assert history.filter(held_back_turns__gt=0).exists()
    assert history.exclude(verdict="").exists()
    assert ReportDay.objects.filter(workspace=workspace).count() >= 25  # the report's rollups are counted
    assert sorted(CustomInbox.objects.filter(workspace=workspace).values_list("name", flat=True)) == [
        "Billing",
        "Technical",
    ]
    assert Conversation.objects.filter(workspace=workspace).count() >= 7 + 300  # the live ones and a month of history
    assert tickets.count() == 4
    assert tickets.filter(status=Ticket.Status.PRIORITY, contact__company__plan="enterprise").exists()
    assert tickets.filter(status=Ticket.Status.OPEN, reason="manual").exists()
    closed = tickets.get(status=Ticket.Status.CLOSED)
    assert closed.conversations.get().messages.filter(author="teammate").exists()
