"""R9: team assignment under concurrency, on PostgreSQL (real row locks and concurrent transactions; SQLite
serialises writers, so the races cannot happen there).

200 escalations to a 4-person team run on many connections at once (the server allows too few connections
for 200 threads on a machine shared by other test runs: ``WORKERS`` threads, each with its own connection,
released together, each escalating ``200 / WORKERS`` new contacts back to back, so ``WORKERS`` escalations
are always in flight). Fairness and capacity must hold because of the database's locks, not the timing.
"""

import threading
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.utils import timezone

from agents.models import Agent, Conversation
from escalation.flow import handoff_request
from escalation.services import escalation_settings_ensure, escalation_settings_update
from halo.models import Membership, Workspace
from inbox.models import CustomInbox, InboxMember, Ticket
from inbox.services import (
    _inbox_assign_waiting,
    custom_inbox_update,
    teammate_availability_set,
    ticket_update,
    tickets_assign_waiting,
)
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, MembershipFactory, WorkspaceFactory

ESCALATIONS = 200
WORKERS = 25

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"),
]


def _members(workspace: Workspace, count: int) -> list[Membership]:
    return [
        MembershipFactory(workspace=workspace, user=User.objects.create(username=f"mate{n}@acme.test"))
        for n in range(count)
    ]


def _inbox(workspace: Workspace, name: str, members: list[Membership], assignment: str) -> CustomInbox:
    inbox = CustomInbox.objects.create(workspace=workspace, name=name)
    custom_inbox_update(inbox=inbox, data={"members": [m.user_id for m in members], "assignment": assignment})
    return inbox


def _agent_routing_to(workspace: Workspace, inbox: CustomInbox) -> Agent:
    agent = AgentFactory(workspace=workspace)
    escalation_settings_update(
        escalation_settings=escalation_settings_ensure(agent=agent),
        data={"routing_type": "inbox", "default_inbox": inbox.pk},
    )
    return agent


def _escalate_all_at_once(conversation_ids: list[int]) -> list[BaseException]:
    """Hand off every conversation (each a new contact's), ``WORKERS`` at a time on their own connections."""
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []
    shares = [conversation_ids[n::WORKERS] for n in range(WORKERS)]

    def work(ids: list[int]) -> None:
        try:
            start.wait(timeout=60)
            for conversation_id in ids:
                conversation = Conversation.objects.select_related(
                    "workspace", "contact", "agent__escalation_settings"
                ).get(pk=conversation_id)
                handoff_request(conversation=conversation)
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "an escalation hung"
    return errors


def _conversations(workspace: Workspace, agent: Agent, count: int) -> list[int]:
    return [
        ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace)).pk
        for _ in range(count)
    ]


def _load(members: list[Membership]) -> dict[int, int]:
    counts = Counter(
        Ticket.objects.filter(assignee_id__in=[m.user_id for m in members])
        .exclude(status=Ticket.Status.CLOSED)
        .values_list("assignee_id", flat=True)
    )
    return {m.user_id: counts[m.user_id] for m in members}


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_escalations_to_a_round_robin_team_are_shared_within_one() -> None:
    workspace = WorkspaceFactory()
    team = _members(workspace, 4)
    inbox = _inbox(workspace, "Billing", team, "round_robin")
    agent = _agent_routing_to(workspace, inbox)
    conversations = _conversations(workspace, agent, ESCALATIONS)

    errors = _escalate_all_at_once(conversations)

    assert errors == []
    assert Ticket.objects.filter(inbox=inbox).count() == ESCALATIONS
    assert not Ticket.objects.filter(assignee__isnull=True).exists()
    counts = _load(team)
    assert sum(counts.values()) == ESCALATIONS
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    recorded = dict(InboxMember.objects.filter(inbox=inbox).values_list("user_id", "assigned_count"))
    assert recorded == counts
    inbox.refresh_from_db()
    assert inbox.assigned_total == ESCALATIONS


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("assignments", [("round_robin", "round_robin"), ("round_robin", "balanced")])
def test_two_inboxes_sharing_a_team_never_exceed_anyones_capacity(assignments: tuple[str, str]) -> None:
    """Half the escalations go to each inbox at once; a teammate's capacity counts both."""
    workspace = WorkspaceFactory()
    team = _members(workspace, 4)
    capacities = [30, 20, 10, 25]
    for membership, capacity in zip(team, capacities, strict=True):
        teammate_availability_set(membership=membership, data={"capacity": capacity})
    billing = _inbox(workspace, "Billing", team, assignments[0])
    sales = _inbox(workspace, "Sales", team, assignments[1])
    half = ESCALATIONS // 2
    conversations = [
        *_conversations(workspace, _agent_routing_to(workspace, billing), half),
        *_conversations(workspace, _agent_routing_to(workspace, sales), half),
    ]

    errors = _escalate_all_at_once(conversations)

    assert errors == []
    counts = _load(team)
    assert counts == {m.user_id: capacity for m, capacity in zip(team, capacities, strict=True)}
    assert Ticket.objects.filter(assignee__isnull=True).count() == ESCALATIONS - sum(capacities)
    assert Ticket.objects.count() == ESCALATIONS


@pytest.mark.django_db(transaction=True)
def test_places_freed_while_escalations_race_go_to_the_oldest_waiting_tickets() -> None:
    """Teammates close tickets while new escalations keep coming: each freed place goes to the ticket that
    waited longest, never to a newer one, and nobody is ever above capacity."""
    workspace = WorkspaceFactory()
    team = _members(workspace, 4)
    for membership in team:
        teammate_availability_set(membership=membership, data={"capacity": 5})
    inbox = _inbox(workspace, "Billing", team, "round_robin")
    agent = _agent_routing_to(workspace, inbox)
    assert _escalate_all_at_once(_conversations(workspace, agent, 40)) == []
    assert _load(team) == {m.user_id: 5 for m in team}
    waiting = list(
        Ticket.objects.filter(assignee__isnull=True).order_by("created_at", "id").values_list("pk", flat=True)
    )
    assert len(waiting) == 20
    closing = list(Ticket.objects.exclude(assignee__isnull=True).order_by("pk")[:10])
    later = _conversations(workspace, agent, 60)

    def close(ticket: Ticket) -> None:
        try:
            ticket_update(ticket=ticket, data={"status": "closed"})
        finally:
            connections.close_all()

    closers = [threading.Thread(target=close, args=(ticket,)) for ticket in closing]
    for thread in closers:
        thread.start()
    errors = _escalate_all_at_once(later)
    for thread in closers:
        thread.join(timeout=60)
    tickets_assign_waiting(workspace_id=workspace.pk)  # what the closes recorded, run after they committed

    assert errors == []
    assert _load(team) == {m.user_id: 5 for m in team}
    served = set(Ticket.objects.filter(pk__in=waiting, assignee__isnull=False).values_list("pk", flat=True))
    assert served == set(waiting[:10])
    assert not Ticket.objects.filter(conversations__in=later, assignee__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_backlog_passes_of_two_inboxes_sharing_a_team_neither_deadlock_nor_overfill() -> None:
    """Both inboxes have a backlog when the team comes back: passes over each run at once on many
    connections, each giving out several tickets (each with its live event) under the same teammates'
    capacities. A pass that deadlocked would raise here."""
    workspace = WorkspaceFactory()
    team = _members(workspace, 4)
    for membership in team:
        teammate_availability_set(membership=membership, data={"available": False})
    inboxes = [_inbox(workspace, "Billing", team, "round_robin"), _inbox(workspace, "Sales", team, "balanced")]
    conversations = [
        *_conversations(workspace, _agent_routing_to(workspace, inboxes[0]), 40),
        *_conversations(workspace, _agent_routing_to(workspace, inboxes[1]), 40),
    ]
    assert _escalate_all_at_once(conversations) == []
    assert Ticket.objects.filter(assignee__isnull=True).count() == 80
    for membership, capacity in zip(team, [12, 8, 10, 6], strict=True):
        Membership.objects.filter(pk=membership.pk).update(available=True, capacity=capacity)

    passes = 16
    start = threading.Barrier(passes)
    errors: list[BaseException] = []

    def run(inbox_id: int) -> None:
        try:
            start.wait(timeout=60)
            with transaction.atomic():
                _inbox_assign_waiting(inbox_id=inbox_id, now=timezone.now())
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(inboxes[n % 2].pk,)) for n in range(passes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert _load(team) == dict(zip([m.user_id for m in team], [12, 8, 10, 6], strict=True))
    assert Ticket.objects.filter(assignee__isnull=True).count() == 80 - 36
