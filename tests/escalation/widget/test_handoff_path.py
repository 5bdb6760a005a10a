"""The widget's handoff path as production runs it: one transaction, the escalation settings read once, a
pinned number of statements, and everything that must happen after commit recorded in that transaction.

These tests commit for real (``transaction=True``), so the statements counted are exactly what a request
runs against the database, with no test savepoint around the request. They run on SQLite, and on
PostgreSQL with ``DATABASE_URL``.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Conversation, Message
from escalation.selectors import expected_reply_get
from escalation.services import escalation_settings_ensure
from halo.models import Contact, OutboxMessage
from halo.selectors import business_hours_get
from inbox.events import TICKET_CREATED
from inbox.models import EscalationEvent, InboxEvent, Ticket
from inbox.selectors import ticket_search
from inbox.services import SUMMARY_TASK, ticket_summarize
from tests.agents.factories import TEST_TOKEN, AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

ASK = "I was charged twice for my invoice. I want to talk to a human."
# The most statements a handoff may run (the bar), and what it runs today, pinned so that a change shows.
MAX_HANDOFF_QUERIES = 12
# A new visitor's first message that asks for a human: the agent with its workspace and escalation settings
# (1); then in one transaction: the contact, one INSERT that may find the visitor known already (1); the
# conversation, inserted handed off (1), and its messages, the user's and the notice, one INSERT (1); the
# ticket with its builtin summary (1), its conversation link (1), the escalation event (1), the sidebar's
# count cells (1), the workspace's event number and the live event (2).
QUERIES_NEW_VISITOR_HANDOFF = 10
# A message on a conversation that asks for a human: the conversation with its workspace, contact, agent and
# escalation settings (1); then in one transaction: the AI's latest turn (the ticket's context) and the turns
# held back before it (the escalation report's count on the ticket) (2); the ticket, one INSERT that the "one
# open ticket per contact" constraint may refuse (1), its conversation link, the escalation event, the summary
# job's outbox row, the count cells, the event number and the live event (6); the conversation handed off
# (1); the user's message and the notice, one INSERT (1).
QUERIES_MESSAGE_HANDOFF = 12
# Django's query capture also lists the transaction's BEGIN and COMMIT (on both databases). A new visitor's
# handoff stays within the bar with them; a message's handoff is within it in statements (12), 14 with them.
TRANSACTION_CONTROL = 2


def _reply_time_measured(workspace: Any, agent: Any) -> None:
    """The team's measured first-reply time, which a handoff message tells, is read once per workspace and
    kept in the cache for a few minutes: a widget's handoffs read it from there, as these do."""
    expected_reply_get(
        workspace=workspace,
        escalation_settings=escalation_settings_ensure(agent=agent),
        now=timezone.now(),
        visitor_timezone=None,
        business_hours=business_hours_get(workspace=workspace),
    )


@dataclass
class Recorded:
    statements: list[tuple[str, bool]] = field(default_factory=list)  # (SQL, inside a transaction)
    commits: int = 0


@contextmanager
def recording() -> Iterator[Recorded]:
    """The statements run on the default connection, whether each ran inside a transaction, and the commits."""
    recorded = Recorded()

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        recorded.statements.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    original_commit = connection.commit

    def counting_commit() -> None:
        recorded.commits += 1
        original_commit()

    connection.commit = counting_commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(record):
            yield recorded
    finally:
        del connection.commit


def _writes_outside_a_transaction(recorded: Recorded) -> list[str]:
    return [
        sql
        for sql, inside in recorded.statements
        if not inside and sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def _statements(recorded: Recorded) -> list[str]:
    """The statements but the transaction's BEGIN and COMMIT (SQLite runs them as statements)."""
    return [sql for sql, _ in recorded.statements if not sql.startswith(("BEGIN", "COMMIT"))]


def _settings_reads(recorded: Recorded) -> int:
    return sum(1 for sql, _ in recorded.statements if "escalation_escalationsettings" in sql)


def _assert_after_commit_work_recorded(ticket: Ticket, *, summary_job: bool = True) -> None:
    """The summary job (unless the summary came with the ticket) and the live event were written with the
    ticket (they exist once it committed)."""
    jobs = OutboxMessage.objects.filter(task=SUMMARY_TASK, payload={"ticket_id": ticket.pk}).count()
    assert jobs == (1 if summary_job else 0)
    assert InboxEvent.objects.filter(workspace_id=ticket.workspace_id, ticket=ticket, type=TICKET_CREATED).count() == 1
    assert EscalationEvent.objects.filter(ticket=ticket, outcome="created").count() == 1


def test_a_new_visitors_first_message_asking_for_a_human_is_one_transaction(
    django_assert_max_num_queries: Any,
) -> None:
    workspace = WorkspaceFactory()
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    _reply_time_measured(workspace, agent)
    widget = APIClient()

    with recording() as recorded, django_assert_max_num_queries(MAX_HANDOFF_QUERIES):
        response = widget.post(
            "/api/widget/v1/conversations",
            {"app_id": workspace.app_id, "body": ASK, "user": {"visitor_id": "v-new-visitor"}},
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "handed_off"
    assert [m["author"] for m in body["messages"]] == ["user", "system"]
    assert body["messages"][0]["id"] < body["messages"][1]["id"]
    assert body["visitor_id"] == "v-new-visitor"
    assert (recorded.commits, _writes_outside_a_transaction(recorded)) == (1, [])
    assert _settings_reads(recorded) == 1  # joined to the agent's read
    assert len(_statements(recorded)) == QUERIES_NEW_VISITOR_HANDOFF, [sql[:80] for sql in _statements(recorded)]

    ticket = Ticket.objects.get(pk=body["ticket"]["id"])
    conversation = Conversation.objects.get(pk=body["id"])
    assert (ticket.reason, ticket.status, ticket.contact.visitor_id) == ("manual", "open", "v-new-visitor")
    assert conversation.status == "handed_off"
    assert list(conversation.messages.values_list("author", "body")) == [
        ("user", ASK),
        ("system", body["messages"][1]["body"]),
    ]
    assert ticket.contact.last_active_at == conversation.updated_at
    # The builtin summary came with the ticket: the text the job writes, and no job.
    assert ticket.summary_state == "ready"
    assert ticket.summary == ticket_summarize(ticket_id=ticket.pk).summary
    assert ticket.summary.startswith('The customer needed: "I was charged twice')
    _assert_after_commit_work_recorded(ticket, summary_job=False)
    # The team finds it by the words of both messages (the ticket's search document holds its transcript).
    for words in ("charged twice invoice", "passed conversation team"):
        assert [found.pk for found in ticket_search(workspace=workspace, text=words).tickets] == [ticket.pk]


def test_a_visitor_seen_before_gets_their_contact_and_their_open_ticket(
    django_assert_max_num_queries: Any,
) -> None:
    """The INSERTs that their unique constraints refuse: the visitor's contact exists, and so does their open
    ticket, which the new conversation merges into."""
    workspace = WorkspaceFactory()
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    widget = APIClient()
    payload = {"app_id": workspace.app_id, "body": ASK, "user": {"visitor_id": "v-returning"}}
    first = widget.post("/api/widget/v1/conversations", payload, format="json").json()

    with recording() as recorded, django_assert_max_num_queries(MAX_HANDOFF_QUERIES + 3):
        second = widget.post("/api/widget/v1/conversations", payload, format="json").json()

    # Three more than a new visitor's: the contact read after its INSERT was refused, and the open ticket
    # read locked after its INSERT was refused, then updated with the merge.
    assert len(_statements(recorded)) == QUERIES_NEW_VISITOR_HANDOFF + 3, [sql[:80] for sql in _statements(recorded)]
    assert recorded.commits == 1
    assert Contact.objects.filter(workspace=workspace, visitor_id="v-returning").count() == 1
    assert second["ticket"]["id"] == first["ticket"]["id"]
    ticket = Ticket.objects.get(pk=first["ticket"]["id"])
    assert (ticket.escalation_count, ticket.conversations.count()) == (2, 2)
    assert [m["author"] for m in second["messages"]] == ["user", "system"]


def test_a_message_asking_for_a_human_is_one_transaction(django_assert_max_num_queries: Any) -> None:
    workspace = WorkspaceFactory()
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    contact = ContactFactory(workspace=workspace, last_active_at=None)
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
    # The contact was active a moment ago: its activity time is not written again.
    widget = APIClient()
    widget.post(
        f"/api/widget/v1/conversations/{conversation.pk}/messages",
        {"body": "How do I reset my password?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {TEST_TOKEN}",
    )
    _reply_time_measured(workspace, agent)

    with recording() as recorded, django_assert_max_num_queries(MAX_HANDOFF_QUERIES + TRANSACTION_CONTROL):
        response = widget.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages",
            {"body": ASK},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {TEST_TOKEN}",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], [m["author"] for m in body["messages"]]) == ("handed_off", ["user", "system"])
    assert len(_statements(recorded)) <= MAX_HANDOFF_QUERIES
    assert (recorded.commits, _writes_outside_a_transaction(recorded)) == (1, [])
    assert _settings_reads(recorded) == 1
    assert len(_statements(recorded)) == QUERIES_MESSAGE_HANDOFF, [sql[:80] for sql in _statements(recorded)]
    ticket = Ticket.objects.get(pk=body["ticket"]["id"])
    assert list(Message.objects.filter(conversation=conversation).values_list("author", flat=True))[-2:] == [
        "user",
        "system",
    ]
    _assert_after_commit_work_recorded(ticket)


def test_a_failed_handoff_leaves_nothing_half_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """One transaction: an error after the ticket's INSERT leaves no contact, conversation, message or ticket."""
    workspace = WorkspaceFactory()
    AgentFactory(workspace=workspace)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the live event could not be recorded")

    monkeypatch.setattr("inbox.services._ticket_event", broken)
    widget = APIClient()
    widget.raise_request_exception = False
    response = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "body": ASK, "user": {"visitor_id": "v-broken"}},
        format="json",
    )

    assert response.status_code == 500
    assert not Contact.objects.filter(visitor_id="v-broken").exists()
    assert not Conversation.objects.exists()
    assert not Ticket.objects.exists()
    assert not OutboxMessage.objects.exists()
