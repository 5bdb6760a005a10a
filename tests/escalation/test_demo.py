"""The demo's conversations and tickets (``escalation.demo``): made through the real widget flow, in every
inbox list a teammate opens first, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from agents.models import Conversation
from halo.models import Workspace
from inbox.models import CustomInbox, Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_fills_the_inbox_with_open_priority_manual_and_closed_tickets_once() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    workspace = Workspace.objects.get(slug="acme")
    tickets = Ticket.objects.filter(workspace=workspace)
    assert sorted(CustomInbox.objects.filter(workspace=workspace).values_list("name", flat=True)) == [
        "Billing",
        "Technical",
    ]
    assert Conversation.objects.filter(workspace=workspace).count() == 7
    assert tickets.count() == 4
    assert tickets.filter(status=Ticket.Status.PRIORITY, contact__company__plan="enterprise").exists()
    assert tickets.filter(status=Ticket.Status.OPEN, reason="manual").exists()
    closed = tickets.get(status=Ticket.Status.CLOSED)
    assert closed.conversations.get().messages.filter(author="teammate").exists()
