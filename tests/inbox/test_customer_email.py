"""Reaching the customer by email, at a real SMTP server (aiosmtpd) through the outbox as in production.

A teammate's replies that the customer has not seen in the widget are emailed to their verified address once
the delay after the first reply has passed: one email per burst, none when seen, none to an address typed in
the chat until it is confirmed by the signed link of the one confirmation email. The email's link reopens
the conversation in a hosted page, and a message sent with it lands in the ticket. Time is the test's clock
(the outbox's due times): the delay passes by ``clock.advance``, not by waiting.
"""

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail, signing
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from agents.links import conversation_link_token
from agents.models import Conversation, Message
from agents.services import conversation_seen
from halo import clock as halo_clock
from halo.email_confirmation import email_confirmation_token
from halo.models import Contact, OutboxMessage, Workspace
from halo.outbox import outbox_process
from inbox.events import MESSAGE_NEW
from inbox.models import InboxEvent, Ticket
from inbox.notifications.replies import (
    CONFIRM_EMAIL_TASK,
    REPLY_EMAIL_TASK,
    email_confirmation_deliver,
    reply_email_deliver,
)
from inbox.services import ticket_reply
from tests.halo.factories import ContactFactory, MembershipFactory
from tests.support.clock import ManualClock
from tests.support.smtp import Mailbox, email_parts, smtp_server

pytestmark = pytest.mark.django_db

DELAY = timedelta(minutes=5)


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    settings.REPLY_EMAIL_DELAY_MINUTES = 5
    with smtp_server(settings) as mailbox:
        yield mailbox


@pytest.fixture
def kim(workspace: Workspace) -> Any:
    return MembershipFactory(workspace=workspace, user__username="kim@acme.test", user__first_name="Kim").user


def deliver_due() -> None:
    """What the workers do with the customer-email tasks: deliver every row that is due now."""
    handlers = {REPLY_EMAIL_TASK: reply_email_deliver, CONFIRM_EMAIL_TASK: email_confirmation_deliver}
    due = OutboxMessage.objects.filter(
        task__in=handlers, state=OutboxMessage.State.PENDING, next_attempt_at__lte=halo_clock.now()
    )
    for row in due.order_by("id"):
        outbox_process(message_id=row.pk, handler=handlers[row.task])


def conversation_of(ticket: Ticket) -> Conversation:
    return ticket.conversations.get()


def test_a_burst_of_replies_is_one_email_after_the_delay(
    smtp: Mailbox, clock: ManualClock, escalate: Callable[..., Ticket], kim: Any
) -> None:
    ticket = escalate(email="jo@example.com", name="Jo")
    for body in ("Hi Jo, looking into it.", "Found it: the invoice was sent twice.", "Refunded <b>one</b>."):
        ticket_reply(ticket=ticket, teammate=kim, body=body)
    assert OutboxMessage.objects.filter(task=REPLY_EMAIL_TASK).count() == 1  # the burst joined one send

    deliver_due()
    assert smtp.messages == []  # not before the delay

    clock.advance(DELAY.total_seconds() + 1)
    deliver_due()
    deliver_due()

    [email] = smtp.messages
    assert smtp.to() == [["jo@example.com"]]
    assert email["Subject"] == "Kim replied to your conversation with Acme"
    assert email["From"] == "Acme <halo@localhost>"
    parts = email_parts(email)
    for body in ("Hi Jo, looking into it.", "Found it: the invoice was sent twice."):
        assert body in parts["text/plain"]
        assert body in parts["text/html"]
    assert "Refunded &lt;b&gt;one&lt;/b&gt;." in parts["text/html"]  # teammate text escaped in HTML
    assert "Kim" in parts["text/plain"]
    link = re.search(r"https://halo\.example\.com/chat/[^/\s]+/", parts["text/plain"])
    assert link is not None
    assert link.group(0) in parts["text/html"]

    # The next reply is a new burst: one more email, with that reply only.
    ticket_reply(ticket=ticket, teammate=kim, body="Anything else?")
    clock.advance(DELAY.total_seconds() + 1)
    deliver_due()
    assert len(smtp.messages) == 2
    second = email_parts(smtp.messages[1])["text/plain"]
    assert "Anything else?" in second
    assert "looking into it" not in second


def test_a_reply_seen_in_the_widget_is_not_emailed(
    smtp: Mailbox, clock: ManualClock, escalate: Callable[..., Ticket], kim: Any
) -> None:
    ticket = escalate(email="jo@example.com")
    reply = ticket_reply(ticket=ticket, teammate=kim, body="Done, you're all set.")
    conversation_seen(conversation=conversation_of(ticket), message_id=reply.pk)

    clock.advance(DELAY.total_seconds() + 1)
    deliver_due()

    assert smtp.messages == []
    assert OutboxMessage.objects.get(task=REPLY_EMAIL_TASK).state == OutboxMessage.State.DONE


def test_only_the_replies_after_the_seen_one_are_emailed(
    smtp: Mailbox, clock: ManualClock, escalate: Callable[..., Ticket], kim: Any
) -> None:
    ticket = escalate(email="jo@example.com")
    seen = ticket_reply(ticket=ticket, teammate=kim, body="First: seen in the chat.")
    conversation_seen(conversation=conversation_of(ticket), message_id=seen.pk)
    ticket_reply(ticket=ticket, teammate=kim, body="Second: after they left.")

    clock.advance(DELAY.total_seconds() + 1)
    deliver_due()

    [email] = smtp.messages
    text = email_parts(email)["text/plain"]
    assert "Second: after they left." in text
    assert "First: seen" not in text


def test_an_address_typed_in_the_chat_gets_no_reply_email(
    smtp: Mailbox, clock: ManualClock, escalate: Callable[..., Ticket], kim: Any
) -> None:
    ticket = escalate(user_id=None, visitor_id="visitor-0001", email=None, unverified_email="typed@example.com")
    ticket_reply(ticket=ticket, teammate=kim, body="Here is the answer.")

    clock.advance(DELAY.total_seconds() + 1)
    deliver_due()

    assert smtp.messages == []


def start_chat(widget: APIClient, workspace: Workspace, body: str) -> dict[str, Any]:
    response = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "user": {"visitor_id": "visitor-abcdef12"}, "body": body},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_typed_address_is_confirmed_by_its_link_and_then_gets_replies(
    smtp: Mailbox,
    clock: ManualClock,
    workspace: Workspace,
    agent: Any,
    widget: APIClient,
    kim: Any,
) -> None:
    started = start_chat(widget, workspace, "I want a human. Reach me at Ada@Example.com please")
    said = [message["body"] for message in started["messages"] if message["author"] == "system"]
    assert any("We'll email you at ada@example.com once you confirm it" in text for text in said)
    contact = Contact.objects.get(visitor_id="visitor-abcdef12")
    assert (contact.email, contact.unverified_email) == (None, "ada@example.com")

    # Typing the same address again sends no second confirmation.
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {started['token']}")
    widget.post(f"/api/widget/v1/conversations/{started['id']}/messages", {"body": "ada@example.com"}, format="json")
    deliver_due()
    [confirmation] = smtp.messages
    assert smtp.to() == [["ada@example.com"]]
    text = email_parts(confirmation)["text/plain"]
    link = re.search(r"https://halo\.example\.com(/chat/confirm/[^/\s]+/)", text)
    assert link is not None

    page = Client()
    shown = page.get(link.group(1))
    assert shown.status_code == 200
    assert b"Confirm my email" in shown.content
    contact.refresh_from_db()
    assert contact.email is None  # opening the link alone confirms nothing (mail scanners open links)
    confirmed = page.post(link.group(1))
    assert confirmed.status_code == 200
    assert b"Email confirmed" in confirmed.content
    contact.refresh_from_db()
    assert (contact.email, contact.unverified_email) == ("ada@example.com", None)

    # From now on a teammate's unseen reply reaches the address.
    ticket = Ticket.objects.get(contact=contact)
    ticket_reply(ticket=ticket, teammate=kim, body="Hi Ada!")
    clock.advance(DELAY.total_seconds() + 1)
    deliver_due()
    assert smtp.to() == [["ada@example.com"], ["ada@example.com"]]


def test_a_confirmation_link_never_takes_an_identified_contacts_email_or_merges(workspace: Workspace) -> None:
    identified = ContactFactory(workspace=workspace, user_id="u-1", email="boss@example.com")
    visitor = ContactFactory(
        workspace=workspace, user_id=None, visitor_id="visitor-0002", email=None, unverified_email="boss@example.com"
    )
    page = Client()

    # A link forged for the identified contact (its own address would be overwritten) confirms nothing.
    forged = email_confirmation_token(contact=identified, email="evil@example.com")
    assert page.post(f"/chat/confirm/{forged}/").status_code == 404
    identified.refresh_from_db()
    assert identified.email == "boss@example.com"

    # The visitor confirms an address another contact has: it becomes theirs, and the contacts stay apart.
    token = email_confirmation_token(contact=visitor, email="boss@example.com")
    assert page.post(f"/chat/confirm/{token}/").status_code == 200
    visitor.refresh_from_db()
    assert visitor.email == "boss@example.com"
    assert Contact.objects.filter(workspace=workspace, email="boss@example.com").count() == 2


def test_the_emailed_link_opens_the_conversation_and_a_reply_from_it_lands_in_the_ticket(
    escalate: Callable[..., Ticket], widget: APIClient
) -> None:
    ticket = escalate(email="jo@example.com")
    conversation = conversation_of(ticket)
    token = conversation_link_token(conversation=conversation)

    page = Client().get(f"/chat/{token}/")
    assert page.status_code == 200
    assert f'data-conversation-id="{conversation.pk}"'.encode() in page.content
    assert f'data-conversation-token="{token}"'.encode() in page.content

    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    listed = widget.get(f"/api/widget/v1/conversations/{conversation.pk}/messages")
    assert listed.status_code == 200
    assert listed.json()["messages"][0]["body"] == "I need help with my invoice"
    sent = widget.post(
        f"/api/widget/v1/conversations/{conversation.pk}/messages", {"body": "Thanks, one more thing"}, format="json"
    )
    assert sent.status_code == 201
    message = Message.objects.filter(conversation=conversation).latest("id")
    assert (message.author, message.body) == ("user", "Thanks, one more thing")
    assert InboxEvent.objects.filter(ticket_id=ticket.pk, type=MESSAGE_NEW, payload__message_id=message.pk).exists()


def test_a_link_opens_its_own_conversation_only(escalate: Callable[..., Ticket], widget: APIClient) -> None:
    mine, other = conversation_of(escalate()), conversation_of(escalate())
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {conversation_link_token(conversation=mine)}")

    assert widget.get(f"/api/widget/v1/conversations/{other.pk}/messages").status_code == 404


def test_an_expired_link_gets_a_page_that_says_so(
    escalate: Callable[..., Ticket], monkeypatch: pytest.MonkeyPatch, settings: Any, widget: APIClient
) -> None:
    settings.REPLY_LINK_MAX_AGE_DAYS = 14
    conversation = conversation_of(escalate())
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 15 * 86400)
    old = conversation_link_token(conversation=conversation)
    monkeypatch.setattr(signing.time, "time", real_time)

    page = Client().get(f"/chat/{old}/")

    assert page.status_code == 410
    assert b"This link has expired" in page.content
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {old}")
    assert widget.get(f"/api/widget/v1/conversations/{conversation.pk}/messages").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/chat/not-a-token/",
        "/chat/eyJjb252ZXJzYXRpb24iOjF9:1vRxyz:forgedforgedforgedforged/",
        "/chat/confirm/eyJjb250YWN0IjoxfQ:1vRxyz:forged/",
        "/chat/confirm/%00%ff/",
    ],
)
def test_a_forged_link_gets_a_page_that_says_so(db: None, path: str) -> None:
    page = Client()
    for response in (page.get(path), page.post(path)):
        assert response.status_code == 404
        assert b"This link doesn" in response.content


def test_confirmation_emails_are_capped_per_contact_and_day(
    smtp: Mailbox, workspace: Workspace, agent: Any, widget: APIClient
) -> None:
    started = start_chat(widget, workspace, "first@example.com")
    deliver_due()
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {started['token']}")
    said = []
    for address in ("second@example.com", "third@example.com", "fourth@example.com"):
        posted = widget.post(f"/api/widget/v1/conversations/{started['id']}/messages", {"body": address}, format="json")
        said += [message["body"] for message in posted.json()["messages"] if message["author"] == "system"]
        deliver_due()

    assert smtp.to() == [["first@example.com"], ["second@example.com"], ["third@example.com"]]
    assert "we've sent as many confirmation emails as we can today" in said[-1]
    assert Contact.objects.get(visitor_id="visitor-abcdef12").unverified_email == "fourth@example.com"


def test_a_confirmation_for_an_address_since_replaced_is_not_sent(
    smtp: Mailbox, workspace: Workspace, agent: Any, widget: APIClient
) -> None:
    started = start_chat(widget, workspace, "typo@exmaple.com")
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {started['token']}")
    widget.post(
        f"/api/widget/v1/conversations/{started['id']}/messages", {"body": "sorry: ada@example.com"}, format="json"
    )

    deliver_due()

    assert smtp.to() == [["ada@example.com"]]


# --- The burst rule, for any order of replies, receipts and time -----------------------------------------

Step = tuple[str, int]
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("reply"), st.just(0)),
        st.tuples(st.just("seen"), st.just(0)),
        st.tuples(st.just("wait"), st.integers(min_value=0, max_value=8)),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_every_unseen_reply_is_emailed_once_after_the_delay_with_its_burst(
    steps: list[Step], settings: Any, clock: ManualClock, escalate: Callable[..., Ticket], kim: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REPLY_EMAIL_DELAY_MINUTES = 5
    mail.outbox = []
    ticket = escalate(email="jo@example.com")
    conversation = conversation_of(ticket)
    written: dict[str, datetime] = {}  # reply body -> when it was written
    seen_before_email: set[str] = set()  # replies on screen before any email carried them
    emailed: dict[str, int] = {}  # reply body -> index of the email that carried it
    sent_at: list[datetime] = []

    def deliver() -> None:
        deliver_due()
        while len(sent_at) < len(mail.outbox):
            index = len(sent_at)
            sent_at.append(halo_clock.now())
            for body in written:
                if body in mail.outbox[index].body:
                    assert body not in emailed, f"{body} emailed twice"
                    emailed[body] = index

    for action, minutes in [*steps, ("wait", 6)]:
        if action == "reply":
            body = f"Reply number {len(written) + 1}."
            ticket_reply(ticket=ticket, teammate=kim, body=body)
            written[body] = halo_clock.now()
        elif action == "seen" and written:
            latest = conversation.messages.latest("id")
            conversation_seen(conversation=conversation, message_id=latest.pk)
            seen_before_email |= {body for body in written if body not in emailed}
        else:
            clock.advance(minutes * 60)
        deliver()

    for body, at in written.items():
        if body in seen_before_email:
            assert body not in emailed, f"{body} was seen, yet emailed"
            continue
        assert body in emailed, f"{body} was never seen, yet never emailed"
        assert sent_at[emailed[body]] - at <= DELAY + timedelta(minutes=9)  # due at the burst's first reply
    for index, sent in enumerate(sent_at):
        carried = [written[body] for body, email in emailed.items() if email == index]
        assert sent - min(carried) >= DELAY  # never before the delay after the burst's first reply
    # One email per burst: an emailed reply written before another's email went out rode in that email.
    for first, index in emailed.items():
        for later, other in emailed.items():
            if written[first] <= written[later] < sent_at[index]:
                assert other == index, f"{later} was written while {first}'s email waited, yet sent apart"
