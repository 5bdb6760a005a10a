"""Team assignment (``inbox.services``): a team inbox's policy gives each escalated ticket to an available
member with room, round robin or balanced; tickets wait when nobody has room and are given out oldest first
once someone frees a place or comes back, by the outbox task and by the beat sweep."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent, Conversation
from escalation.flow import handoff_request
from escalation.services import escalation_settings_ensure, escalation_settings_update
from halo.models import Membership, OutboxMessage, Workspace
from inbox.models import CustomInbox, InboxEvent, InboxMember, Ticket
from inbox.notifications import EMAIL_TASK
from inbox.services import (
    ASSIGN_TASK,
    custom_inbox_update,
    teammate_availability_set,
    ticket_update,
    tickets_assign_waiting,
)
from inbox.tasks import tickets_assign, tickets_assign_sweep
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory, MembershipFactory


@dataclass
class Team:
    inbox: CustomInbox
    members: list[Membership]

    @property
    def user_ids(self) -> list[int]:
        return [membership.user_id for membership in self.members]


def _team(workspace: Workspace, agent: Agent, *, assignment: str, size: int = 4) -> Team:
    # Users without a password: hashing one per teammate would make each test seconds slower.
    members = [
        MembershipFactory(workspace=workspace, user=User.objects.create(username=f"mate{n}@acme.test"))
        for n in range(size)
    ]
    inbox = CustomInbox.objects.create(workspace=workspace, name="Billing")
    custom_inbox_update(
        inbox=inbox, data={"members": [membership.user_id for membership in members], "assignment": assignment}
    )
    escalation_settings_update(
        escalation_settings=escalation_settings_ensure(agent=agent),
        data={"routing_type": "inbox", "default_inbox": inbox.pk},
    )
    OutboxMessage.objects.filter(task=ASSIGN_TASK).delete()  # nothing waits yet
    return Team(inbox=inbox, members=members)


@pytest.fixture
def round_robin(workspace: Workspace, agent: Agent) -> Team:
    return _team(workspace, agent, assignment="round_robin")


@pytest.fixture
def balanced(workspace: Workspace, agent: Agent) -> Team:
    return _team(workspace, agent, assignment="balanced")


def _run_assignment_tasks() -> int:
    """Deliver the recorded assignment passes, as a worker does after commit."""
    messages = list(OutboxMessage.objects.filter(task=ASSIGN_TASK, state="pending").values_list("pk", flat=True))
    for message_id in messages:
        tickets_assign(message_id)
    return len(messages)


def _set(membership: Membership, **data: object) -> None:
    teammate_availability_set(membership=Membership.objects.get(pk=membership.pk), data=data)


def _counts(team: Team) -> dict[int, int]:
    return {user_id: Ticket.objects.filter(assignee_id=user_id).count() for user_id in team.user_ids}


def test_round_robin_gives_each_member_a_ticket_in_turn(round_robin: Team, escalate: Callable[..., Ticket]) -> None:
    tickets = [escalate() for _ in range(9)]

    assignees = [ticket.assignee_id for ticket in tickets]
    assert assignees == [*round_robin.user_ids, *round_robin.user_ids, round_robin.user_ids[0]]
    assert all(Ticket.objects.get(pk=ticket.pk).assignee_id == ticket.assignee_id for ticket in tickets)
    counts = dict(InboxMember.objects.filter(inbox=round_robin.inbox).values_list("user_id", "assigned_count"))
    assert counts == {round_robin.user_ids[0]: 3, **{user_id: 2 for user_id in round_robin.user_ids[1:]}}


def test_the_assignee_is_emailed_about_the_ticket_the_inbox_gave_them(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    ticket = escalate()

    emails = OutboxMessage.objects.filter(task=EMAIL_TASK)
    assert [message.payload for message in emails] == [{"ticket_id": ticket.pk, "assignee_id": round_robin.user_ids[0]}]


def test_round_robin_skips_an_away_member_and_resumes_when_they_are_back(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    second = round_robin.members[1]
    _set(second, available=False)

    assignees = [escalate().assignee_id for _ in range(3)]
    assert second.user_id not in assignees

    _set(second, available=True)
    assert escalate().assignee_id == second.user_id  # their turn is the oldest


def test_balanced_gives_the_ticket_to_the_member_with_the_fewest_open_tickets(
    balanced: Team, escalate: Callable[..., Ticket]
) -> None:
    busy, *others = balanced.user_ids
    for _ in range(3):  # tickets of others taken by hand are part of the load
        ticket = escalate()
        ticket_update(ticket=ticket, data={"assignee": busy})
    for user_id in others:
        ticket = escalate()
        ticket_update(ticket=ticket, data={"assignee": user_id})
    for ticket in Ticket.objects.filter(assignee_id=others[0]):
        ticket_update(ticket=ticket, data={"status": "closed"})  # closed tickets are no load

    assert escalate().assignee_id == others[0]
    assert escalate().assignee_id in others[1:]


def test_nobody_gets_more_than_their_capacity_and_the_rest_wait(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    for membership, capacity in zip(round_robin.members, [1, 2, 0, 1], strict=True):
        _set(membership, capacity=capacity)

    tickets = [escalate() for _ in range(6)]

    assert _counts(round_robin) == dict(zip(round_robin.user_ids, [1, 2, 0, 1], strict=True))
    waiting = [ticket.pk for ticket in tickets if ticket.assignee_id is None]
    assert waiting == [tickets[4].pk, tickets[5].pk]
    assert list(Ticket.objects.filter(assignee__isnull=True).values_list("pk", flat=True).order_by("pk")) == waiting


def test_a_closed_ticket_frees_a_place_for_the_oldest_waiting_ticket(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    for membership in round_robin.members:
        _set(membership, capacity=1)
    held = [escalate() for _ in range(4)]
    older, newer = escalate(), escalate()
    assert (older.assignee_id, newer.assignee_id) == (None, None)
    OutboxMessage.objects.filter(task=ASSIGN_TASK).delete()

    ticket_update(ticket=held[2], data={"status": "closed"})
    assert _run_assignment_tasks() == 1

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.assignee_id, newer.assignee_id) == (held[2].assignee_id, None)
    event = InboxEvent.objects.filter(ticket=older).latest("seq")
    assert (event.type, event.payload["changed"], event.payload["assignee_id"]) == (
        "ticket.updated",
        ["assignee"],
        held[2].assignee_id,
    )


def test_a_new_escalation_waits_behind_an_older_ticket_for_a_freed_place(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    for membership in round_robin.members:
        _set(membership, capacity=1)
    held = [escalate() for _ in range(4)]
    older = escalate()
    ticket_update(ticket=held[0], data={"status": "closed"})  # a place frees; its pass has not run yet

    newest = escalate()

    older.refresh_from_db()
    # The freed place went to the oldest waiting ticket; the newest waits.
    assert older.assignee_id == held[0].assignee_id
    assert newest.assignee_id is None


def test_waiting_tickets_go_out_oldest_first_when_a_member_becomes_available(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    for membership in round_robin.members:
        _set(membership, available=False)
    tickets = [escalate() for _ in range(3)]
    assert {ticket.assignee_id for ticket in tickets} == {None}
    OutboxMessage.objects.filter(task=ASSIGN_TASK).delete()

    back = round_robin.members[1]
    _set(back, available=True, capacity=2)
    assert _run_assignment_tasks() == 1

    assignees = [Ticket.objects.get(pk=ticket.pk).assignee_id for ticket in tickets]
    assert assignees == [back.user_id, back.user_id, None]


def test_raising_a_capacity_gives_out_waiting_tickets(round_robin: Team, escalate: Callable[..., Ticket]) -> None:
    for membership in round_robin.members:
        _set(membership, capacity=0)
    ticket = escalate()
    OutboxMessage.objects.filter(task=ASSIGN_TASK).delete()

    _set(round_robin.members[3], capacity=None)
    _run_assignment_tasks()

    ticket.refresh_from_db()
    assert ticket.assignee_id == round_robin.user_ids[3]


def test_going_away_records_no_assignment_pass(round_robin: Team) -> None:
    _set(round_robin.members[0], available=False)
    _set(round_robin.members[1], capacity=3)

    assert not OutboxMessage.objects.filter(task=ASSIGN_TASK).exists()


def test_the_beat_sweep_assigns_tickets_whose_pass_was_lost(round_robin: Team, escalate: Callable[..., Ticket]) -> None:
    for membership in round_robin.members:
        _set(membership, available=False)
    tickets = [escalate() for _ in range(2)]
    for membership in round_robin.members:
        Membership.objects.filter(pk=membership.pk).update(available=True)  # as if its pass never ran

    assert tickets_assign_sweep() == 2

    assert [Ticket.objects.get(pk=ticket.pk).assignee_id for ticket in tickets] == round_robin.user_ids[:2]
    assert tickets_assign_sweep() == 0


def test_a_manual_inbox_assigns_nobody(workspace: Workspace, agent: Agent, escalate: Callable[..., Ticket]) -> None:
    team = _team(workspace, agent, assignment="manual")

    ticket = escalate()

    assert (ticket.inbox_id, ticket.assignee_id) == (team.inbox.pk, None)
    assert tickets_assign_waiting() == 0


def test_switching_a_manual_inbox_to_round_robin_gives_out_its_waiting_tickets(
    workspace: Workspace, agent: Agent, escalate: Callable[..., Ticket]
) -> None:
    team = _team(workspace, agent, assignment="manual")
    tickets = [escalate() for _ in range(2)]

    custom_inbox_update(inbox=team.inbox, data={"assignment": "round_robin"})
    _run_assignment_tasks()

    assert [Ticket.objects.get(pk=ticket.pk).assignee_id for ticket in tickets] == team.user_ids[:2]


def test_a_member_removed_from_the_workspace_is_given_nothing(
    round_robin: Team, escalate: Callable[..., Ticket]
) -> None:
    gone = round_robin.members[0]
    Membership.objects.filter(pk=gone.pk).delete()

    assert gone.user_id not in {escalate().assignee_id for _ in range(3)}


def test_removing_a_member_from_the_inbox_keeps_the_others_turns(round_robin: Team) -> None:
    InboxMember.objects.filter(inbox=round_robin.inbox, user_id=round_robin.user_ids[1]).update(assigned_count=5)

    custom_inbox_update(inbox=round_robin.inbox, data={"members": round_robin.user_ids[1:]})

    rows = dict(InboxMember.objects.filter(inbox=round_robin.inbox).values_list("user_id", "assigned_count"))
    assert rows == {round_robin.user_ids[1]: 5, round_robin.user_ids[2]: 0, round_robin.user_ids[3]: 0}


def test_an_escalation_into_a_team_inbox_takes_the_same_queries_whatever_the_team_size(
    workspace: Workspace, agent: Agent
) -> None:
    team = _team(workspace, agent, assignment="balanced", size=2)
    for membership in team.members:
        _set(membership, capacity=5)

    def escalation_queries() -> int:
        conversation = ConversationFactory(
            workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace)
        )
        conversation = Conversation.objects.select_related("workspace", "contact", "agent__escalation_settings").get(
            pk=conversation.pk
        )
        with CaptureQueriesContext(connection) as queries:
            assert handoff_request(conversation=conversation).ticket.assignee_id is not None
        return len(queries)

    escalation_queries()
    small = escalation_queries()
    more = [
        MembershipFactory(workspace=workspace, user=User.objects.create(username=f"more{n}@acme.test"))
        for n in range(12)
    ]
    for membership in more:
        _set(membership, capacity=5)
    custom_inbox_update(inbox=team.inbox, data={"members": [*team.user_ids, *(m.user_id for m in more)]})

    assert escalation_queries() == small
