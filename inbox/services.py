"""Writes of the inbox app: changing a ticket (status, assignee, inbox) and building its AI summary.

``ticket_update`` validates like the rest of the product (an assignee must be a member of the ticket's
workspace, an inbox must belong to it) and owns the status transitions: closing a ticket hands its
conversations back to the AI (the conversation's gates start afresh, see ``escalation.selectors``), and
re-opening a closed ticket is refused while the contact has another ticket that is not closed (the
database's partial unique constraint decides).

``ticket_summarize`` is the built-in, offline summary: it quotes what the user asked (first and latest
messages) and why the AI handed off. Customer text is data here, never an instruction: nothing in it can
change a ticket's routing, status or assignee.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Conversation, Message
from halo.models import Membership
from inbox.models import CustomInbox, Ticket

REASON_LABELS = {
    "escalate_tool": "the AI called its escalate tool",
    "phrase": "the AI said it needed a teammate",
    "low_confidence": "the AI was not confident in its answer",
    "manual": "the customer asked for a human",
}
SUMMARY_QUOTE_CHARS = 280
TICKET_EDITABLE_FIELDS = ("status", "assignee", "inbox")


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
    """Fill in the ticket's AI summary (idempotent: running it again rebuilds the same summary)."""
    ticket = Ticket.objects.get(pk=ticket_id)
    bodies = list(
        Message.objects.filter(conversation__tickets=ticket, author=Message.Author.USER)
        .order_by("id")
        .values_list("body", flat=True)[:500]
    )
    summary = ticket_summary_build(ticket=ticket, user_messages=bodies)
    Ticket.objects.filter(pk=ticket.pk).update(summary=summary, summary_state=Ticket.SummaryState.READY)
    ticket.summary, ticket.summary_state = summary, Ticket.SummaryState.READY
    return ticket


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


def ticket_update(*, ticket: Ticket, data: dict[str, Any]) -> Ticket:
    """Change a ticket's status, assignee or inbox. ``assignee``/``inbox`` take an id or None."""
    unknown = set(data) - set(TICKET_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    now = timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        was_closed = locked.status == Ticket.Status.CLOSED
        if "status" in data:
            locked.status = data["status"]
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
    return locked


def _conversations_hand_back(*, ticket: Ticket, now: Any) -> None:
    """Closing a ticket gives its conversations back to the AI, unless another open ticket holds them."""
    conversation_ids = list(
        ticket.conversations.filter(status=Conversation.Status.HANDED_OFF)
        .exclude(tickets__in=Ticket.objects.exclude(pk=ticket.pk).exclude(status=Ticket.Status.CLOSED))
        .values_list("pk", flat=True)
    )
    Conversation.objects.filter(pk__in=conversation_ids).update(status=Conversation.Status.OPEN, updated_at=now)
