"""Demo data of the inbox: team inboxes, a priority filter, and a few more tickets to work on.

Runs after ``agents.demo.seed`` (see ``SEEDERS`` in ``seed_demo``). Every ticket is made the way a
widget conversation makes one, through the real services, so the demo shows the whole AI context.
Idempotent: it does nothing once the workspace has a custom inbox.
"""

from agents.models import Agent
from agents.services import conversation_start
from escalation.services import escalation_settings_ensure, escalation_settings_update
from halo.models import Contact, Membership, Workspace
from inbox.models import CustomInbox, Ticket
from inbox.services import ticket_reply, ticket_update

# Each of these hands off: a human-only topic (the escalate tool), or a handoff phrase (manual).
ESCALATING_CONVERSATIONS = [
    ("demo-user-9", "Please cancel my account at the end of this month."),  # enterprise: priority
    ("demo-user-12", "Can I talk to a human about our last invoice?"),
    ("demo-user-18", "We need a GDPR request handled for a former employee."),
]
PRIORITY_FILTER = "company.plan = enterprise"


def seed(workspace: Workspace) -> None:
    agent = Agent.objects.filter(workspace=workspace).order_by("id").first()
    if agent is None or CustomInbox.objects.filter(workspace=workspace).exists():
        return
    CustomInbox.objects.create(workspace=workspace, name="Billing")
    CustomInbox.objects.create(workspace=workspace, name="Technical")
    escalation_settings_update(
        settings=escalation_settings_ensure(agent=agent), data={"priority_filter": PRIORITY_FILTER}, via="system"
    )
    for user_id, text in ESCALATING_CONVERSATIONS:
        contact = Contact.objects.filter(workspace=workspace, user_id=user_id).first()
        if contact is not None:
            conversation_start(workspace=workspace, agent=agent, contact=contact, body=text)

    # The earliest ticket is answered and closed by a teammate, so the Closed list has an example too.
    teammate = Membership.objects.filter(workspace=workspace, role=Membership.Role.TEAMMATE).order_by("id").first()
    ticket = Ticket.objects.filter(workspace=workspace).order_by("id").first()
    if teammate is not None and ticket is not None:
        ticket_reply(
            ticket=ticket,
            teammate=teammate.user,
            body="Sorry about that! I've refunded the duplicate charge; it will show on your card in 3-5 days.",
        )
        ticket_update(ticket=ticket, data={"status": Ticket.Status.CLOSED}, actor=teammate.user)
