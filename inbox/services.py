"""Writes of the inbox app: changing a ticket (status, assignee, inbox) and building its AI summary.

``ticket_update`` validates like the rest of the product (an assignee must be a member of the ticket's
workspace, an inbox must belong to it) and owns the status transitions: closing a ticket hands its
conversations back to the AI (the conversation's gates start afresh, see ``escalation.selectors``), and
re-opening a closed ticket is refused while the contact has another ticket that is not closed (the
database's partial unique constraint decides).

``ticket_summarize`` is the built-in, offline summary: it quotes what the user asked (first and latest
messages) and why the AI handed off. Customer text is data here, never an instruction: nothing in it can
change a ticket's routing, status or assignee.

The staff inbox's writes live here too (``ticket_reply``, ``ticket_note_add``, ``ticket_verdict_set``,
``saved_view_create``/``saved_view_delete``), and every write that an open inbox page should show records
its live event (``inbox.events``) in its own transaction; an assignment records the assignee's email
(``inbox.notifications``). ``ticket_escalated_publish`` and ``conversation_message_publish`` are the
inbox's hooks for escalation (a ticket created or merged; a customer message on a handed-off
conversation), called inside escalation's transactions.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Conversation, Message
from halo.models import Membership, Workspace
from inbox.events import MESSAGE_NEW, NOTE_NEW, TICKET_CREATED, TICKET_MERGED, TICKET_UPDATED, inbox_event_record
from inbox.models import CustomInbox, SavedView, Ticket, TicketNote

REASON_LABELS = {
    "escalate_tool": "the AI called its escalate tool",
    "phrase": "the AI said it needed a teammate",
    "low_confidence": "the AI was not confident in its answer",
    "manual": "the customer asked for a human",
}
SUMMARY_QUOTE_CHARS = 280
TICKET_EDITABLE_FIELDS = ("status", "assignee", "inbox", "snoozed_until")
# How many due snoozed tickets one run of the wake-up job opens (the next run takes the rest).
WAKE_BATCH = 500


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_QUOTE_CHARS else text[: SUMMARY_QUOTE_CHARS - 1] + "…"


def ticket_summary_build(*, ticket: Ticket, user_messages: list[str]) -> str:
    """A short, factual summary of what the user wanted, from their own words."""
    if not user_messages:
        first = "The customer has not written anything yet."
    else:
        first = f'The customer asked: "{_quote(user_messages[0])}"'
    parts = [first]
    if len(user_messages) > 1:
        parts.append(f'Latest message: "{_quote(user_messages[-1])}"')
    reason = REASON_LABELS.get(ticket.reason, ticket.reason)
    parts.append(f"Handed off because {reason}.")
    if ticket.escalation_count > 1:
        parts.append(f"Escalated {ticket.escalation_count} times.")
    return " ".join(parts)


def ticket_summarize(*, ticket_id: int) -> Ticket:
    """Fill in the ticket's AI summary and tell open inbox pages (``inbox.summaries``; idempotent)."""
    from inbox.summaries import ticket_summary_refresh

    return ticket_summary_refresh(ticket_id=ticket_id)


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


def ticket_update(*, ticket: Ticket, data: dict[str, Any], actor: Any = None) -> Ticket:
    """Change a ticket's status, assignee, inbox or snooze time. ``assignee``/``inbox`` take an id or None.

    ``snoozed_until`` (a future time, or None for "until the customer writes") goes with the snoozed status;
    leaving that status clears it. ``actor`` (the teammate who made the change, if any) is not emailed about
    assigning themselves.
    """
    unknown = set(data) - set(TICKET_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    now = timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        was_closed = locked.status == Ticket.Status.CLOSED
        before = (locked.status, locked.assignee_id, locked.inbox_id)
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
        if closing:
            locked.closed_at = now
        elif was_closed and locked.status != Ticket.Status.CLOSED:
            locked.closed_at = None
        locked.updated_at = now
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise ValidationError(
                {"status": "This contact already has a ticket that is not closed; work on that one instead."}
            ) from None
        if closing:
            _conversations_hand_back(ticket=locked, now=now)
        elif was_closed and locked.status != Ticket.Status.CLOSED:
            locked.conversations.update(status=Conversation.Status.HANDED_OFF, updated_at=now)
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
            _ticket_event(ticket=locked, type=TICKET_UPDATED, changed=changed)
        if "assignee" in changed and locked.assignee_id is not None:
            from inbox.notifications import notification_assignment

            notification_assignment(ticket=locked, actor_id=getattr(actor, "pk", None))
    return locked


def _conversations_hand_back(*, ticket: Ticket, now: Any) -> None:
    """Closing a ticket gives its conversations back to the AI, unless another open ticket holds them."""
    conversation_ids = list(
        ticket.conversations.filter(status=Conversation.Status.HANDED_OFF)
        .exclude(tickets__in=Ticket.objects.exclude(pk=ticket.pk).exclude(status=Ticket.Status.CLOSED))
        .values_list("pk", flat=True)
    )
    Conversation.objects.filter(pk__in=conversation_ids).update(
        status=Conversation.Status.OPEN, updated_at=now, handed_back_at=now
    )


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


def _ticket_event(*, ticket: Ticket, type: str, **extra: Any) -> None:
    inbox_event_record(
        workspace_id=ticket.workspace_id, type=type, ticket_id=ticket.pk, data={**ticket_event_data(ticket), **extra}
    )


def ticket_escalated_publish(*, ticket: Ticket, created: bool, conversation: Conversation) -> None:
    """Escalation's hook (inside the handoff's transaction): the live event and, for a new ticket, its
    notifications (Slack, the assignee's email)."""
    if not Ticket.workspace.is_cached(ticket) and Conversation.workspace.is_cached(conversation):
        ticket.workspace = conversation.workspace
    if created:
        from inbox.notifications import notifications_ticket_created

        notifications_ticket_created(ticket=ticket)
    # Last: the event takes the workspace's counter row, locked until commit (concurrent handoffs wait on it).
    _ticket_event(ticket=ticket, type=TICKET_CREATED if created else TICKET_MERGED, conversation_id=conversation.pk)


def conversation_message_publish(*, message: Message, ticket: Ticket) -> None:
    """A new message on a conversation that ``ticket`` holds: open inbox pages of that ticket show it, and a
    customer's message wakes the ticket if it is snoozed (back to open, in the team's Open list)."""
    if message.author == Message.Author.USER and ticket.status == Ticket.Status.SNOOZED:
        _ticket_wake(ticket=ticket, now=message.created_at)
    inbox_event_record(
        workspace_id=ticket.workspace_id,
        type=MESSAGE_NEW,
        ticket_id=ticket.pk,
        data={"message_id": message.pk, "author": message.author, "conversation_id": message.conversation_id},
    )


def tickets_wake_due(*, now: Any = None) -> int:
    """Open the snoozed tickets whose wake-up time has come (at most ``WAKE_BATCH``); returns how many.

    Each in its own short transaction, locked with SKIP LOCKED: several workers may run it at once, and a
    ticket a teammate is changing right now is left to the next run."""
    now = now or timezone.now()
    due = Ticket.objects.filter(status=Ticket.Status.SNOOZED, snoozed_until__lte=now).order_by("snoozed_until")
    woken = 0
    for ticket_id in due.values_list("pk", flat=True)[:WAKE_BATCH]:
        with transaction.atomic():
            ticket = due.select_for_update(skip_locked=True).filter(pk=ticket_id).first()
            if ticket is not None:
                _ticket_wake(ticket=ticket, now=now)
                woken += 1
    return woken


def _ticket_wake(*, ticket: Ticket, now: Any) -> None:
    """A snoozed ticket back to open, with its live event. Call inside a transaction."""
    updated = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.SNOOZED).update(
        status=Ticket.Status.OPEN, snoozed_until=None, updated_at=now
    )
    if updated:
        ticket.status, ticket.snoozed_until, ticket.updated_at = Ticket.Status.OPEN, None, now
        _ticket_event(ticket=ticket, type=TICKET_UPDATED, changed=["status"])


def ticket_reply(*, ticket: Ticket, teammate: Any, body: str, conversation_id: int | None = None) -> Message:
    """A teammate's reply to the customer: posted to the ticket's (latest, or chosen) conversation, sent
    live to the widget (``agents``), and from then on the AI stays silent in that conversation."""
    conversations = ticket.conversations.order_by("-updated_at", "-id")
    if conversation_id is not None:
        conversations = conversations.filter(pk=conversation_id)
    conversation = conversations.first()
    if conversation is None:
        raise ValidationError({"body": "This ticket has no conversation to reply to."})
    from agents.services import conversation_post_message

    with transaction.atomic():
        message = conversation_post_message(
            conversation=conversation, author=Message.Author.TEAMMATE, body=body, teammate=teammate
        )
        conversation_message_publish(message=message, ticket=ticket)
    return message


NOTE_MAX_CHARS = 10_000


def ticket_note_add(*, ticket: Ticket, author: Any, body: str) -> TicketNote:
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


def ticket_verdict_set(*, ticket: Ticket, user: Any, verdict: str) -> Ticket:
    """A teammate's verdict on the escalation ("AI could have answered" / "right to escalate"); "" clears it."""
    if verdict and verdict not in Ticket.Verdict.values:
        raise ValidationError({"verdict": f"Choose one of: {', '.join(Ticket.Verdict.values)}."})
    now = timezone.now()
    with transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(
            verdict=verdict, verdict_by=user if verdict else None, verdict_at=now if verdict else None, updated_at=now
        )
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
    created_by: Any = None,
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
