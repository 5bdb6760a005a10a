"""Factories for custom inboxes and tickets."""

import factory

from inbox.models import CustomInbox, Ticket
from inbox.services import ticket_counts_enter
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

    @classmethod
    def _create(cls, model_class: type[Ticket], *args: object, **kwargs: object) -> Ticket:
        """Inserted as a fixture, counted in the sidebar's cells as an escalation's ticket is."""
        ticket = super()._create(model_class, *args, **kwargs)
        ticket_counts_enter(ticket=ticket)
        return ticket
