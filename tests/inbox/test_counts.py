"""The sidebar's counts (``InboxCount`` cells): equal to ``COUNT(*)`` of the tickets after every kind of change —
escalations that create or merge, status, assignee, inbox, snooze and wake, deletes by cascade — and under
200 concurrent changes on PostgreSQL (real row locks; no deadlock, no lost update)."""

import random
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import Count
from django.utils import timezone

from agents.models import Conversation
from escalation.flow import handoff_request
from escalation.services import escalation_settings_ensure
from halo.models import Contact, Workspace
from inbox.models import CustomInbox, InboxCount, Ticket
from inbox.selectors import NOT_CLOSED, WAITING, inbox_lists, ticket_list
from inbox.services import inbox_counts_rebuild, ticket_delete, ticket_update, tickets_wake_due
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, MembershipFactory, WorkspaceFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory


def cells(workspace: Workspace) -> dict[tuple[str, int, int], int]:
    kept = InboxCount.objects.filter(workspace=workspace).exclude(n=0)
    return {(c.status, c.assignee_key, c.inbox_key): c.n for c in kept}


def counted(workspace: Workspace) -> dict[tuple[str, int, int], int]:
    """What the cells must hold: ``COUNT(*)`` of the workspace's tickets that are not closed, by cell."""
    rows = (
        Ticket.objects.filter(workspace=workspace)
        .exclude(status=Ticket.Status.CLOSED)
        .order_by()
        .values("status", "assignee_id", "inbox_id")
        .annotate(n=Count("pk"))
    )
    return {(r["status"], r["assignee_id"] or 0, r["inbox_id"] or 0): r["n"] for r in rows}


def assert_sidebar_counts_true(workspace: Workspace, user: User) -> None:
    """Every counted list of the sidebar shows the number of tickets its own list holds."""
    for item in inbox_lists(workspace=workspace, user_id=user.pk):
        if item.count is None:
            continue
        tickets = ticket_list(workspace=workspace, statuses=item.statuses, assignee=item.assignee, inbox=item.inbox)
        assert item.count == tickets.count(), item.key


@pytest.mark.django_db
class TestEveryChange:
    def test_each_kind_of_change_keeps_the_cells_equal_to_the_tickets(self) -> None:
        workspace = WorkspaceFactory()
        teammate = MembershipFactory(workspace=workspace).user
        billing = CustomInboxFactory(workspace=workspace, name="Billing")
        agent = AgentFactory(workspace=workspace)
        escalation_settings_ensure(agent=agent)
        contact = ContactFactory(workspace=workspace)
        first = handoff_request(conversation=ConversationFactory(workspace=workspace, agent=agent, contact=contact))
        ticket = first.ticket
        handoff_request(conversation=ConversationFactory(workspace=workspace, agent=agent, contact=contact))  # merge
        assert cells(workspace) == counted(workspace) == {("open", 0, 0): 1}

        steps: list[dict[str, Any]] = [
            {"status": Ticket.Status.PRIORITY},
            {"assignee": teammate.pk},
            {"inbox": billing.pk},
            {"status": Ticket.Status.SNOOZED, "snoozed_until": timezone.now() + timedelta(hours=1)},
            {"assignee": None},
            {"status": Ticket.Status.CLOSED},
            {"status": Ticket.Status.OPEN},  # re-opened
        ]
        for data in steps:
            ticket = ticket_update(ticket=ticket, data=data)
            assert cells(workspace) == counted(workspace), data
            assert_sidebar_counts_true(workspace, teammate)

        ticket = ticket_update(
            ticket=ticket,
            data={"status": Ticket.Status.SNOOZED, "snoozed_until": timezone.now() + timedelta(minutes=5)},
        )
        assert tickets_wake_due(now=timezone.now() + timedelta(minutes=10)) == 1
        assert cells(workspace) == counted(workspace) == {("open", 0, billing.pk): 1}

    def test_a_refused_change_leaves_the_cells_alone(self) -> None:
        workspace = WorkspaceFactory()
        ticket = TicketFactory(workspace=workspace)
        with pytest.raises(ValidationError):
            ticket_update(ticket=ticket, data={"assignee": 10**9})  # not a member
        assert cells(workspace) == counted(workspace) == {("open", 0, 0): 1}

    def test_deletes_outside_the_inbox_keep_the_cells_true(self) -> None:
        workspace = WorkspaceFactory()
        teammate = MembershipFactory(workspace=workspace).user
        billing = CustomInboxFactory(workspace=workspace)
        TicketFactory(workspace=workspace, assignee=teammate, inbox=billing)
        TicketFactory(workspace=workspace, assignee=teammate)
        TicketFactory(workspace=workspace, inbox=billing, status=Ticket.Status.PRIORITY)
        gone = TicketFactory(workspace=workspace)
        admin_deleted = TicketFactory(workspace=workspace, status=Ticket.Status.SNOOZED)

        Contact.objects.filter(pk=gone.contact_id).delete()  # its tickets go with it
        assert cells(workspace) == counted(workspace)
        ticket_delete(ticket=admin_deleted)
        assert cells(workspace) == counted(workspace)
        User.objects.filter(pk=teammate.pk).delete()  # their tickets become unassigned
        assert cells(workspace) == counted(workspace)
        CustomInbox.objects.filter(pk=billing.pk).delete()  # its tickets leave it
        assert cells(workspace) == counted(workspace) == {("open", 0, 0): 2, ("priority", 0, 0): 1}

    def test_a_rebuild_recounts_tickets_written_outside_the_services(self) -> None:
        workspace, other = WorkspaceFactory(), WorkspaceFactory()
        for status in ("open", "open", "snoozed", "closed"):
            TicketFactory(workspace=workspace, status=status)
        TicketFactory(workspace=other)
        Ticket.objects.filter(workspace=workspace, status="snoozed").update(status="priority")  # behind their back
        assert cells(workspace) != counted(workspace)

        inbox_counts_rebuild(workspace_id=workspace.pk)

        assert cells(workspace) == counted(workspace) == {("open", 0, 0): 2, ("priority", 0, 0): 1}
        assert cells(other) == {("open", 0, 0): 1}

    def test_the_sidebar_reads_its_counts_in_one_query_whatever_the_backlog(
        self, django_assert_num_queries: Any
    ) -> None:
        workspace = WorkspaceFactory()
        user = MembershipFactory(workspace=workspace).user
        CustomInboxFactory(workspace=workspace)
        for _ in range(30):
            TicketFactory(workspace=workspace)
        # Custom inboxes, saved views, every count.
        with django_assert_num_queries(3):
            lists = inbox_lists(workspace=workspace, user_id=user.pk)
        assert {item.key: item.count for item in lists}["open"] == 30


# --- Under concurrency (PostgreSQL) -------------------------------------------------------------------

CHANGES = 200
THREADS = 8


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_200_concurrent_changes_leave_every_cell_equal_to_count() -> None:
    """8 threads, each on its own connection, make 200 changes at once to 12 tickets of one workspace (and
    open new ones by handoff): every kind of change, in random order, many on the same tickets. Afterwards
    every cell equals COUNT(*) of its tickets and every sidebar count equals its list's size; no change
    failed but the refusals the rules make (a re-open while the contact has another open ticket)."""
    workspace = WorkspaceFactory()
    teammates = [MembershipFactory(workspace=workspace).user.pk for _ in range(3)]
    inboxes = [CustomInboxFactory(workspace=workspace).pk for _ in range(2)]
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    tickets = [TicketFactory(workspace=workspace).pk for _ in range(12)]
    contacts = [ContactFactory(workspace=workspace).pk for _ in range(6)]
    soon = timezone.now() + timedelta(hours=1)
    changes: list[tuple[str, Any]] = [
        *[("update", {"status": s}) for s in (Ticket.Status.OPEN, Ticket.Status.PRIORITY, Ticket.Status.CLOSED)],
        ("update", {"status": Ticket.Status.SNOOZED, "snoozed_until": soon}),
        *[("update", {"assignee": pk}) for pk in [*teammates, None]],
        *[("update", {"inbox": pk}) for pk in [*inboxes, None]],
        ("handoff", None),
    ]
    rng = random.Random(18)
    plan = [(rng.choice(changes), rng.choice(tickets), rng.choice(contacts)) for _ in range(CHANGES)]
    conversations = {
        n: ConversationFactory(workspace=workspace, agent=agent, contact_id=contact).pk
        for n, ((kind, _), _, contact) in enumerate(plan)
        if kind == "handoff"
    }
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    outcomes: Counter[str] = Counter()

    def run(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for n in range(worker, CHANGES, THREADS):
                (kind, data), ticket_id, _ = plan[n]
                try:
                    if kind == "handoff":
                        conversation = Conversation.objects.select_related("workspace", "agent", "contact").get(
                            pk=conversations[n]
                        )
                        handoff_request(conversation=conversation)
                    else:
                        ticket_update(ticket=Ticket.objects.get(pk=ticket_id), data=data, seen_escalation_count=None)
                    outcomes["done"] += 1
                except ValidationError:
                    outcomes["refused"] += 1  # e.g. a re-open while the contact has another open ticket
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []  # a deadlock would be an OperationalError here
    assert outcomes["done"] + outcomes["refused"] == CHANGES
    assert outcomes["done"] > CHANGES // 2
    assert cells(workspace) == counted(workspace)
    statuses = {status for status, _, _ in counted(workspace)}
    assert len(statuses) >= 2  # the changes spread the tickets over several cells
    user = User.objects.get(pk=teammates[0])
    assert_sidebar_counts_true(workspace, user)
    assert {item.key: item.count for item in inbox_lists(workspace=workspace, user_id=user.pk)}["open"] == (
        Ticket.objects.filter(workspace=workspace, status__in=WAITING).count()
    )
    assert sum(counted(workspace).values()) == Ticket.objects.filter(workspace=workspace, status__in=NOT_CLOSED).count()


@pytest.mark.django_db
def test_a_saved_views_count_is_reused_for_a_while_and_recounted_when_the_view_changes() -> None:
    """A view's rule is about contacts (not kept as cells): its capped count is reused for VIEW_COUNT_SECONDS,
    and an edited view is counted afresh."""
    from inbox.models import SavedView

    workspace = WorkspaceFactory()
    user = MembershipFactory(workspace=workspace).user
    view = SavedView.objects.create(workspace=workspace, name="Everyone", rule="")
    TicketFactory(workspace=workspace)

    def view_count() -> int | None:
        return {item.key: item.count for item in inbox_lists(workspace=workspace, user_id=user.pk)}[f"view-{view.pk}"]

    assert view_count() == 1
    TicketFactory(workspace=workspace)
    assert view_count() == 1  # reused
    view.statuses = ["open"]
    view.save()
    assert view_count() == 2  # another definition: counted now
