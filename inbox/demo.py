"""Demo data of the inbox: the team inboxes Billing and Technical.

Runs after ``agents.demo.seed`` (see ``manage.py seed_demo``); the demo's tickets are made the way a
widget conversation makes them, by ``escalation.demo``. Idempotent: it does nothing once the workspace has
a custom inbox.
"""

from halo.models import Workspace
from inbox.models import CustomInbox

TEAM_INBOXES = ("Billing", "Technical")


def seed(workspace: Workspace) -> None:
    if CustomInbox.objects.filter(workspace=workspace).exists():
        return
    for name in TEAM_INBOXES:
        CustomInbox.objects.create(workspace=workspace, name=name)
