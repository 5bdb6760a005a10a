"""Reads of the inbox app, always scoped to a workspace (another workspace's ticket reads as "not found").

``ticket_list`` serves the tickets API and the inbox: filters by status, assignee, inbox and a segment
rule (compiled to SQL by ``segments``), newest first, with a fixed number of queries however many tickets
there are (the contact joined, the conversation ids prefetched); pagination is keyset (the API's cursor),
so no ``COUNT(*)`` is ever run.

The staff web inbox reads through ``inbox_lists`` (the sidebar: built-in lists, custom inboxes and saved
views with their counts), ``inbox_list_get`` / ``inbox_page`` (one keyset page of a list) and
``ticket_detail_get`` (a ticket page), each in a fixed number of queries.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from agents.models import Conversation, Message
from halo.models import Workspace
from inbox.models import CustomInbox, EscalationEvent, SavedView, Ticket, TicketNote
from segments.lang import Node
from segments.selectors import contacts_matching

UNSET = "none"


def _tickets(workspace: Workspace) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(workspace=workspace)
        .select_related("contact")
        .prefetch_related(Prefetch("conversations", queryset=Conversation.objects.only("id")))
    )


def _list_filter(*, statuses: list[str] | None, assignee: int | str | None, inbox: int | str | None) -> Q:
    """A list's conditions besides the workspace and the segment rule, as one ``Q``: one ``filter()`` call
    rather than one per condition (each clones the query; the sidebar builds seven lists per page)."""
    conditions = Q()
    if statuses:
        conditions &= Q(status__in=statuses)
    if assignee == UNSET:
        conditions &= Q(assignee__isnull=True)
    elif isinstance(assignee, int):
        conditions &= Q(assignee_id=assignee)
    if inbox == UNSET:
        conditions &= Q(inbox__isnull=True)
    elif isinstance(inbox, int):
        conditions &= Q(inbox_id=inbox)
    return conditions


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
    tickets = _tickets(workspace).filter(_list_filter(statuses=statuses, assignee=assignee, inbox=inbox))
    if segment is not None:
        tickets = _of_segment(tickets, workspace=workspace, segment=segment, now=now or timezone.now())
    return tickets.order_by("-id")


def _of_segment(
    tickets: QuerySet[Ticket], *, workspace: Workspace, segment: str | Node, now: datetime
) -> QuerySet[Ticket]:
    """The tickets whose contact matches a segment rule, checked ticket by ticket: a correlated subquery
    (``LIMIT 1``, which PostgreSQL keeps as such) that a page or a capped count stops asking once it has its
    rows. Written as ``contact IN (matching contacts)``, or as ``EXISTS`` (which the planner turns into the
    same join), PostgreSQL hashes every matching contact of the workspace first and sorts every matching
    ticket: a cost that grows with the contacts, not with the page."""
    matching = contacts_matching(workspace=workspace, rule=segment, now=now)
    contact = Subquery(matching.filter(pk=OuterRef("contact_id")).values("pk")[:1])
    return tickets.alias(segment_contact=contact).filter(segment_contact__isnull=False)


def ticket_get(*, workspace: Workspace, ticket_id: int) -> Ticket | None:
    return _tickets(workspace).filter(pk=ticket_id).first()


# --- The staff web inbox -----------------------------------------------------------------------------

NOT_CLOSED: list[str] = [Ticket.Status.OPEN, Ticket.Status.PRIORITY, Ticket.Status.SNOOZED]
WAITING: list[str] = [Ticket.Status.OPEN, Ticket.Status.PRIORITY]
INBOX_PAGE_SIZE = 50
# A sidebar count stops here and reads "999+": an exact count of a large backlog would grow with it.
COUNT_CAP = 999

# The built-in lists: key -> (label, statuses, assignee filter: None | "none" | "me").
BUILTIN_LISTS: dict[str, tuple[str, list[str], str | None]] = {
    "open": ("Open", WAITING, None),
    "priority": ("Priority", [str(Ticket.Status.PRIORITY)], None),
    "unassigned": ("Unassigned", WAITING, UNSET),
    "mine": ("Mine", NOT_CLOSED, "me"),
    "snoozed": ("Snoozed", [str(Ticket.Status.SNOOZED)], None),
    "closed": ("Closed", [str(Ticket.Status.CLOSED)], None),
}


@dataclass(frozen=True)
class InboxList:
    key: str  # "open", "inbox-3", "view-7"
    label: str
    count: int | None  # None: not counted (closed tickets only grow; no COUNT over them)
    statuses: list[str]
    assignee: int | str | None
    inbox: int | None = None
    segment: str = ""

    @property
    def kind(self) -> str:
        """The sidebar's section: ``builtin``, ``inbox`` (a team inbox) or ``view`` (a saved view)."""
        prefix = self.key.partition("-")[0]
        return prefix if prefix in ("inbox", "view") else "builtin"

    @property
    def count_display(self) -> str:
        if self.count is None:
            return ""
        return f"{COUNT_CAP}+" if self.count > COUNT_CAP else str(self.count)


def _capped_counts(querysets: dict[str, QuerySet[Ticket]]) -> dict[str, int]:
    """Each queryset's number of rows, counted up to ``COUNT_CAP + 1`` only, all in one query: a bounded
    count reads at most that many index entries, so the sidebar costs the same at 1k or 100k tickets."""
    if not querysets:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    for queryset in querysets.values():
        sql, sql_params = queryset.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608 (Django's SQL; params apart)  # nosec B608
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(value) for key, value in zip(querysets, row, strict=True)}


def inbox_lists(*, workspace: Workspace, user_id: int, now: datetime | None = None) -> list[InboxList]:
    """Every list of the inbox sidebar with its count, in three queries whatever the number of tickets, inboxes
    and views (custom inboxes, saved views, then every count at once). Counts are over tickets that are not
    closed and stop at ``COUNT_CAP`` (shown as "999+")."""
    lists = [
        InboxList(
            key=key,
            label=label,
            count=None,
            statuses=list(statuses),
            assignee=user_id if assignee == "me" else assignee,
        )
        for key, (label, statuses, assignee) in BUILTIN_LISTS.items()
    ]
    lists += [
        InboxList(
            key=f"inbox-{custom.pk}",
            label=custom.name,
            count=None,
            statuses=list(NOT_CLOSED),
            assignee=None,
            inbox=custom.pk,
        )
        for custom in CustomInbox.objects.filter(workspace=workspace)
    ]
    lists += [saved_view_list(view=view, user_id=user_id) for view in SavedView.objects.filter(workspace=workspace)]
    counted = {
        item.key: _counted_tickets(workspace=workspace, inbox_list=item, now=now or timezone.now())
        for item in lists
        if item.key != "closed"  # closed tickets only grow: never counted
    }
    counts = _capped_counts(counted)
    return [replace(item, count=counts[item.key]) if item.key in counts else item for item in lists]


def _counted_tickets(*, workspace: Workspace, inbox_list: InboxList, now: datetime) -> QuerySet[Ticket]:
    """The tickets of a list, for its capped count (a saved view's rule checked ticket by ticket)."""
    tickets = Ticket.objects.filter(
        _list_filter(statuses=inbox_list.statuses, assignee=inbox_list.assignee, inbox=inbox_list.inbox),
        workspace=workspace,
    )
    if not inbox_list.segment:
        return tickets
    return _of_segment(tickets, workspace=workspace, segment=inbox_list.segment, now=now)


def saved_view_list(*, view: SavedView, user_id: int) -> InboxList:
    assignee: int | str | None = None
    if view.assignee == SavedView.Assignee.NONE:
        assignee = UNSET
    elif view.assignee == SavedView.Assignee.ME:
        assignee = user_id
    return InboxList(
        key=f"view-{view.pk}",
        label=view.name,
        count=None,
        statuses=list(view.statuses or NOT_CLOSED),
        assignee=assignee,
        inbox=view.inbox_id,
        segment=view.rule,
    )


def inbox_list_get(*, workspace: Workspace, user_id: int, key: str) -> InboxList | None:
    """One list by its key (``open``, ``inbox-3``, ``view-7``), scoped to the workspace; None if unknown."""
    if key in BUILTIN_LISTS:
        label, statuses, assignee = BUILTIN_LISTS[key]
        return InboxList(
            key=key,
            label=label,
            count=None,
            statuses=list(statuses),
            assignee=user_id if assignee == "me" else assignee,
        )
    kind, _, raw_id = key.partition("-")
    if not raw_id.isdigit():
        return None
    if kind == "inbox":
        custom = CustomInbox.objects.filter(workspace=workspace, pk=int(raw_id)).first()
        if custom is None:
            return None
        return InboxList(
            key=key, label=custom.name, count=None, statuses=list(NOT_CLOSED), assignee=None, inbox=custom.pk
        )
    if kind == "view":
        view = SavedView.objects.filter(workspace=workspace, pk=int(raw_id)).first()
        return saved_view_list(view=view, user_id=user_id) if view is not None else None
    return None


# What a list row shows, and nothing else: the JSON columns (sources, tools, custom fields) and the assignee's
# password hash were decoded into every row of every page for nothing.
PAGE_FIELDS = (
    "status",
    "reason",
    "confidence",
    "escalation_count",
    "updated_at",
    "contact__name",
    "contact__email",
    "contact__user_id",  # these three: Contact.__str__
    "contact__company__name",
    "contact__company__company_id",  # Company.__str__
    "assignee__first_name",
    "assignee__last_name",
    "assignee__username",
    "inbox__name",
)


def inbox_page(
    *, workspace: Workspace, inbox_list: InboxList, before: int | None = None, now: datetime | None = None
) -> tuple[list[Ticket], int | None]:
    """One page of a list, newest first, keyset-paginated on the id (no ``COUNT``, no ``OFFSET``).

    Returns the tickets and the ``before`` id of the next page (None on the last page). Two queries
    whatever the list's size: the rows (contact, company, assignee and inbox joined; the customer's latest
    message as a subquery) and nothing else.
    """
    tickets = ticket_list(
        workspace=workspace,
        statuses=inbox_list.statuses,
        assignee=inbox_list.assignee,
        inbox=inbox_list.inbox,
        segment=inbox_list.segment or None,
        now=now,
    ).prefetch_related(None)
    if before is not None:
        tickets = tickets.filter(pk__lt=before)
    latest_user_message = (
        Message.objects.filter(conversation__tickets=OuterRef("pk"), author=Message.Author.USER)
        .order_by("-id")
        .values("body")[:1]
    )
    rows: list[Ticket] = list(
        tickets.select_related("contact__company", "assignee", "inbox")
        .only(*PAGE_FIELDS)
        .annotate(preview=Subquery(latest_user_message))[: INBOX_PAGE_SIZE + 1]
    )
    next_before = rows[INBOX_PAGE_SIZE - 1].pk if len(rows) > INBOX_PAGE_SIZE else None
    return rows[:INBOX_PAGE_SIZE], next_before


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    conversations: list[Conversation]  # each with ``messages`` prefetched, oldest first
    escalations: list[EscalationEvent]  # oldest first
    notes: list[TicketNote]
    teammates: list[User]  # users of the workspace
    inboxes: list[CustomInbox]


def ticket_detail_get(*, workspace_ids: list[int], ticket_id: int) -> TicketDetail | None:
    """A ticket with everything its page shows, if it belongs to one of ``workspace_ids``; else None."""
    ticket = (
        Ticket.objects.filter(workspace_id__in=workspace_ids, pk=ticket_id)
        .select_related("workspace", "contact__company", "assignee", "inbox", "agent", "verdict_by")
        .first()
    )
    if ticket is None:
        return None
    conversations = list(
        Conversation.objects.filter(tickets=ticket)
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("messages", queryset=Message.objects.select_related("teammate").order_by("id")))
    )
    escalations = list(
        EscalationEvent.objects.filter(ticket=ticket).select_related("conversation").order_by("created_at", "id")
    )
    notes = list(TicketNote.objects.filter(ticket=ticket).select_related("author").order_by("id"))
    teammates = list(
        get_user_model()
        .objects.filter(memberships__workspace_id=ticket.workspace_id, is_active=True)
        .order_by("first_name", "username")
    )
    inboxes = list(CustomInbox.objects.filter(workspace_id=ticket.workspace_id))
    return TicketDetail(
        ticket=ticket,
        conversations=conversations,
        escalations=escalations,
        notes=notes,
        teammates=teammates,
        inboxes=inboxes,
    )


def ticket_open_of_conversation(*, conversation: Conversation) -> Ticket | None:
    """The ticket that is not closed holding this conversation, if any (at most one: a conversation's
    contact has at most one ticket that is not closed)."""
    return Ticket.objects.filter(conversations=conversation).exclude(status=Ticket.Status.CLOSED).first()
