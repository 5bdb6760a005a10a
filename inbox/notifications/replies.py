"""Reaching the customer by email: a teammate's reply they have not seen, and the confirmation of an address
they typed in the chat.

**Replies.** ``reply_email_schedule`` runs in the transaction of a teammate's reply (``inbox.services.
ticket_reply``). The first reply of a burst records one outbox row, due ``REPLY_EMAIL_DELAY_MINUTES`` later;
replies while it waits join it (nothing new is recorded). When it is due, ``reply_email_deliver`` emails the
teammate replies that are above both the customer's seen mark (the widget's receipts) and what was emailed
before — so a receipt in the meantime cancels the email, and a reply that came while a send was in flight
goes out once, in the next burst's email. A reply that joined a burst a receipt then ended starts the next
burst: no reply is emailed sooner than the delay after it was written. Only the contact's verified
``email`` is ever written to (set by the workspace's server API, a signed widget identity, or a confirmed
chat address); an address typed in the chat (``unverified_email``) is not. The email holds the replies,
the teammates' names and a signed link that reopens the conversation (``agents.links``).

**Confirmation.** When a visitor types an address in the chat, ``email_confirmation_schedule`` records one
email to it (at most ``CONFIRMATIONS_PER_DAY`` per contact) with a signed link (``halo.email_confirmation``);
opening it and pressing "Confirm" makes it the contact's verified email (``halo.services.contact_email_verify``),
and from then on replies are emailed.

Both are delivered by Django's email backend through the outbox (retries, failures visible to admins); a
refused recipient is a permanent failure. Customer and teammate text is escaped in the HTML part.
"""

import smtplib
from datetime import timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from agents.events import author_name
from agents.links import conversation_link_token, link_max_age
from agents.models import Conversation, Message
from agents.services import conversation_replies_emailed
from halo import clock
from halo.email_confirmation import email_confirmation_token
from halo.models import Contact, OutboxMessage, Workspace
from halo.outbox import PermanentFailure, outbox_enqueue, outbox_pending_exists, outbox_recorded_since

REPLY_EMAIL_TASK = "inbox.tasks.reply_email"
CONFIRM_EMAIL_TASK = "inbox.tasks.email_confirmation"
SUBJECT_CHARS = 150
# Confirmation emails one contact may cause in a day (each typed address gets one).
CONFIRMATIONS_PER_DAY = 3


def _from_address(workspace: Workspace) -> str:
    """The workspace's name over Halo's sending address: customers see who writes to them."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((workspace.name, address))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _send(email: EmailMultiAlternatives) -> None:
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentFailure(f"The mail server refused the recipient: {error.recipients}") from None


# --- Replies -----------------------------------------------------------------------------------------


def _delay() -> timedelta:
    return timedelta(minutes=settings.REPLY_EMAIL_DELAY_MINUTES)


def reply_email_schedule(*, conversation: Conversation) -> None:
    """In a teammate reply's transaction: the first reply of a burst records the email, due after the delay;
    the others join it. A contact Halo has no address for at all (verified or typed) gets nothing."""
    contact = conversation.contact
    if not (contact.email or contact.unverified_email):
        return
    match: dict[str, object] = {"conversation_id": conversation.pk}
    if outbox_pending_exists(task=REPLY_EMAIL_TASK, workspace_id=conversation.workspace_id, payload_match=match):
        return
    outbox_enqueue(
        workspace=conversation.workspace,
        task=REPLY_EMAIL_TASK,
        payload=match,
        delay=_delay(),
    )


def conversation_link(conversation: Conversation) -> str:
    token = conversation_link_token(conversation=conversation)
    return f"{settings.SITE_URL}{reverse('conversation-link', args=[token])}"


def reply_email_build(*, conversation: Conversation, replies: list[Message], message_id: str) -> EmailMultiAlternatives:
    workspace = conversation.workspace
    names = list(dict.fromkeys(author_name(reply) or "Support team" for reply in replies))
    context = {
        "workspace": workspace,
        "contact": conversation.contact,
        "replies": [{"author": author_name(reply), "body": reply.body, "at": reply.created_at} for reply in replies],
        "names": names,
        "link": conversation_link(conversation),
        "link_days": link_max_age().days,
    }
    who = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    subject = _one_line(f"{who} replied to your conversation with {workspace.name}")
    email = EmailMultiAlternatives(
        subject=subject[:SUBJECT_CHARS],
        body=render_to_string("inbox/email/reply.txt", context),
        from_email=_from_address(workspace),
        to=[conversation.contact.email or ""],
        headers={"Message-ID": message_id},
    )
    email.attach_alternative(render_to_string("inbox/email/reply.html", context), "text/html")
    return email


def reply_email_deliver(message: OutboxMessage) -> None:
    """Outbox handler: email the conversation's unseen teammate replies that were not emailed yet, to the
    contact's verified address. Nothing to send (all seen, no verified address) ends the row quietly."""
    conversation = (
        Conversation.objects.select_related("contact", "workspace")
        .filter(pk=int(message.payload["conversation_id"]))
        .first()
    )
    if conversation is None or not conversation.contact.email:
        return
    floor = max(conversation.customer_seen_message_id or 0, conversation.replies_emailed_through_id or 0)
    replies = list(
        Message.objects.filter(conversation=conversation, author=Message.Author.TEAMMATE, pk__gt=floor)
        .select_related("teammate")
        .order_by("id")
    )
    if not replies:
        return
    due = replies[0].created_at + _delay()
    if due > clock.now():
        # A receipt ended the burst this row was for; the first reply still unseen starts the next one.
        outbox_enqueue(
            workspace=conversation.workspace,
            task=REPLY_EMAIL_TASK,
            payload={"conversation_id": conversation.pk},
            delay=due - clock.now(),
        )
        return
    email = reply_email_build(
        conversation=conversation, replies=replies, message_id=f"<halo-outbox-{message.pk}@halo.invalid>"
    )
    _send(email)
    conversation_replies_emailed(conversation=conversation, through_id=replies[-1].pk)


# --- Confirming a typed address ------------------------------------------------------------------------


def email_confirmation_schedule(*, contact: Contact, email: str) -> bool:
    """In the transaction that captured ``email`` from the chat: one confirmation email to it. At most
    ``CONFIRMATIONS_PER_DAY`` per contact, so a chat cannot be used to mail strangers: False when the cap is
    reached (nothing is recorded)."""
    recorded = outbox_recorded_since(
        task=CONFIRM_EMAIL_TASK,
        workspace_id=contact.workspace_id,
        payload_match={"contact_id": contact.pk},
        since=clock.now() - timedelta(days=1),
    )
    if recorded >= CONFIRMATIONS_PER_DAY:
        return False
    outbox_enqueue(
        workspace=contact.workspace,
        task=CONFIRM_EMAIL_TASK,
        payload={"contact_id": contact.pk, "email": email},
    )
    return True


def email_confirmation_build(*, contact: Contact, email: str, message_id: str) -> EmailMultiAlternatives:
    workspace = contact.workspace
    token = email_confirmation_token(contact=contact, email=email)
    context = {
        "workspace": workspace,
        "email": email,
        "link": f"{settings.SITE_URL}{reverse('email-confirm', args=[token])}",
        "link_days": settings.EMAIL_CONFIRM_MAX_AGE_DAYS,
    }
    message = EmailMultiAlternatives(
        subject=_one_line(f"Confirm your email to get {workspace.name}'s replies")[:SUBJECT_CHARS],
        body=render_to_string("inbox/email/confirm.txt", context),
        from_email=_from_address(workspace),
        to=[email],
        headers={"Message-ID": message_id},
    )
    message.attach_alternative(render_to_string("inbox/email/confirm.html", context), "text/html")
    return message


def email_confirmation_deliver(message: OutboxMessage) -> None:
    """Outbox handler: the confirmation email, unless the contact has since typed another address or has a
    verified one (the link would confirm nothing)."""
    contact = Contact.objects.select_related("workspace").filter(pk=int(message.payload["contact_id"])).first()
    email = str(message.payload["email"])
    if contact is None or contact.email or contact.unverified_email != email:
        return
    _send(email_confirmation_build(contact=contact, email=email, message_id=f"<halo-outbox-{message.pk}@halo.invalid>"))
