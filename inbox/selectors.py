"""Reads of the inbox app, always scoped to a workspace (another workspace's ticket reads as "not found").

``ticket_list`` serves the tickets API and the inbox: filters by status, assignee, inbox and a segment
rule (compiled to SQL by ``segments``), newest first, with a fixed number of queries however many tickets
there are (the contact joined, the conversation ids prefetched); pagination is keyset (the API's cursor),
so no ``COUNT(*)`` is ever run.

The staff web inbox reads through ``inbox_lists`` (the sidebar: built-in lists, custom inboxes and saved
views with their counts), ``inbox_list_get`` / ``inbox_page`` (one keyset page of a list) and
``ticket_detail_get`` (a ticket page), each in a fixed number of queries.
"""

import functools
import hashlib
import statistics
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, F, OuterRef, Prefetch, Q, QuerySet, Subquery, When, prefetch_related_objects
from django.utils import timezone

from agents.knowledge import knowledge_search
from agents.models import AgentTurn, Conversation, Message
from agents.search import FTS_TABLE as MESSAGE_FTS_TABLE
from agents.search import PG_TABLE as MESSAGE_SEARCH_TABLE
from agents.search import MessageMatch, fts5_match, message_matches, pg_term
from agents.turns import KnowledgeSource, sources_dedupe
from halo.compiled import CompiledRead
from halo.hours import Schedule, business_minutes_between
from halo.models import Contact, Membership, PageView, Workspace
from halo.params import parse_id
from halo.search import search_terms
from halo.selectors import contacts_matching_text
from inbox.models import CustomInbox, EscalationEvent, InboxCount, InboxMember, Macro, SavedView, Ticket, TicketNote
from segments.lang import Node
from segments.selectors import contacts_matching, rule_reads_time

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
    "all": ("All tickets", [], None),  # what a search looks through by default: open and closed alike
}
# Lists whose size only grows (closed tickets): never counted.
UNCOUNTED_LISTS = ("closed", "all")


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


def _capped_counts(querysets: dict[str, QuerySet[Ticket]], sums: dict[str, "CellSum"] | None = None) -> dict[str, int]:
    """Each ticket queryset's number of rows, counted up to ``COUNT_CAP + 1`` only, and each cell sum, all in
    one query: a bounded count reads at most that many index entries, and a workspace's cells are a few rows
    whatever its backlog, so the sidebar costs the same at 1k or 1M tickets."""
    sums = sums or {}
    if not querysets and not sums:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    for queryset in querysets.values():
        sql, sql_params = queryset.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608 (Django's SQL; params apart)  # nosec B608
        params.extend(sql_params)
    for cells in sums.values():
        parts.append(f"({cells.sql})")
        params.extend(cells.params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(value) for key, value in zip([*querysets, *sums], row, strict=True)}


# Read on every page of the staff inbox (its sidebar, the filter bar's choices, the workspaces of the teammate):
# compiled once per connection (``halo.compiled``; the placeholder is the id 0, which no row has).
_CUSTOM_INBOXES = CompiledRead(lambda workspace_id: CustomInbox.objects.filter(workspace_id=workspace_id), 0)
_SAVED_VIEWS = CompiledRead(lambda workspace_id: SavedView.objects.filter(workspace_id=workspace_id), 0)
_MEMBERSHIPS = CompiledRead(
    lambda user_id: Membership.objects.filter(user_id=user_id).select_related("workspace").order_by("workspace__name"),
    0,
)
_TEAMMATE_CHOICES = CompiledRead(
    lambda workspace_id: (
        get_user_model()
        .objects.filter(memberships__workspace_id=workspace_id, is_active=True)
        .order_by("first_name", "username")
        .only("first_name", "last_name", "username")
    ),
    0,
)


def membership_list(*, user_id: int) -> list[Membership]:
    """The teammate's memberships with their workspaces, by workspace name (the switcher's order)."""
    return _MEMBERSHIPS.all(user_id)


def teammate_choices(*, workspace_id: int) -> list[User]:
    """The workspace's active teammates by first name then username, with their names only (a filter's or a
    bulk action's choices)."""
    return _TEAMMATE_CHOICES.all(workspace_id)


def inbox_lists(*, workspace: Workspace, user_id: int, now: datetime | None = None) -> list[InboxList]:
    """Every list of the inbox sidebar with its count, in three queries whatever the number of tickets: custom
    inboxes, saved views, then every count at once. A built-in list's or a team inbox's count is the sum of
    the workspace's ``InboxCount`` cells it covers (exact, kept by the ticket changes). A saved view's rule
    is about contacts, whose data changes without a ticket change, so it cannot be kept as a cell: it is
    counted up to ``COUNT_CAP`` and the count reused for ``VIEW_COUNT_SECONDS``. Closed tickets are not
    counted."""
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
        for custom in _CUSTOM_INBOXES.all(workspace.pk)
    ]
    views = [saved_view_list(view=view, user_id=user_id) for view in _SAVED_VIEWS.all(workspace.pk)]
    at = now or timezone.now()
    cached = _view_counts_cached(views)
    counts = _capped_counts(
        {
            view.key: _counted_tickets(workspace=workspace, inbox_list=view, now=at)
            for view in views
            if view.key not in cached
        },
        sums={
            item.key: _cells(workspace=workspace, inbox_list=item) for item in lists if item.key not in UNCOUNTED_LISTS
        },
    )
    _view_counts_keep(views, {key: counts[key] for key in counts if key.startswith("view-")})
    counts |= cached
    lists += views
    return [replace(item, count=counts[item.key]) if item.key in counts else item for item in lists]


# How long a saved view's sidebar count is reused (per view, as defined, and per viewer for "me" views).
VIEW_COUNT_SECONDS = 30


def _view_count_key(view: InboxList) -> str:
    """A view's cache key: its definition is part of it, so an edited view is counted afresh."""
    definition = repr((view.key, sorted(view.statuses), view.assignee, view.inbox, view.segment))
    return "inbox:view-count:" + hashlib.sha256(definition.encode()).hexdigest()


def _view_counts_cached(views: list[InboxList]) -> dict[str, int]:
    """The saved views' counts computed in the last ``VIEW_COUNT_SECONDS`` (none when the cache is down)."""
    if not views:
        return {}
    keys = {_view_count_key(view): view.key for view in views}
    try:
        found = cache.get_many(list(keys))
    except Exception:  # the cache is down: count now, as without it
        return {}
    return {keys[cache_key]: int(value) for cache_key, value in found.items()}


def _view_counts_keep(views: list[InboxList], counts: dict[str, int]) -> None:
    by_key = {view.key: view for view in views}
    if not counts:
        return
    try:
        cache.set_many(
            {_view_count_key(by_key[key]): value for key, value in counts.items() if key in by_key},
            timeout=VIEW_COUNT_SECONDS,
        )
    except Exception:  # the cache is down: the next page counts again
        return


@dataclass(frozen=True)
class CellSum:
    """The sum of the ``InboxCount`` cells a built-in list or a team inbox covers (its count), as a scalar
    subquery with its parameters."""

    sql: str
    params: tuple[Any, ...]


def _cells(*, workspace: Workspace, inbox_list: InboxList) -> CellSum:
    """A list's ``CellSum``. Written out rather than compiled from a queryset: the sidebar sums six lists or
    more on every page, and building and compiling a queryset for each cost the page more than the query
    itself. Only the table's and columns' names and placeholders are formatted in; the values are parameters."""
    column = {field.name: field.column for field in InboxCount._meta.concrete_fields}
    statuses = inbox_list.statuses or NOT_CLOSED
    where = [f"{column['workspace']} = %s", f"{column['status']} IN ({', '.join(['%s'] * len(statuses))})"]
    params: list[Any] = [workspace.pk, *statuses]
    assignee_key = 0 if inbox_list.assignee == UNSET else inbox_list.assignee
    if isinstance(assignee_key, int):
        where.append(f"{column['assignee_key']} = %s")
        params.append(assignee_key)
    if inbox_list.inbox is not None:
        where.append(f"{column['inbox_key']} = %s")
        params.append(inbox_list.inbox)
    table = InboxCount._meta.db_table
    sql = f"SELECT COALESCE(SUM({column['n']}), 0) FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608  # nosec B608
    return CellSum(sql=sql, params=tuple(params))


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
    list_id = parse_id(raw_id)
    if list_id is None:
        return None
    if kind == "inbox":
        custom = CustomInbox.objects.filter(workspace=workspace, pk=list_id).first()
        if custom is None:
            return None
        return InboxList(
            key=key, label=custom.name, count=None, statuses=list(NOT_CLOSED), assignee=None, inbox=custom.pk
        )
    if kind == "view":
        view = SavedView.objects.filter(workspace=workspace, pk=list_id).first()
        return saved_view_list(view=view, user_id=user_id) if view is not None else None
    return None


# What a list row shows, and nothing else: the JSON columns (sources, tools, custom fields) and the assignee's
# password hash were decoded into every row of every page for nothing.
PAGE_FIELDS = (
    "status",
    "first_reply_due_at",
    "first_replied_at",
    "reason",
    "confidence",
    "escalation_count",
    "updated_at",
    "rating_score",
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


class Sort(StrEnum):
    """How a list is ordered: newest and oldest are keyset-paginated on the id, due on (due time, id)
    (``before`` is the last id shown)."""

    NEWEST = "newest"
    OLDEST = "oldest"  # waiting longest first
    DUE = "due"  # first reply due soonest first (the overdue on top); tickets not waiting for one after


@dataclass(frozen=True)
class ListFilters:
    """What a teammate narrows a list down to, on top of the list's own conditions (both must hold):
    statuses (any of them), an assignee (a user id or ``UNSET``), a team inbox (an id or ``UNSET``)."""

    statuses: tuple[str, ...] = ()
    assignee: int | str | None = None
    inbox: int | str | None = None
    sort: Sort = Sort.NEWEST
    outcome: str | None = None  # a key of ``OUTCOMES``

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.assignee is not None or self.inbox is not None or self.outcome)


# How the AI's handoff went, as a list filter (``?outcome=``): held back before it escalated or not, why it
# escalated, and what a teammate judged.
OUTCOMES: dict[str, tuple[str, Q]] = {
    "delayed": ("Delayed: held back first", Q(held_back_turns__gt=0)),
    "immediate": ("Escalated at once", Q(held_back_turns=0)),
    "reason-escalate_tool": ("Reason: escalate tool", Q(reason="escalate_tool")),
    "reason-phrase": ("Reason: escalation phrase", Q(reason="phrase")),
    "reason-low_confidence": ("Reason: low confidence", Q(reason="low_confidence")),
    "reason-manual": ("Reason: customer asked", Q(reason="manual")),
    "ai_could_have_answered": ("Judged: AI could have answered", Q(verdict="ai_could_have_answered")),
    "right_to_escalate": ("Judged: right to escalate", Q(verdict="right_to_escalate")),
    "unjudged": ("Not judged yet", Q(verdict="")),
}


def _narrowed(tickets: QuerySet[Ticket], filters: ListFilters) -> QuerySet[Ticket]:
    condition = _list_filter(statuses=list(filters.statuses), assignee=filters.assignee, inbox=filters.inbox)
    if filters.outcome in OUTCOMES:
        condition &= OUTCOMES[filters.outcome][1]
    return tickets.filter(condition)


def _list_tickets(
    *,
    workspace: Workspace,
    inbox_list: InboxList,
    filters: ListFilters,
    now: datetime | None,
    rule_workspace: Workspace | None = None,
) -> QuerySet[Ticket]:
    """The tickets of a list narrowed by the filters, newest first. A segment rule reads its contacts in
    ``rule_workspace``, the list's workspace unless given (a compiled page read binds each value once: the
    workspace is bound twice, as two values)."""
    tickets = ticket_list(
        workspace=workspace, statuses=inbox_list.statuses, assignee=inbox_list.assignee, inbox=inbox_list.inbox
    ).prefetch_related(None)
    if inbox_list.segment:
        tickets = _of_segment(
            tickets, workspace=rule_workspace or workspace, segment=inbox_list.segment, now=now or timezone.now()
        )
    return _narrowed(tickets, filters)


def _with_row_fields(tickets: QuerySet[Ticket], limit: int) -> QuerySet[Ticket]:
    """The rows of a page (contact, company, assignee and inbox joined; the customer's latest message as a
    subquery): one query."""
    latest_user_message = (
        Message.objects.filter(conversation__tickets=OuterRef("pk"), author=Message.Author.USER)
        .order_by("-id")
        .values("body")[:1]
    )
    return (
        tickets.select_related("contact__company", "assignee", "inbox")
        .only(*PAGE_FIELDS)
        .annotate(preview=Subquery(latest_user_message))[:limit]
    )


@dataclass(frozen=True)
class DuePosition:
    """Where a list sorted by first-reply due time stands: the last ticket shown's due key (None for a ticket
    not waiting for a first reply: those come last) and its id (the tie-breaker)."""

    due: datetime | None
    ticket_id: int


# A ticket's place in the due sort: its due time while it waits for a first reply, else NULL (last).
DUE_KEY = Case(
    When(Q(first_replied_at__isnull=True, first_reply_due_at__isnull=False), then=F("first_reply_due_at")),
    default=None,
)


def tickets_by_first_reply_due(tickets: QuerySet[Ticket], *, after: DuePosition | None) -> QuerySet[Ticket]:
    """Tickets waiting for their first reply, due soonest first (ties by id), then the others (oldest first);
    keyset-paged on (due, id) from ``after``, the position of the last ticket shown. The inbox's ``?sort=due``
    and the tickets API's ``sort=due`` both page through this order."""
    tickets = tickets.annotate(due_key=DUE_KEY).order_by(F("due_key").asc(nulls_last=True), "id")
    if after is None:
        return tickets
    if after.due is None:
        return tickets.filter(due_key__isnull=True, pk__gt=after.ticket_id)
    # ``due_key > x`` is never true for a NULL key, so the tickets not waiting are named on their own.
    return tickets.filter(
        Q(due_key__gt=after.due) | Q(due_key=after.due, pk__gt=after.ticket_id) | Q(due_key__isnull=True)
    )


def due_position_get(*, workspace: Workspace, ticket_id: int) -> DuePosition:
    """The due-sort position of one of the workspace's tickets, read whatever list it is in now (a ticket
    closed or reassigned since the page showed it still marks where the next page starts). A ticket that no
    longer exists reads as not waiting: the next page goes on among the tickets not waiting after its id."""
    row = Ticket.objects.filter(workspace=workspace, pk=ticket_id).annotate(due_key=DUE_KEY).values("due_key").first()
    return DuePosition(due=row["due_key"] if row is not None else None, ticket_id=ticket_id)


def inbox_page(
    *,
    workspace: Workspace,
    inbox_list: InboxList,
    before: int | None = None,
    filters: ListFilters | None = None,
    now: datetime | None = None,
) -> tuple[list[Ticket], int | None]:
    """One page of a list, newest (or oldest) first, keyset-paginated on the id (no ``COUNT``, no ``OFFSET``).

    Returns the tickets and the ``before`` id of the next page (None on the last page): one query whatever
    the list's size (two for a later page sorted by due time: the position it starts from).
    """
    filters = filters or ListFilters()
    if filters.sort == Sort.DUE and before is not None:
        after = due_position_get(workspace=workspace, ticket_id=before)
        rows = list(
            _page_tickets(
                workspace=workspace, inbox_list=inbox_list, filters=filters, before=None, after=after, now=now
            )
        )
    else:
        rows = _page_read(workspace=workspace, inbox_list=inbox_list, filters=filters, before=before, now=now)
    next_before = rows[INBOX_PAGE_SIZE - 1].pk if len(rows) > INBOX_PAGE_SIZE else None
    return rows[:INBOX_PAGE_SIZE], next_before


def _page_tickets(
    *,
    workspace: Workspace,
    inbox_list: InboxList,
    filters: ListFilters,
    before: int | None,
    after: DuePosition | None,
    now: datetime | None,
    rule_workspace: Workspace | None = None,
) -> QuerySet[Ticket]:
    """The query of one page of a list, one row more than a page (whether there is a next page)."""
    tickets = _list_tickets(
        workspace=workspace, inbox_list=inbox_list, filters=filters, now=now, rule_workspace=rule_workspace
    )
    if filters.sort == Sort.OLDEST:
        tickets = tickets.order_by("id")
        if before is not None:
            tickets = tickets.filter(pk__gt=before)
    elif filters.sort == Sort.DUE:
        tickets = tickets_by_first_reply_due(tickets, after=after)
    elif before is not None:
        tickets = tickets.filter(pk__lt=before)
    return _with_row_fields(tickets, INBOX_PAGE_SIZE + 1)


# A page's SQL depends on the shape of its list and filters (how many statuses; whether an assignee or a team
# inbox is an id, unset or any; the segment rule; the outcome; the sort; whether a ``before`` id is given) and
# otherwise only on the values bound in it (the workspace, the statuses, the ids). So each shape is compiled
# once per connection (``halo.compiled``) and run with each page's values; building and compiling the
# queryset cost the page more than running it. Built afresh each time instead: a rule that reads the time
# ("N days ago": its SQL holds dates computed from now), and a shape whose compilation a placeholder cannot
# mark (a rule's literal equal to one). Saved views' rules differ from one workspace to the next: the least
# recently used shapes are dropped beyond ``PAGE_READ_SHAPES``.
PAGE_READ_SHAPES = 256
_page_reads: OrderedDict[Hashable, CompiledRead[Ticket] | None] = OrderedDict()
_page_reads_lock = threading.Lock()


def _page_arguments(
    inbox_list: InboxList, filters: ListFilters, before: int | None, value: Callable[[Any], Any]
) -> tuple[InboxList, ListFilters, Any]:
    """The page's list, filters and ``before`` with each value its SQL binds replaced by ``value(it)``, always
    in the same order: what is left untouched (None, ``UNSET``, the rule, the outcome, the sort) is the
    shape."""

    def named(item: int | str | None) -> Any:
        return value(item) if isinstance(item, int) else item  # an id; else None or ``UNSET``

    return (
        InboxList(
            key="",
            label="",
            count=None,
            statuses=[value(str(status)) for status in inbox_list.statuses],
            assignee=named(inbox_list.assignee),
            inbox=named(inbox_list.inbox),
            segment=inbox_list.segment,
        ),
        replace(
            filters,
            statuses=tuple(value(str(status)) for status in filters.statuses),
            assignee=named(filters.assignee),
            inbox=named(filters.inbox),
        ),
        named(before),
    )


def _placeholder(kind: type, index: int) -> Any:
    """The ``index``-th placeholder of a page read, of the value's type: a negative id within the range of every
    id column (ids are positive), or a status no ticket has."""
    return -(1 << 31) + index if kind is int else f"<status {index}>"


def _page_read(
    *, workspace: Workspace, inbox_list: InboxList, filters: ListFilters, before: int | None, now: datetime | None
) -> list[Ticket]:
    """``list(_page_tickets(...))`` (but after the first page of the due sort), through its shape's compiled read."""
    values: list[Any] = [workspace.pk] + ([workspace.pk] if inbox_list.segment else [])  # the rule's own

    def kept(value: Any) -> type:
        values.append(value)
        return type(value)

    shape_list, shape_filters, shape_before = _page_arguments(inbox_list, filters, before, kept)
    statuses, assignee, inbox = tuple(shape_list.statuses), shape_list.assignee, shape_list.inbox
    shape: Hashable = (statuses, assignee, inbox, shape_list.segment, shape_filters, shape_before)
    with _page_reads_lock:
        if shape in _page_reads:
            _page_reads.move_to_end(shape)
            read = _page_reads[shape]
        else:
            reads_time = bool(inbox_list.segment) and rule_reads_time(inbox_list.segment)
            read = None if reads_time else _compiled_page_read(inbox_list, filters, before, values)
            _page_reads[shape] = read
            if len(_page_reads) > PAGE_READ_SHAPES:
                _page_reads.popitem(last=False)
    if read is not None:
        try:
            return read.all(*values)
        except ValueError:  # a placeholder the compilation cannot tell apart: this shape is built afresh
            with _page_reads_lock:
                _page_reads[shape] = None
    return list(
        _page_tickets(workspace=workspace, inbox_list=inbox_list, filters=filters, before=before, after=None, now=now)
    )


def _compiled_page_read(
    inbox_list: InboxList, filters: ListFilters, before: int | None, values: list[Any]
) -> CompiledRead[Ticket]:
    """The compiled read of the page's shape; ``values``: what ``_page_read`` binds, in its order."""

    def build(*placeholders: Any) -> QuerySet[Ticket]:
        bound = iter(placeholders)
        workspace = Workspace(pk=next(bound))
        rule_workspace = Workspace(pk=next(bound)) if inbox_list.segment else None
        page_list, page_filters, page_before = _page_arguments(inbox_list, filters, before, lambda _: next(bound))
        return _page_tickets(
            workspace=workspace,
            inbox_list=page_list,
            filters=page_filters,
            before=page_before,
            after=None,
            now=timezone.now(),  # read by a rule that reads the time only: such a rule is never compiled
            rule_workspace=rule_workspace,
        )

    return CompiledRead(build, *(_placeholder(type(value), index) for index, value in enumerate(values)))


# --- Search ------------------------------------------------------------------------------------------

# How many of the newest tickets whose text matches, and of the matching contacts, a search ranks. A word
# found in more tickets than this is looked for in the newest ones.
SEARCH_TEXT_CANDIDATES = 1000
SEARCH_CONTACT_CANDIDATES = 1000
# How many of the newest tickets a search walks first, looking for its candidates there (see
# ``_ticket_documents_matching``), at the least: the walk covers sqrt(candidates x the workspace's tickets) when
# that is more. A word found in at least candidates / walked of the tickets ends in the walk.
SEARCH_RECENT_TICKETS = 10_000
SEARCH_PAGE_SIZE = 50
# A term found in the contact's name, email or company counts this much more than one found in the text.
CONTACT_WEIGHT = 2.0
TICKET_SEARCH_TABLE = "inbox_ticket_search"


@dataclass(frozen=True)
class SearchHit:
    """Why a ticket matched: the terms found in its contact, and its best matching message (if any)."""

    ticket_id: int
    score: float
    contact_mask: int
    message_id: int | None


@dataclass(frozen=True)
class SearchPage:
    terms: list[str]
    tickets: list[Ticket]
    hits: dict[int, SearchHit]  # by ticket id
    messages: dict[int, str]  # the best matching message's text, by message id
    next_offset: int | None


@dataclass(frozen=True)
class _TextMatch:
    score: float  # 0-1, higher is better; comparable within one backend
    terms_mask: int  # bit i: the ticket's messages contain terms[i]


def ticket_search(
    *,
    workspace: Workspace,
    text: str,
    inbox_list: InboxList | None = None,
    filters: ListFilters | None = None,
    offset: int = 0,
    limit: int = SEARCH_PAGE_SIZE,
    now: datetime | None = None,
) -> SearchPage:
    """Tickets (open and closed alike, unless the list or filters say otherwise) whose contact's name, email
    or company, or whose conversations' messages, contain every word of ``text``, best first.

    A ticket matches when each term is found somewhere in it: in the contact (name, email, company name) or
    in one of its messages (PostgreSQL: the ticket's document in ``inbox_ticket_search``, GIN-indexed;
    SQLite: the messages' FTS5 table). Best first: terms found in the contact weigh ``CONTACT_WEIGHT`` each,
    plus the relevance of the ticket's text; ties go to the newest ticket. At most nine queries whatever the
    workspace's size: matching tickets by text (PostgreSQL: a bounded count, then the tickets; SQLite: the
    messages, then their tickets), matching contacts (all the words, else any of them), the tickets of those
    contacts, which of the candidates the list's conditions and filters keep, the page's rows, and each page
    ticket's best matching message for the snippet.
    """
    terms = search_terms(text)
    empty = SearchPage(terms=terms, tickets=[], hits={}, messages={}, next_offset=None)
    if not terms:
        return empty
    full = (1 << len(terms)) - 1
    by_text = _tickets_matching_text(workspace_id=workspace.pk, terms=terms, limit=SEARCH_TEXT_CANDIDATES)
    contacts = contacts_matching_text(workspace_id=workspace.pk, terms=terms, limit=SEARCH_CONTACT_CANDIDATES)
    if inbox_list is None:
        inbox_list = InboxList(key="all", label="All tickets", count=None, statuses=[], assignee=None)
    tickets = _list_tickets(workspace=workspace, inbox_list=inbox_list, filters=filters or ListFilters(), now=now)
    # The tickets of the matching contacts, then those of all candidates the list and its filters keep: each
    # through an index (an OR of text and contact in one query would scan every ticket of the workspace).
    of_contacts = Ticket.objects.filter(workspace=workspace, contact_id__in=list(contacts)).values_list("pk", flat=True)
    candidate_ids = set(by_text) | set(of_contacts)
    kept = tickets.filter(pk__in=list(candidate_ids)).order_by().values_list("pk", "contact_id")
    scored: list[tuple[float, int, int]] = []  # (score, ticket id, contact mask)
    for ticket_id, contact_id in kept:
        contact_mask = contacts.get(contact_id, 0)
        match = by_text.get(ticket_id)
        if contact_mask | (match.terms_mask if match is not None else 0) != full:
            continue
        score = CONTACT_WEIGHT * bin(contact_mask).count("1") + (match.score if match is not None else 0.0)
        scored.append((score, ticket_id, contact_mask))
    scored.sort(key=lambda row: (-row[0], -row[1]))
    page = scored[offset : offset + limit]
    if not page:
        return empty
    page_ids = [ticket_id for _, ticket_id, _ in page]
    rows = {ticket.pk: ticket for ticket in _with_row_fields(Ticket.objects.filter(pk__in=page_ids), limit)}
    best = _best_messages(ticket_ids=[pk for pk in page_ids if pk in by_text], terms=terms)
    hits = {
        ticket_id: SearchHit(
            ticket_id=ticket_id,
            score=score,
            contact_mask=contact_mask,
            message_id=best[ticket_id][0] if ticket_id in best else None,
        )
        for score, ticket_id, contact_mask in page
    }
    return SearchPage(
        terms=terms,
        tickets=[rows[pk] for pk in page_ids if pk in rows],
        hits=hits,
        messages=dict(best.values()),
        next_offset=offset + limit if len(scored) > offset + limit else None,
    )


def _tickets_matching_text(*, workspace_id: int, terms: list[str], limit: int) -> dict[int, _TextMatch]:
    """The newest tickets of a workspace whose messages contain any of ``terms`` (at most ``limit``), by id."""
    if connection.vendor == "postgresql":
        return _ticket_documents_matching(workspace_id=workspace_id, terms=terms, limit=limit)
    # SQLite: the newest matching messages (FTS5), gathered by ticket; a ticket's best message gives its score.
    by_conversation: dict[int, list[MessageMatch]] = {}
    for message in message_matches(workspace_id=workspace_id, terms=terms, limit=limit):
        by_conversation.setdefault(message.conversation_id, []).append(message)
    found: dict[int, _TextMatch] = {}
    through = Ticket.conversations.through.objects.filter(conversation_id__in=list(by_conversation))
    for ticket_id, conversation_id in through.values_list("ticket_id", "conversation_id"):
        for message in by_conversation[conversation_id]:
            before = found.get(ticket_id, _TextMatch(score=0.0, terms_mask=0))
            found[ticket_id] = _TextMatch(
                score=max(before.score, message.score), terms_mask=before.terms_mask | message.terms_mask
            )
    return found


def _ticket_documents_matching(*, workspace_id: int, terms: list[str], limit: int) -> dict[int, _TextMatch]:
    """At most two queries. First the newest W tickets are walked newest first (the (workspace, ticket id)
    index, stopping at ``limit`` matches): a common word ends there. A rarer word has fewer than ``limit``
    matches among them, so it has at most about limit * N / W in all (N: the workspace's tickets): every one is
    read through the GIN index, and the newest ``limit`` kept. (PostgreSQL cannot estimate a prefix query's
    frequency, so it is not left to choose: it would walk the whole workspace for a word found in no ticket,
    or build the GIN bitmap of a word found in most of them.)

    W = sqrt(limit * N), at least ``SEARCH_RECENT_TICKETS``: the longest walk (W rows: a word in no ticket) and
    the most the index reads (limit * N / W documents: a word just too rare for the walk) both grow as the
    square root of the workspace, where a fixed W would leave the index to read a fixed share of all its
    tickets. N comes from the planner's statistics of the table (its rows, and the workspace's share of them
    among its most common values), read inside the walk's query: no count is run. Without statistics (a table
    never analysed, a workspace too small to be among the most common) the walk is the floor."""
    query = " | ".join(pg_term(term) for term in terms)
    walk = (
        "SELECT greatest(%s, sqrt(%s * greatest(c.reltuples, 0) * coalesce(("
        "SELECT u.share FROM pg_stats s, unnest(s.most_common_vals::text::bigint[], s.most_common_freqs) "
        "AS u(id, share) WHERE s.schemaname = current_schema() AND s.tablename = %s "
        "AND s.attname = 'workspace_id' AND u.id = %s), 0)))::bigint FROM pg_class c WHERE c.oid = %s::regclass"
    )
    recent = (
        f"SELECT ticket_id, document FROM (SELECT ticket_id, document FROM {TICKET_SEARCH_TABLE} "  # noqa: S608  # nosec B608
        f"WHERE workspace_id = %s ORDER BY ticket_id DESC LIMIT ({walk})) AS recent "
        "WHERE document @@ to_tsquery('english', %s) ORDER BY ticket_id DESC LIMIT %s"
    )
    walk_params: list[str | int] = [
        SEARCH_RECENT_TICKETS,
        limit,
        TICKET_SEARCH_TABLE,
        workspace_id,
        TICKET_SEARCH_TABLE,
    ]
    rows = _ranked_documents(recent, [workspace_id, *walk_params, query, limit], terms=terms)
    if len(rows) == limit:
        return rows
    # ``ticket_id + 0`` keeps the planner off the backward walk: the matches are few, the GIN index finds them.
    every = (
        f"SELECT ticket_id, document FROM {TICKET_SEARCH_TABLE} "  # noqa: S608  # nosec B608
        "WHERE workspace_id = %s AND document @@ to_tsquery('english', %s) ORDER BY ticket_id + 0 DESC LIMIT %s"
    )
    return _ranked_documents(every, [workspace_id, query, limit], terms=terms)


def _ranked_documents(source: str, params: list[str | int], *, terms: list[str]) -> dict[int, _TextMatch]:
    """The tickets of ``source`` (a query of ticket ids and documents), each with its rank for ``terms`` and
    the mask of the terms it holds: computed for those rows only, outside the source's ``LIMIT``."""
    query = " | ".join(pg_term(term) for term in terms)
    # A term that English drops as a stop word ("the") has an empty query: it counts as found everywhere.
    mask = " + ".join(
        f"(CASE WHEN numnode(to_tsquery('english', %s)) = 0 OR s.document @@ to_tsquery('english', %s) "
        f"THEN {1 << index} ELSE 0 END)"
        for index in range(len(terms))
    )
    sql = f"SELECT s.ticket_id, ts_rank(s.document, to_tsquery('english', %s)), {mask} FROM ({source}) AS s"  # noqa: S608  # nosec B608
    ranked_params: list[str | int] = [query]
    for term in terms:
        ranked_params += [pg_term(term), pg_term(term)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ranked_params, *params])
        rows = cursor.fetchall()
    return {ticket_id: _TextMatch(score=_squash(rank), terms_mask=int(bits)) for ticket_id, rank, bits in rows}


def _best_messages(*, ticket_ids: list[int], terms: list[str]) -> dict[int, tuple[int, str]]:
    """Each ticket's most relevant message containing any of ``terms`` (the newest on a tie), as {ticket id:
    (message id, body)}: the search row's snippet. One query, over the messages of these tickets only."""
    if not ticket_ids:
        return {}
    best: dict[int, tuple[int, str]] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The page's messages first (a handful of tickets' conversations), then their documents by key: the
            # planner must not start from the GIN index, where a common word has a million entries.
            query = " | ".join(pg_term(term) for term in terms)
            sql = (
                "WITH page AS MATERIALIZED (SELECT tc.ticket_id, m.id, m.body "  # noqa: S608  # nosec B608
                "FROM inbox_ticket_conversations tc JOIN agents_message m ON m.conversation_id = tc.conversation_id "
                "WHERE tc.ticket_id = ANY(%s::bigint[])) "
                "SELECT DISTINCT ON (page.ticket_id) page.ticket_id, page.id, page.body "
                f"FROM page JOIN {MESSAGE_SEARCH_TABLE} s ON s.message_id = page.id "
                "WHERE s.document @@ to_tsquery('english', %s) "
                "ORDER BY page.ticket_id, ts_rank(s.document, to_tsquery('english', %s)) DESC, page.id DESC"
            )
            cursor.execute(sql, [ticket_ids, query, query])
            for ticket_id, message_id, body in cursor.fetchall():
                best[ticket_id] = (message_id, body)
            return best
        marks = ", ".join("%s" for _ in ticket_ids)
        cursor.execute(
            f"SELECT tc.ticket_id, m.id, m.body, -bm25({MESSAGE_FTS_TABLE}) AS relevance "  # noqa: S608  # nosec B608
            f"FROM {MESSAGE_FTS_TABLE} JOIN agents_message m ON m.id = {MESSAGE_FTS_TABLE}.rowid "
            "JOIN inbox_ticket_conversations tc ON tc.conversation_id = m.conversation_id "
            f"WHERE {MESSAGE_FTS_TABLE} MATCH %s AND tc.ticket_id IN ({marks}) ORDER BY relevance, m.id",
            [fts5_match(terms), *ticket_ids],
        )
        for ticket_id, message_id, body, _ in cursor.fetchall():
            best[ticket_id] = (message_id, body)  # ascending relevance: the best is written last
    return best


def _squash(rank: float | None) -> float:
    raw = max(float(rank or 0.0), 0.0)
    return raw / (raw + 1.0)


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    conversations: list[Conversation]  # each with ``messages`` prefetched, oldest first
    escalations: list[EscalationEvent]  # oldest first
    notes: list[TicketNote]
    teammates: list[User]  # users of the workspace, each with ``available`` (their membership's: not away)
    inboxes: list[CustomInbox]


# The ticket page's reads, compiled once per connection (``halo.compiled``; the placeholders are ids no row has:
# 0, and negative ones where a read binds several).
_TICKET_CONVERSATIONS = CompiledRead(
    lambda ticket_id: Conversation.objects.filter(tickets=ticket_id).order_by("created_at", "id"), 0
)
_TICKET_ESCALATIONS = CompiledRead(
    lambda ticket_id: (
        EscalationEvent.objects.filter(ticket_id=ticket_id)
        .select_related("conversation", "turn")
        .order_by("created_at", "id")
    ),
    0,
)
_TICKET_NOTES = CompiledRead(
    lambda ticket_id: TicketNote.objects.filter(ticket_id=ticket_id).select_related("author").order_by("id"), 0
)
_TEAMMATES_AVAILABLE: CompiledRead[User] = CompiledRead(
    lambda workspace_id: (
        get_user_model()
        .objects.filter(memberships__workspace_id=workspace_id, is_active=True)
        .annotate(available=F("memberships__available"))  # the membership the filter joined: this workspace's
        .order_by("first_name", "username")
    ),
    0,
)


@functools.lru_cache(maxsize=16)
def _ticket_among(workspaces: int) -> CompiledRead[Ticket]:
    """The ticket page's ticket among ``workspaces`` workspaces (the teammate's), compiled once per number."""

    def build(ticket_id: int, *workspace_ids: int) -> QuerySet[Ticket]:
        tickets = Ticket.objects.filter(workspace_id__in=workspace_ids, pk=ticket_id)
        related = tickets.select_related("workspace", "contact__company", "assignee", "inbox", "agent", "verdict_by")
        return related[:1]  # in ``Ticket.Meta.ordering``, as ``first()`` orders

    return CompiledRead(build, 0, *range(-1, -1 - workspaces, -1))


def ticket_detail_get(*, workspace_ids: list[int], ticket_id: int) -> TicketDetail | None:
    """A ticket with everything its page shows, if it belongs to one of ``workspace_ids``; else None."""
    among = list(dict.fromkeys(workspace_ids))  # each bound once, as ``__in`` binds them
    ticket = _ticket_among(len(among)).first(ticket_id, *among) if among else None
    if ticket is None:
        return None
    conversations = _TICKET_CONVERSATIONS.all(ticket.pk)
    prefetch_related_objects(
        conversations, Prefetch("messages", queryset=Message.objects.select_related("teammate", "turn").order_by("id"))
    )
    return TicketDetail(
        ticket=ticket,
        conversations=conversations,
        escalations=_TICKET_ESCALATIONS.all(ticket.pk),
        notes=_TICKET_NOTES.all(ticket.pk),
        teammates=_TEAMMATES_AVAILABLE.all(ticket.workspace_id),
        inboxes=_CUSTOM_INBOXES.all(ticket.workspace_id),
    )


@dataclass(frozen=True)
class CustomerContext:
    """What the team knows of a ticket's customer: the contact (with its company), the pages they visited
    lately, their other tickets and their conversations that are not on this ticket (newest first)."""

    contact: Contact
    page_views: list[PageView]
    past_tickets: list[Ticket]
    other_conversations: list[Conversation]


CUSTOMER_RECENT = 5


_PAGE_VIEWS_RECENT = CompiledRead(
    lambda contact_id: PageView.objects.filter(contact_id=contact_id).order_by("-occurred_at", "-id")[:CUSTOMER_RECENT],
    0,
)
_PAST_TICKETS = CompiledRead(
    lambda contact_id, ticket_id: (
        Ticket.objects.filter(contact_id=contact_id)
        .exclude(pk=ticket_id)
        .only("status", "reason", "created_at", "contact_id")
        .order_by("-id")[:CUSTOMER_RECENT]
    ),
    0,
    -1,
)
_OTHER_CONVERSATIONS = CompiledRead(
    lambda contact_id, ticket_id: (
        Conversation.objects.filter(contact_id=contact_id)
        .exclude(tickets=ticket_id)
        .select_related("agent")
        .order_by("-updated_at", "-id")[:CUSTOMER_RECENT]
    ),
    0,
    -1,
)


def customer_context_get(*, ticket: Ticket) -> CustomerContext:
    """Three queries: page views, other tickets, other conversations (the contact and company come with
    the ticket). Compiled once per connection, as the ticket page's other reads."""
    contact = ticket.contact
    return CustomerContext(
        contact=contact,
        page_views=_PAGE_VIEWS_RECENT.all(contact.pk),
        past_tickets=_PAST_TICKETS.all(contact.pk, ticket.pk),
        other_conversations=_OTHER_CONVERSATIONS.all(contact.pk, ticket.pk),
    )


@dataclass(frozen=True)
class EscalationFocus:
    """The latest escalation of a ticket as the teammate needs it: what the customer asked right before it,
    and the knowledge sources of the AI turn that escalated (or, for a "talk to a human", of the AI's last turn
    before it)."""

    needed: str | None
    sources: list[KnowledgeSource]


def escalation_focus_get(*, detail: "TicketDetail") -> EscalationFocus:
    """From what ``ticket_detail_get`` loaded, plus one query when the escalation was a manual one."""
    if not detail.escalations:
        return EscalationFocus(needed=None, sources=[])
    latest = detail.escalations[-1]
    messages: list[Message] = next(
        (list(c.messages.all()) for c in detail.conversations if c.pk == latest.conversation_id), []
    )
    turn = latest.turn
    if turn is None:
        turn = (
            AgentTurn.objects.filter(conversation_id=latest.conversation_id, created_at__lte=latest.created_at)
            .order_by("-id")
            .first()
        )
    cutoff = turn.message_id if turn is not None and turn.message_id is not None else None
    needed = None
    for message in messages:
        if cutoff is not None and message.pk > cutoff:
            break
        if cutoff is None and message.created_at > latest.created_at:
            break
        if message.author == Message.Author.USER:
            needed = message.body
    return EscalationFocus(needed=needed, sources=sources_dedupe(turn.sources) if turn is not None else [])


def inbox_next_ticket_id(
    *, workspace: Workspace, inbox_list: InboxList, after_id: int, now: datetime | None = None
) -> int | None:
    """The ticket to open after ``after_id`` in a list ("Close and next"): the next one down (older), else the
    newest; None when the list holds nothing else. One or two queries."""
    tickets = _list_tickets(workspace=workspace, inbox_list=inbox_list, filters=ListFilters(), now=now).exclude(
        pk=after_id
    )
    below: int | None = tickets.filter(pk__lt=after_id).values_list("pk", flat=True).first()
    return below if below is not None else tickets.values_list("pk", flat=True).first()


SUGGESTION_TEMPLATE = (
    "Hi {{{{ customer.first_name }}}}, thanks for your patience.\n\n{passage}\n\n{more}"
    "Let me know if that answers it, or if anything is still unclear."
)


def ticket_reply_suggestion(*, workspace: Workspace, focus: EscalationFocus) -> str | None:
    """A draft reply for the teammate to edit, built from the knowledge passages behind the escalating turn:
    the passage of the help-center article that best matches what the customer needed, preferring the
    articles the AI had found, with a link to it. None when nothing in the help center matches. Placeholders
    are left for ``inbox.macros.macro_render``. One query (the knowledge search)."""
    if not focus.needed:
        return None
    hits = knowledge_search(workspace=workspace, text=focus.needed, limit=5)
    if not hits:
        return None
    tried = {source.title for source in focus.sources} | {source.url for source in focus.sources if source.url}
    best = next((hit for hit in hits if hit.title in tried or (hit.url and hit.url in tried)), hits[0])
    more = f"More in our help center: {best.title}" + (f" ({best.url})" if best.url else "") + ".\n\n"
    return SUGGESTION_TEMPLATE.format(passage=best.snippet.strip("…").strip(), more=more)


_MACROS = CompiledRead(lambda workspace_id: Macro.objects.filter(workspace_id=workspace_id).order_by("name", "id"), 0)


def macro_list(*, workspace_id: int) -> list[Macro]:
    return _MACROS.all(workspace_id)


def custom_inbox_get(*, workspace: Workspace, inbox_id: int) -> CustomInbox | None:
    """One of the workspace's team inboxes with its members' ids (two queries)."""
    return (
        CustomInbox.objects.filter(workspace=workspace, pk=inbox_id)
        .prefetch_related(Prefetch("memberships", queryset=InboxMember.objects.order_by("user_id")))
        .first()
    )


# Read on every widget message of a handed-off conversation: compiled once per connection (``halo.compiled``;
# the placeholder is an id no conversation has).
_TICKET_OPEN_OF_CONVERSATION = CompiledRead(
    lambda conversation_id: Ticket.objects.filter(conversations=conversation_id).exclude(status=Ticket.Status.CLOSED)[
        :1
    ],
    0,
)


def ticket_open_of_conversation(*, conversation: Conversation) -> Ticket | None:
    """The ticket that is not closed holding this conversation, if any (at most one: a conversation's
    contact has at most one ticket that is not closed)."""
    return _TICKET_OPEN_OF_CONVERSATION.first(conversation.pk)


# --- Reply times -------------------------------------------------------------------------------------

# How many of the latest answered tickets the measured reply time looks at, and how many it needs.
REPLY_TIME_SAMPLE = 500
REPLY_TIME_MIN_TICKETS = 3


def first_reply_median_minutes(*, workspace: Workspace, schedule: Schedule, now: datetime) -> float | None:
    """The median first-reply time of the workspace's tickets opened in the last 7 days, in business minutes
    (a ticket opened at night and answered at 09:05 waited 5 minutes of the team's time), or None with
    fewer than ``REPLY_TIME_MIN_TICKETS`` answered. One query, over the latest ``REPLY_TIME_SAMPLE``."""
    pairs = list(
        Ticket.objects.filter(
            workspace=workspace, created_at__gte=now - timedelta(days=7), first_replied_at__isnull=False
        )
        .order_by("-id")
        .values_list("created_at", "first_replied_at")[:REPLY_TIME_SAMPLE]
    )
    if len(pairs) < REPLY_TIME_MIN_TICKETS:
        return None
    return statistics.median(
        business_minutes_between(schedule, opened, replied) for opened, replied in pairs if replied is not None
    )


def ticket_rated_of_conversation(*, conversation: Conversation) -> Ticket | None:
    """The latest closed ticket holding this conversation, rated or not: the one its customer may rate while
    no other ticket holds the conversation open (the caller checks that) and it is not rated yet."""
    return (
        Ticket.objects.filter(conversations=conversation, status=Ticket.Status.CLOSED)
        .order_by("-closed_at", "-id")
        .first()
    )
