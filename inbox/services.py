"""Writes of the inbox app, the only writer of tickets and their history.

``ticket_open_or_merge`` is how an escalation lands: it creates the contact's ticket or merges into the one
that is not closed, records the ``EscalationEvent``, raises ``open`` to ``priority`` (never lowers it), and
records the after-commit work (the AI summary, the live event, Slack and the assignee's email) in the same
transaction. The partial unique constraint ``ticket_one_open_per_contact`` is the arbiter under
concurrency: an escalation that loses the race to create merges into the winner's ticket.

``ticket_update`` owns the other transitions — status, assignee, inbox, snooze — and validates like the
rest of the product (an assignee must be a member of the ticket's workspace, an inbox must belong to it).
Closing a ticket hands its conversations back to the AI; re-opening a closed one hands them off again and
is refused while the contact has another ticket that is not closed. Both paths lock the ticket row, so a
close and a merge into the same ticket happen one after the other, never interleaved.

The staff inbox's writes live here too (``ticket_reply``, ``ticket_note_add``, ``ticket_verdict_set``,
``saved_view_create``/``saved_view_delete``, ``macro_create``/``macro_update``/``macro_delete``;
``tickets_bulk_update`` applies one change to several tickets, each through ``ticket_update``), and every
write that an open inbox page should show records its live event (``inbox.events``) in its own transaction;
an assignment records the assignee's email (``inbox.notifications``). ``conversation_message_publish`` shows a
customer's message on a handed-off conversation in its ticket's open pages.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.events import conversation_status_broadcast, teammate_display_name
from agents.models import Conversation, Message
from agents.selectors import turns_held_back_count
from agents.services import conversations_hand_back, conversations_hand_off, message_post
from agents.turns import KnowledgeSource, ToolCall, sources_dedupe
from halo import clock
from halo.inserts import insert, insert_unless_conflict
from halo.models import Contact, Membership, Workspace
from halo.outbox import outbox_enqueue
from halo.prepared import prepared_cursor
from halo.selectors import BusinessHoursSettings, business_hours_get
from halo.services import membership_update
from halo.webhooks.events import WebhookEvent, webhook_event_record
from inbox.events import MESSAGE_NEW, NOTE_NEW, TICKET_CREATED, TICKET_MERGED, TICKET_UPDATED, inbox_event_record
from inbox.macros import PLACEHOLDERS, macro_unknown_placeholders
from inbox.models import CustomInbox, EscalationEvent, InboxCount, InboxMember, Macro, SavedView, Ticket, TicketNote
from inbox.notifications import notification_assignment, notifications_first_reply_due, notifications_ticket_created
from inbox.notifications.replies import reply_email_schedule
from inbox.sla import WARNING_LEAD, first_reply_due
from inbox.summaries import summary_of_new_ticket, ticket_summary_refresh

SUMMARY_TASK = "inbox.tasks.ticket_summarize"
TICKET_EDITABLE_FIELDS = ("status", "assignee", "inbox", "snoozed_until")
# How many due snoozed tickets one run of the wake-up job opens (the next run takes the rest).
WAKE_BATCH = 500
# How many tools a ticket remembers (the newest).
TOOLS_TRIED_KEPT = 100


# --- Escalations land here ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    """One escalation as the inbox records it: why, with what AI context, under which settings, and where
    a new ticket goes (``assignee_id`` or ``inbox_id``)."""

    agent_id: int
    reason: str
    confidence: int | None
    turn_id: int | None
    mode: str
    settings_version: int | None
    priority: bool
    assignee_id: int | None
    inbox_id: int | None
    knowledge_sources: tuple[KnowledgeSource, ...]
    tools_tried: tuple[ToolCall, ...]
    at: datetime
    # The workspace's business hours, when the caller read them already (the first-reply due time needs them).
    business_hours: BusinessHoursSettings | None = None
    # AI turns held back in the conversation since its last hand-back, when the caller already knows (the
    # judged turn's history); None: counted here when a ticket opens.
    held_back_turns: int | None = None


@dataclass(frozen=True)
class TicketOpened:
    """What an escalation did: the ticket it created or merged into, and its history row."""

    ticket: Ticket
    created: bool
    event: EscalationEvent


def ticket_open_or_merge(
    *,
    conversation: Conversation,
    contact: Contact,
    escalation: Escalation,
    contact_is_new: bool = False,
    transcript: tuple[tuple[str, str], ...] | None = None,
) -> TicketOpened:
    """Create the contact's ticket or merge into the one that is not closed, and record the escalation.

    Call inside the escalation's transaction (the conversation's hand-off commits with it). Race-free: the
    contact's open ticket is locked while it is merged into, and a losing insert merges into the winner's.
    ``contact_is_new``: the contact was inserted by the caller's transaction, so no other transaction can see
    it yet: it has no ticket and nobody can race for one. Otherwise the INSERT is one that the partial unique
    constraint may refuse (``insert_unless_conflict``: no lookup before it, no savepoint around it); refused,
    the contact's open ticket is read locked and merged into.

    ``transcript``: every message of the conversation as (author, body), when the caller holds them all (a
    conversation that starts with its handoff). A ticket it creates then gets its builtin summary in the same
    INSERT (``summary_of_new_ticket``) instead of a summary job; a merge, or an LLM summarizer, still records
    the job.
    """
    at = escalation.at
    summary = None
    if transcript is not None:
        summary = summary_of_new_ticket(
            agent=conversation.agent if Conversation.agent.is_cached(conversation) else None,
            reason=escalation.reason,
            confidence=escalation.confidence,
            transcript=transcript,
            tools_tried=[tool.to_json(with_result=False) for tool in escalation.tools_tried],
            knowledge_sources=[source.to_json() for source in escalation.knowledge_sources],
        )
    business_hours = escalation.business_hours or business_hours_get(workspace=conversation.workspace)
    if escalation.held_back_turns is None:  # for a ticket it creates (read before the INSERT decides that)
        escalation = replace(escalation, held_back_turns=turns_held_back_count(conversation=conversation))
    with transaction.atomic(savepoint=False):
        if contact_is_new:
            ticket = _ticket_new(
                conversation=conversation,
                contact=contact,
                escalation=escalation,
                summary=summary,
                business_hours=business_hours,
            )
            insert(ticket)
            created = True
        else:
            ticket, created = _ticket_insert_or_lock(
                conversation=conversation,
                contact=contact,
                escalation=escalation,
                summary=summary,
                business_hours=business_hours,
            )
        before = None if created else _cell(ticket)
        if not created:
            _ticket_merge(ticket=ticket, escalation=escalation, business_hours=business_hours)
        if created:  # a new ticket holds no conversation yet
            insert(Ticket.conversations.through(ticket=ticket, conversation=conversation))
        else:
            ticket.conversations.add(conversation)
        event = insert(
            EscalationEvent(
                workspace_id=conversation.workspace_id,
                ticket=ticket,
                conversation=conversation,
                turn_id=escalation.turn_id,
                reason=escalation.reason,
                confidence=escalation.confidence,
                mode=escalation.mode,
                priority_matched=escalation.priority,
                outcome=EscalationEvent.Outcome.CREATED if created else EscalationEvent.Outcome.MERGED,
                settings_version=escalation.settings_version,
                created_at=at,
            )
        )
        if not Ticket.workspace.is_cached(ticket) and Conversation.workspace.is_cached(conversation):
            ticket.workspace = conversation.workspace
        counted = False
        if created and ticket.inbox_id is not None and ticket.assignee_id is None:
            # The inbox's policy assigns it (or it waits behind older tickets for a place to free up); the new
            # ticket's cell is taken there, with those of the waiting tickets it assigns.
            _inbox_assign_waiting(inbox_id=ticket.inbox_id, now=at, new_ticket=ticket)
            counted = True
        if ticket.summary_state != Ticket.SummaryState.READY:  # a merge, or no summary written with the ticket
            outbox_enqueue(workspace=ticket.workspace, task=SUMMARY_TASK, payload={"ticket_id": ticket.pk})
        if created:
            notifications_ticket_created(ticket=ticket)
        # Last: the sidebar's cells, then the event, which takes the workspace's counter row, locked until
        # commit (concurrent escalations into one workspace wait on them as briefly as possible).
        if not counted:
            _counts_move(workspace_id=ticket.workspace_id, before=before, after=_cell(ticket))
        _ticket_event(ticket=ticket, type=TICKET_CREATED if created else TICKET_MERGED, conversation_id=conversation.pk)
    return TicketOpened(ticket=ticket, created=created, event=event)


def _ticket_new(
    *,
    conversation: Conversation,
    contact: Contact,
    escalation: Escalation,
    business_hours: BusinessHoursSettings,
    summary: str | None = None,
) -> Ticket:
    at = escalation.at
    return Ticket(
        summary=summary or "",
        summary_state=Ticket.SummaryState.READY if summary is not None else Ticket.SummaryState.PENDING,
        workspace_id=conversation.workspace_id,
        contact=contact,
        agent_id=escalation.agent_id,
        status=Ticket.Status.PRIORITY if escalation.priority else Ticket.Status.OPEN,
        assignee_id=escalation.assignee_id,
        inbox_id=escalation.inbox_id,
        reason=escalation.reason,
        confidence=escalation.confidence,
        knowledge_sources=[source.to_json() for source in escalation.knowledge_sources],
        tools_tried=[tool.to_json(with_result=False) for tool in escalation.tools_tried],
        settings_version=escalation.settings_version,
        held_back_turns=escalation.held_back_turns or 0,
        first_reply_due_at=first_reply_due(business_hours=business_hours, opened_at=at, priority=escalation.priority),
        created_at=at,
        updated_at=at,
    )


# A ticket found open by the INSERT and closed before it could be locked: the INSERT is tried again (a close
# that wins twice in a row, on the same contact, within two statements, is not a real pattern).
OPEN_TICKET_ATTEMPTS = 3


def _ticket_insert_or_lock(
    *,
    conversation: Conversation,
    contact: Contact,
    escalation: Escalation,
    summary: str | None,
    business_hours: BusinessHoursSettings,
) -> tuple[Ticket, bool]:
    """The constraint decides, in one statement: a new ticket (True), or the contact's ticket that is not
    closed, locked (False)."""
    for _ in range(OPEN_TICKET_ATTEMPTS):
        ticket = _ticket_new(
            conversation=conversation,
            contact=contact,
            escalation=escalation,
            summary=summary,
            business_hours=business_hours,
        )
        if insert_unless_conflict(ticket, constraint="ticket_one_open_per_contact"):
            return ticket, True
        found = _contact_open_ticket_locked(contact)
        if found is not None:
            found.contact = contact  # the caller's instance: its display name needs no read
            return found, False
    raise IntegrityError("The contact's open ticket kept closing during the escalation.")


def _contact_open_ticket_locked(contact: Contact) -> Ticket | None:
    return Ticket.objects.select_for_update().filter(contact=contact).exclude(status=Ticket.Status.CLOSED).first()


def _ticket_merge(*, ticket: Ticket, escalation: Escalation, business_hours: BusinessHoursSettings) -> None:
    ticket.escalation_count += 1
    if escalation.priority and ticket.status == Ticket.Status.OPEN:
        ticket.status = Ticket.Status.PRIORITY  # raised, never lowered
        if ticket.first_replied_at is None:
            # A priority ticket's promise is the shorter one, from the ticket's opening (never pushed later).
            sooner = first_reply_due(business_hours=business_hours, opened_at=ticket.created_at, priority=True)
            if sooner is not None and (ticket.first_reply_due_at is None or sooner < ticket.first_reply_due_at):
                ticket.first_reply_due_at = sooner
    ticket.knowledge_sources = [
        source.to_json()
        for source in sources_dedupe(
            [*KnowledgeSource.list_from_json(ticket.knowledge_sources), *escalation.knowledge_sources]
        )
    ]
    tools = [*ticket.tools_tried, *(tool.to_json(with_result=False) for tool in escalation.tools_tried)]
    ticket.tools_tried = tools[-TOOLS_TRIED_KEPT:]
    ticket.summary_state = Ticket.SummaryState.PENDING
    ticket.updated_at = escalation.at
    ticket.save(
        update_fields=[
            "escalation_count",
            "status",
            "first_reply_due_at",
            "knowledge_sources",
            "tools_tried",
            "summary_state",
            "updated_at",
        ]
    )


def ticket_summarize(*, ticket_id: int) -> Ticket:
    """Fill in the ticket's AI summary and tell open inbox pages (``inbox.summaries``; idempotent)."""
    return ticket_summary_refresh(ticket_id=ticket_id)


# --- Changing a ticket -------------------------------------------------------------------------------


def _validate(ticket: Ticket) -> None:
    errors: dict[str, str] = {}
    if (
        ticket.assignee_id is not None
        and not Membership.objects.filter(user_id=ticket.assignee_id, workspace_id=ticket.workspace_id).exists()
    ):
        errors["assignee"] = "The assignee must be a member of this workspace."
    if (
        ticket.inbox_id is not None
        and not CustomInbox.objects.filter(pk=ticket.inbox_id, workspace_id=ticket.workspace_id).exists()
    ):
        errors["inbox"] = "This inbox belongs to another workspace."
    if ticket.status not in Ticket.Status.values:
        errors["status"] = f"Choose one of: {', '.join(Ticket.Status.values)}."
    if errors:
        raise ValidationError(errors)


def ticket_update(
    *, ticket: Ticket, data: dict[str, Any], actor: User | None = None, seen_escalation_count: int | None = None
) -> Ticket:
    """Change a ticket's status, assignee, inbox or snooze time. ``assignee``/``inbox`` take an id or None.

    ``snoozed_until`` (a future time, or None for "until the customer writes") goes with the snoozed status;
    leaving that status clears it. ``actor`` (the teammate who made the change, if any) is not emailed about
    assigning themselves.

    A close is refused when an escalation merged into the ticket since the caller looked at it (its
    ``escalation_count`` moved on from ``seen_escalation_count``, by default the count of the ``ticket``
    instance given): closing would hand that escalation's conversation back to the AI right after the
    customer was told a teammate takes over. The ticket's row lock orders a close and a merge; this check
    catches the merge that came between the teammate's look and the lock.
    """
    unknown = set(data) - set(TICKET_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    now = timezone.now()
    with transaction.atomic():
        # The workspace and contact come with the row (only the ticket is locked): its events read them.
        locked = Ticket.objects.select_for_update(of=("self",)).select_related("workspace", "contact").get(pk=ticket.pk)
        was_closed = locked.status == Ticket.Status.CLOSED
        before = (locked.status, locked.assignee_id, locked.inbox_id)
        cell_before = _cell(locked)
        if "status" in data:
            locked.status = data["status"]
        if "snoozed_until" in data:
            if locked.status != Ticket.Status.SNOOZED:
                raise ValidationError({"snoozed_until": "Only a snoozed ticket has a wake-up time."})
            if data["snoozed_until"] is not None and data["snoozed_until"] <= now:
                raise ValidationError({"snoozed_until": "The wake-up time must be in the future."})
            locked.snoozed_until = data["snoozed_until"]
        elif locked.status != Ticket.Status.SNOOZED:
            locked.snoozed_until = None
        if "assignee" in data:
            locked.assignee_id = getattr(data["assignee"], "pk", data["assignee"])
        if "inbox" in data:
            locked.inbox_id = getattr(data["inbox"], "pk", data["inbox"])
        _validate(locked)
        closing = locked.status == Ticket.Status.CLOSED and not was_closed
        seen = ticket.escalation_count if seen_escalation_count is None else seen_escalation_count
        if closing and locked.escalation_count != seen:
            raise ValidationError(
                {"status": "The customer escalated again a moment ago: read their latest message before closing."}
            )
        reopening = was_closed and locked.status != Ticket.Status.CLOSED
        if closing:
            locked.closed_at = now
        elif reopening:
            locked.closed_at = None
            locked.reopened_count += 1
        locked.updated_at = now
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise ValidationError(
                {"status": "This contact already has a ticket that is not closed; work on that one instead."}
            ) from None
        if closing:
            _conversations_hand_back(ticket=locked, now=now, actor=actor)
        elif reopening:
            conversations_hand_off(
                workspace=locked.workspace,
                conversation_ids=list(locked.conversations.values_list("pk", flat=True)),
                now=now,
                ticket_id=locked.pk,
            )
        changed = [
            name
            for name, old, new in zip(
                ("status", "assignee", "inbox"),
                before,
                (locked.status, locked.assignee_id, locked.inbox_id),
                strict=True,
            )
            if old != new
        ]
        if changed:
            _counts_move(workspace_id=locked.workspace_id, before=cell_before, after=_cell(locked))
            _ticket_event(ticket=locked, type=TICKET_UPDATED, changed=changed)
        if "assignee" in changed and locked.assignee_id is not None:
            notification_assignment(ticket=locked, actor_id=actor.pk if actor is not None else None)
        freed = before[1] is not None and (closing or "assignee" in changed)
        waits = locked.inbox_id is not None and locked.assignee_id is None and locked.status != Ticket.Status.CLOSED
        if changed and (freed or waits):
            _assignment_rerun(workspace_id=locked.workspace_id)
    return locked


def _conversations_hand_back(*, ticket: Ticket, now: datetime, actor: User | None) -> None:
    """Closing a ticket gives its conversations back to the AI, unless another open ticket holds them. The
    widget of each says so live: a closing notice (a system message, in the catch-up too) and the new status
    with the ticket to rate (``agents.events.conversation_status_broadcast``), both after commit."""
    conversations = list(
        ticket.conversations.filter(status=Conversation.Status.HANDED_OFF)
        .exclude(tickets__in=Ticket.objects.exclude(pk=ticket.pk).exclude(status=Ticket.Status.CLOSED))
        .select_related("agent")
    )
    conversations_hand_back(
        workspace=ticket.workspace,
        conversation_ids=[conversation.pk for conversation in conversations],
        now=now,
        ticket_id=ticket.pk,
    )
    for conversation in conversations:
        conversation.status = Conversation.Status.OPEN
        message_post(
            conversation=conversation, author=Message.Author.SYSTEM, body=closing_notice(conversation, actor=actor)
        )
        conversation_status_broadcast(
            conversation_id=conversation.pk, status=conversation.status, rating_ticket_id=ticket.pk
        )


def closing_notice(conversation: Conversation, *, actor: User | None) -> str:
    """What the customer reads when a teammate closes their ticket."""
    who = teammate_display_name(actor) if actor is not None else "Our team"
    return f"{who} closed this conversation. {conversation.agent.name} is here again if you need anything else."


# --- The sidebar's counts ------------------------------------------------------------------------------

Cell = tuple[str, int, int]  # (status, assignee id or 0, inbox id or 0) of a ticket that is not closed


def _cell(ticket: Ticket) -> Cell | None:
    """The ``InboxCount`` cell a ticket counts in; None for a closed ticket (closed tickets are not counted)."""
    if ticket.status == Ticket.Status.CLOSED:
        return None
    return (ticket.status, ticket.assignee_id or 0, ticket.inbox_id or 0)


def _counts_move(*, workspace_id: int, before: Cell | None, after: Cell | None) -> None:
    """A ticket left the cell ``before`` and entered ``after`` (None: not counted): one upsert adds -1 and +1.

    Call in the transaction of the change, after the ticket's own row lock and before the change's inbox
    event: every ticket change takes its cells' rows, then the workspace's event counter row, in that order,
    and the cells of one statement in key order, so two changes never wait on each other in a cycle. The
    updates are relative (``n = n + delta`` in the database), so no change reads a count to write it back.
    """
    if before == after:
        return
    deltas: dict[Cell, int] = {}
    if before is not None:
        deltas[before] = -1
    if after is not None:
        deltas[after] = deltas.get(after, 0) + 1
    _counts_add(workspace_id=workspace_id, deltas=deltas)


def _counts_add(*, workspace_id: int, deltas: dict[Cell, int], create: bool = False) -> None:
    """Add ``deltas`` to the cells, in key order; ``create``: only make sure the cells exist (no row is
    changed or locked that exists already)."""
    cells = sorted(cell for cell, delta in deltas.items() if delta or create)
    if not cells:
        return
    table = connection.ops.quote_name(InboxCount._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(cells))
    params: list[Any] = []
    for status, assignee_key, inbox_key in cells:
        params += [workspace_id, status, assignee_key, inbox_key, deltas[(status, assignee_key, inbox_key)]]
    on_conflict = "DO NOTHING" if create else f"DO UPDATE SET n = {table}.n + excluded.n"  # nosec B608
    # Only our table's quoted name and placeholders are formatted in; every value is a parameter.
    sql = f"INSERT INTO {table} (workspace_id, status, assignee_key, inbox_key, n) VALUES {values} ON CONFLICT (workspace_id, status, assignee_key, inbox_key) {on_conflict}"  # noqa: S608, E501  # nosec B608
    # Prepared on PostgreSQL (``halo.prepared``): a handful of texts (one to a few cells), run by every change.
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)


def inbox_counts_rebuild(*, workspace_id: int | None = None) -> None:
    """Recount the cells from the tickets (one workspace, or all): after a bulk load of tickets written
    outside these services (a benchmark's COPY, a fixture), or as a repair. Run it while the workspace's
    tickets are not changing: a change committed during the recount may be counted twice or not at all."""
    tickets = Ticket.objects.exclude(status=Ticket.Status.CLOSED)
    counts = InboxCount.objects.all()
    if workspace_id is not None:
        tickets, counts = tickets.filter(workspace_id=workspace_id), counts.filter(workspace_id=workspace_id)
    with transaction.atomic():
        counts.delete()
        InboxCount.objects.bulk_create(
            InboxCount(
                workspace_id=row["workspace_id"],
                status=row["status"],
                assignee_key=row["assignee_id"] or 0,
                inbox_key=row["inbox_id"] or 0,
                n=row["n"],
            )
            for row in tickets.order_by()
            .values("workspace_id", "status", "assignee_id", "inbox_id")
            .annotate(n=Count("pk"))
        )


def ticket_counts_enter(*, ticket: Ticket) -> None:
    """A ticket inserted without ``ticket_open_or_merge`` (a fixture, a data load of a few rows) enters its
    cell; a bulk load recounts instead (``inbox_counts_rebuild``)."""
    _counts_move(workspace_id=ticket.workspace_id, before=None, after=_cell(ticket))


def counts_contact_deleting(*, contact_id: int) -> None:
    """A contact is being deleted (its tickets with it): its ticket that is not closed leaves its cell."""
    ticket = Ticket.objects.filter(contact_id=contact_id).exclude(status=Ticket.Status.CLOSED).first()
    if ticket is not None:
        _counts_move(workspace_id=ticket.workspace_id, before=_cell(ticket), after=None)


def counts_assignee_deleting(*, user_id: int) -> None:
    """A user is being deleted: their tickets become unassigned (``SET_NULL``), so their cells join the
    unassigned ones."""
    _counts_merge(InboxCount.objects.filter(assignee_key=user_id), assignee_key=0)


def counts_inbox_deleting(*, inbox_id: int) -> None:
    """A team inbox is being deleted: its tickets leave it (``SET_NULL``), so its cells join the no-inbox ones."""
    _counts_merge(InboxCount.objects.filter(inbox_key=inbox_id), inbox_key=0)


def _counts_merge(cells: Any, **target: int) -> None:
    """Move the counts of ``cells`` into the cells that differ by ``target``, locking every row involved in
    key order first (the order every ticket change takes them in)."""

    def moved(cell: Cell) -> Cell:
        return (cell[0], target.get("assignee_key", cell[1]), target.get("inbox_key", cell[2]))

    with transaction.atomic():
        sources = {
            (row.workspace_id, (row.status, row.assignee_key, row.inbox_key)) for row in cells.only("pk").iterator()
        }
        for workspace_id, cell in sources:
            _counts_add(workspace_id=workspace_id, deltas={moved(cell): 0}, create=True)
        involved = sources | {(workspace_id, moved(cell)) for workspace_id, cell in sources}
        locked = {
            (row.workspace_id, (row.status, row.assignee_key, row.inbox_key)): row.n
            for row in InboxCount.objects.select_for_update()
            .filter(workspace_id__in={workspace_id for workspace_id, _ in involved})
            .order_by("workspace_id", "status", "assignee_key", "inbox_key")
            if (row.workspace_id, (row.status, row.assignee_key, row.inbox_key)) in involved
        }
        by_workspace: dict[int, dict[Cell, int]] = {}
        for workspace_id, cell in sources:
            deltas = by_workspace.setdefault(workspace_id, {})
            deltas[cell] = deltas.get(cell, 0) - locked[(workspace_id, cell)]
            deltas[moved(cell)] = deltas.get(moved(cell), 0) + locked[(workspace_id, cell)]
        for workspace_id, deltas in by_workspace.items():
            _counts_add(workspace_id=workspace_id, deltas=deltas)


def ticket_delete(*, ticket: Ticket) -> None:
    """Delete a ticket (the admin's delete), taking it out of its cell."""
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        if locked is None:
            return
        _counts_move(workspace_id=locked.workspace_id, before=_cell(locked), after=None)
        locked.delete()


# --- Live events and the staff inbox's actions ---------------------------------------------------------


def ticket_event_data(ticket: Ticket) -> dict[str, Any]:
    """What an open inbox page needs to know about a changed ticket (ids, status, a display name)."""
    return {
        "status": ticket.status,
        "assignee_id": ticket.assignee_id,
        "inbox_id": ticket.inbox_id,
        "contact": str(ticket.contact)[:200],
        "escalation_count": ticket.escalation_count,
    }


def ticket_webhook_data(ticket: Ticket) -> dict[str, Any]:
    """A ticket as webhook events show it (the ticket API's field names)."""
    contact = ticket.contact
    return {
        "id": ticket.pk,
        "status": ticket.status,
        "contact": {"id": contact.pk, "user_id": contact.user_id, "email": contact.email, "name": contact.name},
        "assignee": ticket.assignee_id,
        "inbox": ticket.inbox_id,
        "reason": ticket.reason,
        "confidence": ticket.confidence,
        "escalation_count": ticket.escalation_count,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "closed_at": ticket.closed_at,
    }


# The live inbox event → the webhook event (a merge is an update of the ticket; a close has its own).
_WEBHOOK_EVENTS = {TICKET_CREATED: WebhookEvent.TICKET_CREATED, TICKET_MERGED: WebhookEvent.TICKET_UPDATED}


def _ticket_event(*, ticket: Ticket, type: str, **extra: Any) -> None:
    """The live inbox event of a ticket's change and its webhook event, in the change's transaction."""
    inbox_event_record(
        workspace_id=ticket.workspace_id, type=type, ticket_id=ticket.pk, data={**ticket_event_data(ticket), **extra}
    )
    changed = list(extra.get("changed", []))
    if type == TICKET_MERGED:
        changed = ["escalation_count"]
    webhook = _WEBHOOK_EVENTS.get(type, WebhookEvent.TICKET_UPDATED)
    if type == TICKET_UPDATED and "status" in changed and ticket.status == Ticket.Status.CLOSED:
        webhook = WebhookEvent.TICKET_CLOSED
    details: dict[str, Any] = {"changed": changed}
    if "conversation_id" in extra:
        details["conversation"] = extra["conversation_id"]
    webhook_event_record(
        workspace=ticket.workspace,
        event=webhook,
        data=lambda: {"ticket": ticket_webhook_data(ticket), **details},
        at=ticket.updated_at,
    )


def conversation_message_publish(*, message: Message, ticket: Ticket) -> None:
    """A new message on a conversation that ``ticket`` holds: open inbox pages of that ticket show it, and a
    customer's message wakes the ticket if it is snoozed (back to open, in the team's Open list)."""
    if message.author == Message.Author.USER and ticket.status == Ticket.Status.SNOOZED:
        conversation = message.conversation
        if not Ticket.workspace.is_cached(ticket) and Conversation.workspace.is_cached(conversation):
            ticket.workspace = conversation.workspace
        _ticket_wake(ticket=ticket, now=message.created_at)
    inbox_event_record(
        workspace_id=ticket.workspace_id,
        type=MESSAGE_NEW,
        ticket_id=ticket.pk,
        data={"message_id": message.pk, "author": message.author, "conversation_id": message.conversation_id},
    )


def tickets_wake_due(*, now: datetime | None = None) -> int:
    """Open the snoozed tickets whose wake-up time has come (at most ``WAKE_BATCH``); returns how many.

    Each in its own short transaction, locked with SKIP LOCKED: several workers may run it at once, and a
    ticket a teammate is changing right now is left to the next run."""
    now = now or timezone.now()
    due = Ticket.objects.filter(status=Ticket.Status.SNOOZED, snoozed_until__lte=now).order_by("snoozed_until")
    woken = 0
    for ticket_id in due.values_list("pk", flat=True)[:WAKE_BATCH]:
        with transaction.atomic():
            ticket = (
                due.select_for_update(skip_locked=True, of=("self",))
                .select_related("workspace", "contact")
                .filter(pk=ticket_id)
                .first()
            )
            if ticket is not None:
                _ticket_wake(ticket=ticket, now=now)
                woken += 1
    return woken


# How many tickets one run of the first-reply warning job looks at (the next run takes the rest).
WARN_BATCH = 500


def tickets_first_reply_warn(*, now: datetime | None = None) -> int:
    """Tell the assignee (email) and Slack about each ticket whose first reply is due within
    ``inbox.sla.WARNING_LEAD`` (or overdue) and still not sent; returns how many tickets were flagged.

    Each ticket is flagged (``first_reply_warned_at``) in the transaction that records its notifications in
    the outbox, under a row lock taken with SKIP LOCKED and a condition on the flag: however often the job
    runs, and however many workers run it at once, a ticket's warning is recorded once, and the outbox
    delivers each record once."""
    now = now or clock.now()
    due = Ticket.objects.filter(
        first_replied_at__isnull=True,
        first_reply_due_at__isnull=False,
        first_reply_due_at__lte=now + WARNING_LEAD,
        first_reply_warned_at__isnull=True,
        status__in=[Ticket.Status.OPEN, Ticket.Status.PRIORITY],
    )
    warned = 0
    for ticket_id in due.order_by("first_reply_due_at").values_list("pk", flat=True)[:WARN_BATCH]:
        with transaction.atomic():
            ticket = (
                due.select_for_update(skip_locked=True, of=("self",))
                .select_related("workspace", "inbox")
                .filter(pk=ticket_id)
                .first()
            )
            if ticket is None:
                continue
            Ticket.objects.filter(pk=ticket.pk).update(first_reply_warned_at=now)
            ticket.first_reply_warned_at = now
            notifications_first_reply_due(ticket=ticket)
            warned += 1
    return warned


def _ticket_wake(*, ticket: Ticket, now: datetime) -> None:
    """A snoozed ticket back to open, with its live event. Call inside a transaction."""
    updated = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.SNOOZED).update(
        status=Ticket.Status.OPEN, snoozed_until=None, updated_at=now
    )
    if updated:
        before = (Ticket.Status.SNOOZED, ticket.assignee_id or 0, ticket.inbox_id or 0)
        ticket.status, ticket.snoozed_until, ticket.updated_at = Ticket.Status.OPEN, None, now
        _counts_move(workspace_id=ticket.workspace_id, before=before, after=_cell(ticket))
        _ticket_event(ticket=ticket, type=TICKET_UPDATED, changed=["status"])


def ticket_reply(*, ticket: Ticket, teammate: User, body: str, conversation_id: int | None = None) -> Message:
    """A teammate's reply to the customer: posted to the ticket's (latest, or chosen) conversation, sent
    live to the widget (``agents``), and from then on the AI stays silent in that conversation."""
    conversations = ticket.conversations.select_related("workspace", "contact").order_by("-updated_at", "-id")
    if conversation_id is not None:
        conversations = conversations.filter(pk=conversation_id)
    conversation = conversations.first()
    if conversation is None:
        raise ValidationError({"body": "This ticket has no conversation to reply to."})
    with transaction.atomic():
        message = message_post(conversation=conversation, author=Message.Author.TEAMMATE, body=body, teammate=teammate)
        # The first teammate reply keeps (or breaks) the first-reply promise; later ones change nothing.
        replied_at = clock.now()
        if Ticket.objects.filter(pk=ticket.pk, first_replied_at__isnull=True).update(first_replied_at=replied_at):
            ticket.first_replied_at = replied_at
        conversation_message_publish(message=message, ticket=ticket)
        # After message_post's UPDATE of the conversation row: concurrent replies to one conversation wait
        # on its lock here, so the second sees the first's pending email and joins it.
        reply_email_schedule(conversation=conversation)
    return message


RATING_COMMENT_MAX_CHARS = 2000


class TicketNotRatable(Exception):
    """The ticket cannot take a rating: it is not closed, or it was rated already (once per ticket)."""


def ticket_rate(*, ticket: Ticket, score: int, comment: str = "") -> Ticket:
    """The customer's 1-5 rating of a closed ticket, with an optional comment: once per ticket. One
    conditional UPDATE decides (of two concurrent ratings exactly one lands); the others raise
    ``TicketNotRatable``. Open inbox pages of the ticket are told."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError({"score": "A whole number from 1 to 5."})
    comment = comment.strip()
    if len(comment) > RATING_COMMENT_MAX_CHARS:
        raise ValidationError({"comment": f"At most {RATING_COMMENT_MAX_CHARS} characters."})
    now = timezone.now()
    with transaction.atomic():
        rated = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.CLOSED, rating_score__isnull=True).update(
            rating_score=score, rating_comment=comment, rated_at=now
        )
        if not rated:
            raise TicketNotRatable("This ticket was rated already, or is not closed.")
        ticket.rating_score, ticket.rating_comment, ticket.rated_at = score, comment, now
        _ticket_event(ticket=ticket, type=TICKET_UPDATED, changed=["rating"])
    return ticket


NOTE_MAX_CHARS = 10_000


def ticket_note_add(*, ticket: Ticket, author: User, body: str) -> TicketNote:
    body = body.strip()
    if not body:
        raise ValidationError({"body": "A note cannot be empty."})
    if len(body) > NOTE_MAX_CHARS:
        raise ValidationError({"body": f"A note is at most {NOTE_MAX_CHARS} characters."})
    with transaction.atomic():
        note = TicketNote.objects.create(ticket=ticket, author=author, body=body)
        inbox_event_record(
            workspace_id=ticket.workspace_id, type=NOTE_NEW, ticket_id=ticket.pk, data={"note_id": note.pk}
        )
    return note


def ticket_verdict_set(*, ticket: Ticket, user: User | None, verdict: str) -> Ticket:
    """A teammate's verdict on the escalation ("AI could have answered" / "right to escalate"); "" clears it.
    ``user`` is None when it comes through the server API (an API key speaks for the workspace, not a person)."""
    if verdict and verdict not in Ticket.Verdict.values:
        raise ValidationError({"verdict": f"Choose one of: {', '.join(Ticket.Verdict.values)}."})
    now = timezone.now()
    with transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(
            verdict=verdict, verdict_by=user if verdict else None, verdict_at=now if verdict else None, updated_at=now
        )
        ticket.updated_at = now
        ticket.verdict, ticket.verdict_by, ticket.verdict_at = (
            verdict,
            user if verdict else None,
            now if verdict else None,
        )
        _ticket_event(ticket=ticket, type=TICKET_UPDATED, changed=["verdict"])
    return ticket


def saved_view_create(
    *,
    workspace: Workspace,
    name: str,
    rule: str = "",
    statuses: list[str] | None = None,
    assignee: str = SavedView.Assignee.ANY,
    inbox: CustomInbox | None = None,
    created_by: User | None = None,
) -> SavedView:
    view = SavedView(
        workspace=workspace,
        name=name.strip(),
        rule=rule.strip(),
        statuses=list(statuses or []),
        assignee=assignee,
        inbox=inbox,
        created_by=created_by,
    )
    view.full_clean(exclude=["workspace", "created_by"])
    if set(view.statuses) - set(Ticket.Status.values):
        raise ValidationError({"statuses": f"Choose from: {', '.join(Ticket.Status.values)}."})
    if inbox is not None and inbox.workspace_id != workspace.pk:
        raise ValidationError({"inbox": "This inbox belongs to another workspace."})
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:
        raise ValidationError({"name": "A view with this name already exists."}) from None
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()


# --- Several tickets at once -------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk change did: the tickets changed, and why each of the others was refused."""

    changed: list[int]
    refused: dict[int, str]


def tickets_bulk_update(
    *,
    workspace: Workspace,
    ticket_ids: list[int],
    data: dict[str, Any],
    actor: User | None = None,
    seen_escalation_counts: dict[int, int] | None = None,
) -> BulkOutcome:
    """Apply one change (the fields of ``ticket_update``) to several tickets of ``workspace``, each validated
    and written as one: its own transaction and row lock, the same rules as a single change (a close refused
    when the customer escalated again since the teammate looked: ``seen_escalation_counts`` by ticket id). A
    ticket refused does not stop the others; an id that is not one of the workspace's tickets is refused as
    not found."""
    tickets = {ticket.pk: ticket for ticket in Ticket.objects.filter(workspace=workspace, pk__in=ticket_ids)}
    seen = seen_escalation_counts or {}
    changed: list[int] = []
    refused: dict[int, str] = {}
    for ticket_id in dict.fromkeys(ticket_ids):
        ticket = tickets.get(ticket_id)
        if ticket is None:
            refused[ticket_id] = "No such ticket."
            continue
        try:
            ticket_update(ticket=ticket, data=data, actor=actor, seen_escalation_count=seen.get(ticket_id))
        except ValidationError as error:
            refused[ticket_id] = " ".join(error.messages)
        else:
            changed.append(ticket_id)
    return BulkOutcome(changed=changed, refused=refused)


# --- Macros ------------------------------------------------------------------------------------------


def _macro_save(macro: Macro) -> Macro:
    macro.name, macro.body = macro.name.strip(), macro.body.strip()
    macro.full_clean(exclude=["workspace", "created_by"], validate_constraints=False)
    unknown = macro_unknown_placeholders(macro.body)
    if unknown:
        raise ValidationError(
            {"body": f"Unknown placeholder: {', '.join(unknown)}. Use one of: {', '.join(PLACEHOLDERS)}."}
        )
    macro.updated_at = timezone.now()
    try:
        with transaction.atomic():
            macro.save()
    except IntegrityError:
        raise ValidationError({"name": "A macro with this name already exists."}) from None
    return macro


def macro_create(*, workspace: Workspace, name: str, body: str, created_by: User | None = None) -> Macro:
    return _macro_save(Macro(workspace=workspace, name=name, body=body, created_by=created_by))


def macro_update(*, macro: Macro, name: str, body: str) -> Macro:
    macro.name, macro.body = name, body
    return _macro_save(macro)


def macro_delete(*, macro: Macro) -> None:
    macro.delete()


# --- Seeding history in bulk (the demo and the benchmarks) -----------------------------------------------


@dataclass(frozen=True)
class SeedTicket:
    """A past ticket, as an escalation and the teammates who worked it would have left it."""

    conversation_id: int
    contact_id: int
    agent_id: int
    turn_id: int | None
    reason: str
    confidence: int | None
    settings_version: int | None
    created_at: datetime
    status: str = Ticket.Status.CLOSED
    closed_at: datetime | None = None
    first_replied_at: datetime | None = None
    first_reply_due_at: datetime | None = None
    rating_score: int | None = None
    verdict: str = ""
    verdict_by_id: int | None = None
    reopened_count: int = 0
    held_back_turns: int = 0
    summary: str = ""


def tickets_seed(*, workspace: Workspace, tickets: list[SeedTicket]) -> list[Ticket]:
    """Write past tickets with their conversation links and escalation events in a few bulk INSERTs (the
    demo's history, the benchmarks). No live events, notifications or summaries: this is history. The caller
    keeps the one-ticket-not-closed-per-contact rule (the database refuses otherwise)."""
    with transaction.atomic():
        created = Ticket.objects.bulk_create(
            Ticket(
                workspace=workspace,
                contact_id=seed.contact_id,
                agent_id=seed.agent_id,
                status=seed.status,
                reason=seed.reason,
                confidence=seed.confidence,
                settings_version=seed.settings_version,
                summary=seed.summary,
                summary_state=Ticket.SummaryState.READY,
                created_at=seed.created_at,
                updated_at=max(filter(None, [seed.created_at, seed.closed_at, seed.first_replied_at])),
                closed_at=seed.closed_at,
                first_replied_at=seed.first_replied_at,
                first_reply_due_at=seed.first_reply_due_at,
                rating_score=seed.rating_score,
                rated_at=seed.closed_at if seed.rating_score is not None else None,
                verdict=seed.verdict,
                verdict_by_id=seed.verdict_by_id if seed.verdict else None,
                verdict_at=seed.closed_at if seed.verdict else None,
                reopened_count=seed.reopened_count,
                held_back_turns=seed.held_back_turns,
            )
            for seed in tickets
        )
        Ticket.conversations.through.objects.bulk_create(
            Ticket.conversations.through(ticket_id=ticket.pk, conversation_id=seed.conversation_id)
            for ticket, seed in zip(created, tickets, strict=True)
        )
        EscalationEvent.objects.bulk_create(
            EscalationEvent(
                workspace=workspace,
                ticket=ticket,
                conversation_id=seed.conversation_id,
                turn_id=seed.turn_id,
                reason=seed.reason,
                confidence=seed.confidence,
                mode="conditional",
                outcome=EscalationEvent.Outcome.CREATED,
                settings_version=seed.settings_version,
                created_at=seed.created_at,
            )
            for ticket, seed in zip(created, tickets, strict=True)
        )
        deltas: dict[Cell, int] = {}
        for ticket in created:
            cell = _cell(ticket)
            if cell is not None:
                deltas[cell] = deltas.get(cell, 0) + 1
        _counts_add(workspace_id=workspace.pk, deltas=deltas)  # the sidebar counts seeded tickets not closed
    return created


# --- Team assignment ---------------------------------------------------------------------------------
#
# A team inbox whose policy is not ``manual`` gives each of its tickets that has no assignee (a "waiting"
# ticket) to one of its members, oldest ticket first. Invariants, each held by the database:
#
# - Assignments of one inbox happen one at a time: each takes the inbox's row lock (SELECT … FOR UPDATE)
#   and keeps it until its transaction commits, so the next one reads the committed result of the last
#   (READ COMMITTED takes a fresh snapshot per statement). Round robin gives the ticket to the eligible
#   member whose turn is oldest (``last_assigned_seq``, numbered by the inbox's ``assigned_total``), so
#   among members who stay eligible the counts differ by at most one, however many escalations race.
# - Nobody is given a ticket automatically beyond their capacity, counted over every ticket of theirs that
#   is not closed in the workspace (several inboxes may share a teammate): a pass first locks the
#   ``Membership`` rows of its members that have a capacity (in id order), so two inboxes cannot both fill
#   the last place, and counts loads only after. Locks are always taken inbox → memberships (by id) → the
#   workspace's event counter, never in another order, so passes and escalations cannot deadlock.
# - Waiting tickets are taken oldest first, and an escalation's own new ticket waits behind older ones: a
#   place freed a moment ago goes to the ticket that waited longest. Tickets a teammate is changing right
#   now are skipped (SKIP LOCKED; the next pass takes them), so a pass never waits on a ticket lock while
#   holding the inbox's.

ASSIGN_TASK = "inbox.tasks.tickets_assign"
# How many waiting tickets one pass over an inbox assigns at most (the next pass takes the rest).
ASSIGN_BATCH = 100


def _member_next(*, inbox: CustomInbox, capacity_locked: set[int]) -> int | None:
    """The user id of the member whose turn it is by the inbox's policy: available and under capacity. A
    member with a capacity qualifies only if this pass holds their membership lock (``capacity_locked``)."""
    membership = Membership.objects.filter(workspace_id=inbox.workspace_id, user_id=OuterRef("user_id"))
    load = (
        Ticket.objects.filter(workspace_id=inbox.workspace_id, assignee_id=OuterRef("user_id"))
        .exclude(status=Ticket.Status.CLOSED)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    members = (
        InboxMember.objects.filter(inbox=inbox)
        .annotate(
            available=Subquery(membership.values("available")),
            capacity=Subquery(membership.values("capacity")),
            load=Coalesce(Subquery(load), 0),
        )
        .filter(
            Q(capacity__isnull=True) | Q(load__lt=F("capacity"), user_id__in=capacity_locked),
            available=True,
        )
    )
    if inbox.assignment == CustomInbox.Assignment.BALANCED:
        members = members.order_by("load", "last_assigned_seq", "user_id")
    else:
        members = members.order_by("last_assigned_seq", "user_id")
    return members.values_list("user_id", flat=True).first()


def _capacities_lock(*, inbox: CustomInbox) -> set[int]:
    """Lock the memberships of the inbox's members that have a capacity, in id order (every pass locks in
    the same order, so passes of inboxes sharing teammates wait for one another and never deadlock); the
    user ids locked. While they are held no other pass can give these teammates a ticket, so the loads
    counted from here on stay true."""
    return set(
        Membership.objects.select_for_update()
        .filter(
            workspace_id=inbox.workspace_id,
            capacity__isnull=False,
            user_id__in=InboxMember.objects.filter(inbox=inbox).values("user_id"),
        )
        .order_by("pk")
        .values_list("user_id", flat=True)
    )


def _inbox_assign_waiting(*, inbox_id: int, now: datetime, new_ticket: Ticket | None = None) -> list[Ticket]:
    """Give the inbox's waiting tickets, oldest first, to its members by its policy, while a member has room.

    Call inside a transaction. ``new_ticket`` is the escalation's own ticket (in the list, its notifications
    and event recorded by the caller); every other ticket assigned gets its live event and assignee email
    here. Returns the tickets assigned."""
    inbox = (
        CustomInbox.objects.select_for_update()
        .filter(pk=inbox_id)
        .exclude(assignment=CustomInbox.Assignment.MANUAL)
        .first()
    )
    if inbox is None:
        if new_ticket is not None:
            _counts_move(workspace_id=new_ticket.workspace_id, before=None, after=_cell(new_ticket))
        return []
    if new_ticket is not None:
        new_ticket.inbox = inbox  # read already: its Slack channel needs no second read
    capacity_locked = _capacities_lock(inbox=inbox)
    waiting = list(
        # Only the tickets are locked; their workspace and contact come along for their events.
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("workspace", "contact")
        .filter(inbox_id=inbox_id, assignee__isnull=True)
        .exclude(status=Ticket.Status.CLOSED)
        .order_by("created_at", "id")[:ASSIGN_BATCH]
    )
    assigned: list[Ticket] = []
    # Every cell this call moves, in one upsert before any live event (cells before the event counter row).
    deltas: dict[Cell, int] = {}
    for ticket in waiting:
        user_id = _member_next(inbox=inbox, capacity_locked=capacity_locked)
        if user_id is None:
            break  # everyone is away or full: the rest wait for a place to free up
        inbox.assigned_total += 1
        InboxMember.objects.filter(inbox=inbox, user_id=user_id).update(
            assigned_count=F("assigned_count") + 1, last_assigned_seq=inbox.assigned_total
        )
        Ticket.objects.filter(pk=ticket.pk).update(assignee_id=user_id, updated_at=now)
        ticket.assignee_id, ticket.updated_at, ticket.inbox = user_id, now, inbox
        if new_ticket is not None and ticket.pk == new_ticket.pk:
            new_ticket.assignee_id, new_ticket.updated_at = user_id, now
        else:
            was = (ticket.status, 0, inbox.pk)
            deltas[was] = deltas.get(was, 0) - 1
        assigned.append(ticket)
    for ticket in assigned:
        if new_ticket is None or ticket.pk != new_ticket.pk:
            cell = _cell(ticket)
            if cell is not None:
                deltas[cell] = deltas.get(cell, 0) + 1
    if new_ticket is not None:
        cell = _cell(new_ticket)
        if cell is not None:
            deltas[cell] = deltas.get(cell, 0) + 1
    _counts_add(workspace_id=inbox.workspace_id, deltas=deltas)
    for ticket in assigned:
        if new_ticket is None or ticket.pk != new_ticket.pk:
            _ticket_event(ticket=ticket, type=TICKET_UPDATED, changed=["assignee"])
            notification_assignment(ticket=ticket)
    if assigned:
        CustomInbox.objects.filter(pk=inbox.pk).update(assigned_total=inbox.assigned_total)
    return assigned


def tickets_assign_waiting(*, workspace_id: int | None = None, now: datetime | None = None) -> int:
    """Assign the waiting tickets of every team inbox that assigns (of one workspace, or all), each inbox in
    its own transaction; returns how many were assigned. Run after a place frees up (the outbox task) and
    by the beat sweep as a backstop."""
    now = now or timezone.now()
    inboxes = (
        CustomInbox.objects.exclude(assignment=CustomInbox.Assignment.MANUAL)
        .filter(
            Exists(
                Ticket.objects.filter(inbox_id=OuterRef("pk"), assignee__isnull=True).exclude(
                    status=Ticket.Status.CLOSED
                )
            )
        )
        .order_by("pk")
    )
    if workspace_id is not None:
        inboxes = inboxes.filter(workspace_id=workspace_id)
    assigned = 0
    for inbox_id in inboxes.values_list("pk", flat=True):
        with transaction.atomic():
            assigned += len(_inbox_assign_waiting(inbox_id=inbox_id, now=now))
    return assigned


def _assignment_rerun(*, workspace_id: int) -> None:
    """A place may have freed up (a ticket closed or unassigned, a teammate available again or given more
    capacity, an inbox's members or policy changed): record a pass over the workspace's waiting tickets,
    in the caller's transaction."""
    # A reference by id is all the outbox row needs: no read of the workspace.
    outbox_enqueue(workspace=Workspace(pk=workspace_id), task=ASSIGN_TASK, payload={})


def custom_inbox_update(*, inbox: CustomInbox, data: dict[str, Any]) -> CustomInbox:
    """Change a team inbox's ``members`` (user ids, each a member of the inbox's workspace) and/or its
    ``assignment`` policy. Members kept keep their turn; waiting tickets are assigned after commit."""
    unknown = set(data) - {"members", "assignment"}
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    errors: dict[str, str] = {}
    if "assignment" in data and data["assignment"] not in CustomInbox.Assignment.values:
        errors["assignment"] = f"Choose one of: {', '.join(CustomInbox.Assignment.values)}."
    members: list[int] | None = None
    if "members" in data:
        members = list(dict.fromkeys(data["members"]))
        known = set(
            Membership.objects.filter(workspace_id=inbox.workspace_id, user_id__in=members).values_list(
                "user_id", flat=True
            )
        )
        strangers = [user_id for user_id in members if user_id not in known]
        if strangers:
            errors["members"] = f"Not a member of this workspace: {', '.join(str(user_id) for user_id in strangers)}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = CustomInbox.objects.select_for_update().get(pk=inbox.pk)
        if "assignment" in data:
            locked.assignment = data["assignment"]
            locked.save(update_fields=["assignment"])
        if members is not None:
            InboxMember.objects.filter(inbox=locked).exclude(user_id__in=members).delete()
            present = set(InboxMember.objects.filter(inbox=locked).values_list("user_id", flat=True))
            InboxMember.objects.bulk_create(
                [InboxMember(inbox=locked, user_id=user_id) for user_id in members if user_id not in present]
            )
        if locked.assignment != CustomInbox.Assignment.MANUAL:
            _assignment_rerun(workspace_id=locked.workspace_id)
    return locked


def teammate_availability_set(*, membership: Membership, data: dict[str, Any]) -> Membership:
    """A teammate's ``available`` (bool) and/or ``capacity`` (int or None) in a workspace, set by them in the
    inbox header or by the API. When that may free a place (available again, more or unlimited capacity),
    waiting tickets are assigned after commit."""
    with transaction.atomic():
        updated = membership_update(membership=membership, data=data)
        if updated.more_room:
            _assignment_rerun(workspace_id=updated.membership.workspace_id)
    return updated.membership
