"""One page of an inbox list (``inbox.selectors.inbox_page``): each shape of page is compiled once and run
with each page's values, so pages of the same shape must still read each their own workspace, statuses,
assignee, team inbox, rule and position, and return what the ORM's queryset returns."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from halo.models import Workspace
from inbox import selectors
from inbox.models import SavedView, Ticket
from inbox.selectors import UNSET, InboxList, ListFilters, Sort, inbox_list_get, inbox_page, saved_view_list
from tests.agents.factories import ConversationFactory, MessageFactory
from tests.halo.factories import CompanyFactory, ContactFactory, UserFactory, WorkspaceFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory

pytestmark = pytest.mark.django_db


def ids(tickets: list[Ticket]) -> list[int]:
    return [ticket.pk for ticket in tickets]


def page(workspace: Workspace, key: str, **kwargs: Any) -> list[int]:
    inbox_list = inbox_list_get(workspace=workspace, user_id=0, key=key)
    assert inbox_list is not None
    tickets, _ = inbox_page(workspace=workspace, inbox_list=inbox_list, **kwargs)
    return ids(tickets)


def open_tickets_of_rule(rule: str) -> InboxList:
    """A saved view's list: the open tickets whose contact matches ``rule``."""
    return InboxList(key="view-1", label="View", count=None, statuses=["open"], assignee=None, segment=rule)


def test_pages_of_one_shape_read_each_their_own_workspace_statuses_and_ids(workspace: Workspace) -> None:
    other = WorkspaceFactory(name="Globex", slug="globex")
    kim, lee = UserFactory(username="kim@acme.test"), UserFactory(username="lee@acme.test")
    billing = CustomInboxFactory(workspace=workspace, name="Billing")
    ours = [TicketFactory(workspace=workspace) for _ in range(3)]
    theirs = [TicketFactory(workspace=other) for _ in range(2)]
    for_kim = TicketFactory(workspace=workspace, assignee=kim, status=Ticket.Status.PRIORITY)
    for_lee = TicketFactory(workspace=workspace, assignee=lee, inbox=billing)
    closed = TicketFactory(workspace=workspace, status=Ticket.Status.CLOSED)

    newest_first = [for_lee.pk, for_kim.pk, *reversed(ids(ours))]
    assert page(workspace, "open") == newest_first
    assert page(other, "open") == list(reversed(ids(theirs)))
    assert page(workspace, "closed") == [closed.pk]
    assert page(workspace, "priority") == [for_kim.pk]
    assert page(workspace, "open", filters=ListFilters(assignee=kim.pk)) == [for_kim.pk]
    assert page(workspace, "open", filters=ListFilters(assignee=lee.pk)) == [for_lee.pk]
    assert page(workspace, "open", filters=ListFilters(assignee=UNSET)) == list(reversed(ids(ours)))
    assert page(workspace, "open", filters=ListFilters(inbox=billing.pk)) == [for_lee.pk]
    assert page(workspace, "open", filters=ListFilters(statuses=("priority",))) == [for_kim.pk]
    assert page(workspace, "open", filters=ListFilters(statuses=("open",))) == [for_lee.pk, *reversed(ids(ours))]
    assert page(workspace, "open", before=for_kim.pk) == list(reversed(ids(ours)))
    assert page(workspace, "open", before=ours[1].pk) == [ours[0].pk]
    assert page(workspace, "open", filters=ListFilters(sort=Sort.OLDEST), before=ours[1].pk) == [
        ours[2].pk,
        for_kim.pk,
        for_lee.pk,
    ]
    assert page(workspace, f"inbox-{billing.pk}") == [for_lee.pk]


def test_a_page_is_what_the_querysets_of_its_list_return(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shape the list page offers, compiled, checked against the queryset built afresh (the ORM's own
    reading)."""
    monkeypatch.setattr(selectors, "_page_reads", type(selectors._page_reads)())
    kim = UserFactory(username="kim@acme.test", first_name="Kim")
    billing = CustomInboxFactory(workspace=workspace, name="Billing")
    enterprise = CompanyFactory(workspace=workspace, name="Acme", plan="enterprise")
    view = SavedView.objects.create(workspace=workspace, name="Big", rule="company.plan = enterprise")
    for index in range(8):
        ticket = TicketFactory(
            workspace=workspace,
            contact=ContactFactory(workspace=workspace, company=enterprise if index % 2 else None),
            assignee=kim if index % 3 == 0 else None,
            inbox=billing if index % 4 == 1 else None,
            status=[Ticket.Status.OPEN, Ticket.Status.PRIORITY, Ticket.Status.CLOSED][index % 3],
            first_reply_due_at=timezone.now() + dt.timedelta(hours=8 - index) if index % 2 else None,
        )
        conversation = ConversationFactory(workspace=workspace, contact=ticket.contact)
        MessageFactory(conversation=conversation, author="user", body=f"Question {index}")
        ticket.conversations.add(conversation)
    lists = [
        *(inbox_list_get(workspace=workspace, user_id=kim.pk, key=key) for key in ("open", "mine", "all", "closed")),
        inbox_list_get(workspace=workspace, user_id=kim.pk, key=f"inbox-{billing.pk}"),
        saved_view_list(view=view, user_id=kim.pk),
    ]
    filters = [
        ListFilters(),
        ListFilters(statuses=("open", "closed"), assignee=UNSET),
        ListFilters(assignee=kim.pk, inbox=UNSET, outcome="unjudged"),
        ListFilters(inbox=billing.pk, sort=Sort.OLDEST),
        ListFilters(sort=Sort.DUE),
    ]
    fields = ("pk", "status", "assignee_id", "inbox_id", "preview", "updated_at", "first_reply_due_at")
    for inbox_list in lists:
        assert inbox_list is not None
        for narrowed in filters:
            for before in (None, 6 if narrowed.sort != Sort.DUE else None):
                keyset = None if before is None else Ticket.objects.order_by("id")[before].pk
                found, _ = inbox_page(workspace=workspace, inbox_list=inbox_list, filters=narrowed, before=keyset)
                expected = list(
                    selectors._page_tickets(
                        workspace=workspace,
                        inbox_list=inbox_list,
                        filters=narrowed,
                        before=keyset,
                        after=None,
                        now=None,
                    )
                )[: selectors.INBOX_PAGE_SIZE]
                assert [[getattr(t, f) for f in fields] for t in found] == [
                    [getattr(t, f) for f in fields] for t in expected
                ], (inbox_list.key, narrowed, before)
                assert [(str(t.contact), t.contact.company, t.assignee, t.inbox) for t in found] == [
                    (str(t.contact), t.contact.company, t.assignee, t.inbox) for t in expected
                ]
    assert None not in selectors._page_reads.values()  # each one compiled: none built afresh


def test_a_saved_view_reads_its_rule_among_its_own_workspaces_contacts(workspace: Workspace) -> None:
    other = WorkspaceFactory(name="Globex", slug="globex")
    rule = "company.plan = enterprise"
    ours = TicketFactory(workspace=workspace, contact__company=CompanyFactory(workspace=workspace, plan="enterprise"))
    theirs = TicketFactory(workspace=other, contact__company=CompanyFactory(workspace=other, plan="enterprise"))
    # A ticket whose contact is another workspace's: the rule never reads another workspace's contacts.
    crossed = TicketFactory(
        workspace=workspace, contact=ContactFactory(workspace=other, company=theirs.contact.company)
    )
    views = {
        space: saved_view_list(view=SavedView.objects.create(workspace=space, name="Big", rule=rule), user_id=0)
        for space in (workspace, other)
    }

    assert ids(inbox_page(workspace=workspace, inbox_list=views[workspace])[0]) == [ours.pk]
    assert ids(inbox_page(workspace=other, inbox_list=views[other])[0]) == [theirs.pk]
    assert crossed.pk not in ids(inbox_page(workspace=workspace, inbox_list=views[workspace])[0])


def test_a_rule_on_days_ago_is_read_at_each_pages_time(workspace: Workspace) -> None:
    now = timezone.now()
    ticket = TicketFactory(workspace=workspace, contact__last_active_at=now - dt.timedelta(days=1))
    recent = open_tickets_of_rule("activity.last_active less than 3 days ago")

    assert ids(inbox_page(workspace=workspace, inbox_list=recent, now=now)[0]) == [ticket.pk]
    assert ids(inbox_page(workspace=workspace, inbox_list=recent, now=now + dt.timedelta(days=5))[0]) == []


def test_a_rule_whose_literal_is_a_placeholder_still_reads_its_own_values(workspace: Workspace) -> None:
    """A compiled read marks each value by a placeholder; a rule's literal equal to one cannot be told apart
    from it, and that page is built afresh."""
    literal = selectors._placeholder(str, 2)  # the list's first status, after the two workspace ids
    named = TicketFactory(workspace=workspace, contact__name=literal)
    TicketFactory(workspace=workspace, contact__name="Someone else")
    odd = open_tickets_of_rule(f'user.name = "{literal}"')

    for _ in range(2):
        assert ids(inbox_page(workspace=workspace, inbox_list=odd)[0]) == [named.pk]


def test_pages_stay_right_when_their_shapes_are_dropped(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selectors, "PAGE_READ_SHAPES", 1)
    monkeypatch.setattr(selectors, "_page_reads", type(selectors._page_reads)())
    open_ticket = TicketFactory(workspace=workspace)
    closed = TicketFactory(workspace=workspace, status=Ticket.Status.CLOSED)

    for _ in range(2):
        assert page(workspace, "open") == [open_ticket.pk]
        assert page(workspace, "closed") == [closed.pk]
        assert page(workspace, "all") == [closed.pk, open_ticket.pk]
    assert len(selectors._page_reads) == 1
