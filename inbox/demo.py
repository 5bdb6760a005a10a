"""Demo data of the inbox: the team inboxes Billing and Technical, and a few macros.

Runs after ``agents.demo.seed`` (see ``manage.py seed_demo``); the demo's tickets are made the way a
widget conversation makes them, by ``escalation.demo``. Idempotent: each part does nothing once the workspace
has custom inboxes, or macros.
"""

from halo.models import Workspace
from inbox.models import CustomInbox, Macro
from inbox.services import macro_create

TEAM_INBOXES = ("Billing", "Technical")
MACROS = (
    (
        "Refund issued",
        "Hi {{ customer.first_name }}, I've refunded the duplicate charge: it shows on your statement within "
        "5-10 business days. Sorry for the trouble!\n\n{{ teammate.first_name }}",
    ),
    (
        "Password reset link",
        "Hi {{ customer.first_name }}, I've sent a new password reset link to {{ customer.email }}. It works for "
        "one hour; let me know if it doesn't arrive.\n\n{{ teammate.first_name }}",
    ),
    (
        "Looking into it",
        "Thanks {{ customer.first_name }}, I'm looking into this now and will get back to you shortly.",
    ),
    (
        "Closing the loop",
        "Hi {{ customer.first_name }}, just checking in: is everything working for {{ company.name }} now? "
        "I'll close this ticket, but reply any time and it reopens.",
    ),
)


def seed(workspace: Workspace) -> None:
    if not CustomInbox.objects.filter(workspace=workspace).exists():
        for name in TEAM_INBOXES:
            CustomInbox.objects.create(workspace=workspace, name=name)
    if not Macro.objects.filter(workspace=workspace).exists():
        for name, body in MACROS:
            macro_create(workspace=workspace, name=name, body=body)
