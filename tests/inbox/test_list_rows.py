"""What one ticket row of an inbox list shows: the contact and company, the time, the customer's latest
message, status, reason, confidence, escalations, assignee and team inbox, and a link that keeps the list.

The rows are formatted and rendered in ``inbox.views`` rather than by the template engine (B5); these
tests pin the text a teammate sees, exactly as the template's filters rendered it, and that customer and
teammate text in a row stays text.
"""

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from halo.clock import clock_use
from inbox.models import SavedView, Ticket
from tests.agents.factories import ConversationFactory, MessageFactory
from tests.halo.factories import CompanyFactory, ContactFactory, UserFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory
from tests.support.clock import FixedClock

pytestmark = pytest.mark.django_db


def row_html(staff: Client, ticket: Ticket, key: str = "open") -> str:
    """The ``<a class="ticket-row" …>…</a>`` of ``ticket`` on the list page ``key``."""
    html = staff.get(reverse("inbox:list", args=[key])).content.decode()
    match = re.search(rf'<a class="ticket-row[^"]*"[^>]*data-ticket-id="{ticket.pk}">.*?</a>', html, re.S)
    assert match is not None, f"ticket {ticket.pk} is not on the list {key}"
    return match.group(0)


def with_customer_message(ticket: Ticket, body: str) -> Ticket:
    conversation = ConversationFactory(workspace=ticket.workspace, contact=ticket.contact)
    MessageFactory(conversation=conversation, author="user", body="An older question")
    MessageFactory(conversation=conversation, author="user", body=body)
    MessageFactory(conversation=conversation, author="ai", body="The AI's answer is not the preview")
    ticket.conversations.add(conversation)
    return ticket


def test_row_shows_every_part_of_a_fully_described_ticket(staff: Client, workspace) -> None:
    company = CompanyFactory(workspace=workspace, name="Acme & Sons")
    assignee = UserFactory(username="kim@acme.test", first_name="Kim", last_name="Lee")
    billing = CustomInboxFactory(workspace=workspace, name="Billing")
    updated = timezone.now() - dt.timedelta(hours=2, minutes=5)
    ticket = TicketFactory(
        workspace=workspace,
        contact=ContactFactory(workspace=workspace, name="Jane Roe", company=company),
        status=Ticket.Status.PRIORITY,
        reason="manual",
        confidence=0,
        escalation_count=3,
        assignee=assignee,
        inbox=billing,
    )
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=updated)
    with_customer_message(ticket, "Where is my refund?")

    row = row_html(staff, ticket)

    assert f'href="/inbox/tickets/{ticket.pk}/?list=open"' in row
    assert 'class="ticket-row status-priority"' in row
    assert '<span class="ticket-contact">Jane Roe</span>' in row
    assert '<span class="ticket-company">Acme &amp; Sons</span>' in row
    assert f'datetime="{updated.isoformat()}"' in row
    assert ">2\xa0hours, 5\xa0minutes ago</time>" in row
    assert '<span class="ticket-preview">Where is my refund?</span>' in row
    assert '<span class="pill pill-priority">Priority</span>' in row
    assert f"<span>#{ticket.pk}</span>" in row
    assert "<span>The customer asked for a human</span>" in row
    assert "<span>0% confident</span>" in row  # zero is a confidence, not a missing one
    assert "<span>3 escalations</span>" in row
    assert '<span class="ticket-assignee">Kim Lee</span>' in row
    assert '<span class="ticket-inbox">Billing</span>' in row


def test_row_leaves_out_what_a_ticket_does_not_have(staff: Client, workspace) -> None:
    ticket = TicketFactory(
        workspace=workspace,
        contact=ContactFactory(workspace=workspace, name=None, email=None, user_id="u-42"),
        reason="phrase",
        confidence=None,
        escalation_count=1,
    )

    row = row_html(staff, ticket)

    assert '<span class="ticket-contact">u-42</span>' in row  # the contact's name falls back to the user id
    assert "ticket-company" not in row
    assert '<span class="ticket-preview">(no message)</span>' in row
    assert "% confident" not in row
    assert "escalations" not in row
    assert '<span class="ticket-assignee">Unassigned</span>' in row
    assert "<span>The AI said it needed a teammate</span>" in row
    assert row.count("<span>") == 2  # the id and the reason, nothing else without a class


def test_assignee_without_a_name_is_shown_by_username(staff: Client, workspace) -> None:
    ticket = TicketFactory(workspace=workspace, assignee=UserFactory(username="sam@acme.test"))
    assert '<span class="ticket-assignee">sam@acme.test</span>' in row_html(staff, ticket)


def test_long_message_is_cut_at_140_characters_with_an_ellipsis(staff: Client, workspace) -> None:
    ticket = with_customer_message(TicketFactory(workspace=workspace), "x" * 139 + "yz" + " and more")
    fits = with_customer_message(TicketFactory(workspace=workspace), "é" * 140)

    assert f'<span class="ticket-preview">{"x" * 139}…</span>' in row_html(staff, ticket)
    assert f'<span class="ticket-preview">{"é" * 140}</span>' in row_html(staff, fits)


def test_decomposed_accents_are_shown_composed_as_before(staff: Client, workspace) -> None:
    ticket = with_customer_message(TicketFactory(workspace=workspace), "Cafe\u0301 au lait")
    assert '<span class="ticket-preview">Caf\u00e9 au lait</span>' in row_html(staff, ticket)


def test_row_links_keep_the_list_they_were_opened_from(staff: Client, workspace) -> None:
    view = SavedView.objects.create(workspace=workspace, name="All open", rule="")
    ticket = TicketFactory(workspace=workspace)

    row = row_html(staff, ticket, key=f"view-{view.pk}")

    assert f'href="/inbox/tickets/{ticket.pk}/?list=view-{view.pk}"' in row
    assert staff.get(f"/inbox/tickets/{ticket.pk}/?list=view-{view.pk}").status_code == 200


def test_customer_text_in_a_row_is_escaped(staff: Client, workspace) -> None:
    payload = '<img src=x onerror="alert(1)">'
    ticket = TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, name=payload))
    with_customer_message(ticket, payload)

    row = row_html(staff, ticket)

    assert "<img" not in row
    assert row.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 2


class Markup(HTMLParser):
    """The elements and attribute names of an HTML fragment, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}


def test_hostile_text_in_every_part_of_a_row_stays_text(staff: Client, workspace) -> None:
    payload = '"><script>alert(1)</script><img src=x onerror=alert(2) title="'
    ticket = TicketFactory(
        workspace=workspace,
        contact=ContactFactory(
            workspace=workspace, name=payload, company=CompanyFactory(workspace=workspace, name=payload)
        ),
        assignee=UserFactory(username="mallory@acme.test", first_name=payload, last_name=""),
        inbox=CustomInboxFactory(workspace=workspace, name=payload),
        escalation_count=2,
    )
    with_customer_message(ticket, payload)

    html = staff.get(reverse("inbox:list", args=["open"])).content.decode()
    item = re.search(rf'<li class="ticket-item">(?:(?!</li>).)*data-ticket-id="{ticket.pk}".*?</li>', html, re.S)
    assert item is not None
    markup = Markup()
    markup.feed(item.group(0))

    assert markup.tags == {"li", "input", "a", "span", "time"}
    assert markup.attributes == {
        "class", "type", "name", "value", "form", "aria-label", "aria-hidden", "href", "data-ticket-id",
        "datetime", "title",
    }  # fmt: skip
    escaped = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2) title=&quot;"
    # The checkbox's label, the contact, the company, the message, the assignee and the team inbox.
    assert item.group(0).count(escaped) == 6
    assert '<span class="avatar" aria-hidden="true">&quot;</span>' in item.group(0)


def test_a_row_is_this_html_to_the_character(staff: Client, workspace) -> None:
    """The whole row of a ticket with every part, on a stopped clock: the page's rows are built with helpers
    of their own (a date format parsed once, compiled reads), and must write what the template wrote."""
    updated = dt.datetime(2026, 3, 5, 13, 7, tzinfo=dt.UTC)
    ticket = TicketFactory(
        workspace=workspace,
        contact=ContactFactory(
            workspace=workspace, name="Jane <Roe>", company=CompanyFactory(workspace=workspace, name="Acme & Sons")
        ),
        status=Ticket.Status.PRIORITY,
        reason="manual",
        confidence=35,
        escalation_count=2,
        assignee=UserFactory(username="kim@acme.test", first_name="Kim", last_name="Lee"),
        inbox=CustomInboxFactory(workspace=workspace, name="Billing"),
        rating_score=4,
        first_reply_due_at=updated + dt.timedelta(hours=3),
    )
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=updated)
    with_customer_message(ticket, 'Where is my "refund"?')

    with clock_use(FixedClock(updated + dt.timedelta(hours=2, minutes=5))):
        html = staff.get(reverse("inbox:list", args=["open"])).content.decode()
    item = re.search(r'\n  <li class="ticket-item">.*?</li>', html, re.S)

    assert item is not None
    assert item.group(0) == (
        '\n  <li class="ticket-item">'  # noqa: S608 (HTML, not SQL)
        f'\n    <input type="checkbox" class="ticket-select" name="ticket" value="{ticket.pk}" form="bulk-form"'
        f' aria-label="Select #{ticket.pk} from Jane &lt;Roe&gt;">'
        f'\n    <input type="hidden" name="seen_{ticket.pk}" value="2" form="bulk-form">'
        f'\n    <a class="ticket-row status-priority" href="/inbox/tickets/{ticket.pk}/?list=open"'
        f' data-ticket-id="{ticket.pk}">'
        '\n      <span class="ticket-row-top">'
        '\n        <span class="avatar" aria-hidden="true">J</span>'
        '\n        <span class="ticket-contact">Jane &lt;Roe&gt;</span>'
        '<span class="ticket-company">Acme &amp; Sons</span>'
        '\n        <time class="ticket-time" datetime="2026-03-05T13:07:00+00:00" title="March 5, 2026, 1:07 p.m.">'
        "2\xa0hours, 5\xa0minutes ago</time>"
        "\n      </span>"
        '\n      <span class="ticket-preview">Where is my &quot;refund&quot;?</span>'
        '\n      <span class="ticket-meta">'
        '\n        <span class="pill pill-priority">Priority</span>'
        '\n        <span class="sla-badge sla-waiting">Reply due in 55 min</span>'
        f"\n        <span>#{ticket.pk}</span>"
        "\n        <span>The customer asked for a human</span>"
        "\n        <span>35% confident</span>"
        "\n        <span>2 escalations</span>"
        '\n        <span class="ticket-assignee">Kim Lee</span>'
        '\n        <span class="ticket-inbox">Billing</span>'
        '\n        <span class="ticket-rating rating-4" title="Customer rating: 4 out of 5">★ 4/5</span>'
        "\n      </span>"
        "\n    </a>"
        "\n  </li>"
    )
