"""Demo conversations and tickets, made the way the widget makes them: through ``escalation.flow``.

Runs last in ``manage.py seed_demo`` (after the people, the agent and its help center, and the team
inboxes exist). A few conversations the AI answers (or fails to), three that hand off — a human-only topic
(the escalate tool), a request for a human (manual), a GDPR request — with a priority filter for
enterprise customers, and the earliest ticket answered and closed by a teammate, so the Closed list has an
example too. Idempotent: it does nothing once the workspace has a conversation.
"""

from agents.models import Agent, Conversation
from escalation.flow import conversation_start
from escalation.services import escalation_settings_ensure, escalation_settings_update
from halo.identity import ContactIdentity
from halo.models import Contact, Membership, Workspace
from halo.services import contact_of_identity_resolve
from inbox.models import Ticket
from inbox.services import ticket_reply, ticket_update

SAMPLE_CONVERSATIONS = [
    ("demo-user-1", "How do I reset my password?"),
    ("demo-user-2", "Can I connect Slack to get notifications?"),
    ("demo-user-3", "I was charged twice and want a refund"),
    ("demo-user-4", "Do you integrate with SAP Concur for travel expenses?"),
]
# Each of these hands off: a human-only topic (the escalate tool), or a handoff phrase (manual).
ESCALATING_CONVERSATIONS = [
    ("demo-user-9", "Please cancel my account at the end of this month."),  # enterprise: priority
    ("demo-user-12", "Can I talk to a human about our last invoice?"),
    ("demo-user-18", "We need a GDPR request handled for a former employee."),
]
PRIORITY_FILTER = "company.plan = enterprise"
CLOSING_REPLY = "Sorry about that! I've refunded the duplicate charge; it will show on your card in 3-5 days."


def seed(workspace: Workspace) -> None:
    agent = Agent.objects.filter(workspace=workspace).order_by("id").first()
    if agent is None or Conversation.objects.filter(workspace=workspace).exists():
        return
    escalation_settings_update(
        escalation_settings=escalation_settings_ensure(agent=agent),
        data={"priority_filter": PRIORITY_FILTER},
        via="system",
    )
    for user_id, text in [*SAMPLE_CONVERSATIONS, *ESCALATING_CONVERSATIONS]:
        contact = Contact.objects.filter(workspace=workspace, user_id=user_id).first()
        if contact is None:
            contact = contact_of_identity_resolve(workspace=workspace, identity=ContactIdentity(user_id=user_id))
        conversation_start(workspace=workspace, agent=agent, contact=contact, body=text)

    teammate = Membership.objects.filter(workspace=workspace, role=Membership.Role.TEAMMATE).order_by("id").first()
    ticket = Ticket.objects.filter(workspace=workspace).order_by("id").first()
    if teammate is not None and ticket is not None:
        ticket_reply(ticket=ticket, teammate=teammate.user, body=CLOSING_REPLY)
        ticket_update(ticket=ticket, data={"status": Ticket.Status.CLOSED}, actor=teammate.user)
