"""Factories for custom inboxes and tickets."""

import factory

from inbox.models import CustomInbox, Ticket
from tests.halo.factories import ContactFactory, WorkspaceFactory


class CustomInboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomInbox

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Inbox {n}")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    workspace = factory.SubFactory(WorkspaceFactory)
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    status = Ticket.Status.OPEN
    reason = "low_confidence"
    confidence = 20
