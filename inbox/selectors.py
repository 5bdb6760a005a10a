"""Reads of the inbox app, always scoped to a workspace (another workspace's ticket reads as "not found").

``ticket_list`` serves the tickets API and the inbox: filters by status, assignee, inbox and a segment
rule (compiled to SQL by ``segments``), newest first, with a fixed number of queries however many tickets
there are (the contact joined, the conversation ids prefetched); pagination is keyset (the API's cursor),
so no ``COUNT(*)`` is ever run.
"""

from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from agents.models import Conversation
from halo.models import Workspace
from inbox.models import Ticket
from segments.lang import Node
from segments.selectors import contacts_matching

UNSET = "none"


def _tickets(workspace: Workspace) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(workspace=workspace)
        .select_related("contact")
        .prefetch_related(Prefetch("conversations", queryset=Conversation.objects.only("id")))
    )


def ticket_list(
    *,
    workspace: Workspace,
    statuses: list[str] | None = None,
    assignee: int | str | None = None,
    inbox: int | str | None = None,
    segment: str | Node | None = None,
    now: datetime | None = None,
) -> QuerySet[Ticket]:
    """Tickets of a workspace, newest first. ``assignee``/``inbox`` take an id or ``"none"`` (unassigned)."""
    tickets = _tickets(workspace)
    if statuses:
        tickets = tickets.filter(status__in=statuses)
    if assignee == UNSET:
        tickets = tickets.filter(assignee__isnull=True)
    elif isinstance(assignee, int):
        tickets = tickets.filter(assignee_id=assignee)
    if inbox == UNSET:
        tickets = tickets.filter(inbox__isnull=True)
    elif isinstance(inbox, int):
        tickets = tickets.filter(inbox_id=inbox)
    if segment is not None:
        matching = contacts_matching(workspace=workspace, rule=segment, now=now or timezone.now())
        tickets = tickets.filter(contact__in=matching.values("pk"))
    return tickets.order_by("-id")


def ticket_get(*, workspace: Workspace, ticket_id: int) -> Ticket | None:
    return _tickets(workspace).filter(pk=ticket_id).first()
