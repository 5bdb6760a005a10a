"""Search: the inbox's search box and ``GET /api/v1/tickets?q=``, on whichever database the suite runs on
(SQLite FTS5 by default, PostgreSQL full text with ``DATABASE_URL``): names, emails, companies and message text,
open and closed tickets, best first, matches highlighted and escaped, another workspace never found."""

import hashlib
import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.models import Message
from agents.search import message_matches
from halo.models import Workspace
from halo.search import highlight, search_terms
from inbox.models import Ticket
from inbox.selectors import ticket_search
from tests.agents.factories import ConversationFactory, MessageFactory
from tests.halo.factories import CompanyFactory, ContactFactory
from tests.inbox.factories import TicketFactory


def ticket_with(workspace: Workspace, *bodies: str, status: str = "open", **contact_fields: object) -> Ticket:
    ticket = TicketFactory(
        workspace=workspace, status=status, contact=ContactFactory(workspace=workspace, **contact_fields)
    )
    conversation = ConversationFactory(workspace=workspace, contact=ticket.contact)
    for body in bodies:
        MessageFactory(conversation=conversation, author="user", body=body)
    ticket.conversations.add(conversation)
    return ticket


def found(workspace: Workspace, text: str) -> list[int]:
    return [ticket.pk for ticket in ticket_search(workspace=workspace, text=text).tickets]


def test_finds_message_text_open_and_closed_with_stemming(workspace) -> None:
    refunds = ticket_with(workspace, "I was refunded twice for March", status="closed")
    other = ticket_with(workspace, "My password reset email never arrived")

    assert found(workspace, "refund") == [refunds.pk]
    assert found(workspace, "password emails") == [other.pk]
    assert found(workspace, "pizza") == []


def test_finds_name_email_and_company_words(workspace) -> None:
    company = CompanyFactory(workspace=workspace, name="Initech Labs")
    ada = ticket_with(workspace, "Hello", name="Ada Lovelace", email="ada.l@analytical.example", company=company)

    for text in ("lovelace", "Ada", "analytical", "ada.l@analytical.example", "initech", "Lovel"):
        assert found(workspace, text) == [ada.pk], text


def test_every_word_must_be_found_in_the_contact_or_a_message(workspace) -> None:
    both = ticket_with(workspace, "The export to CSV fails", name="Grace Hopper")
    ticket_with(workspace, "The export to CSV fails", name="Alan Turing")
    ticket_with(workspace, "Hi", name="Grace Kelly")

    assert found(workspace, "grace export") == [both.pk]


def test_a_match_in_the_contact_ranks_above_one_in_a_message(workspace) -> None:
    named = ticket_with(workspace, "Hello there", name="Grace Hopper")  # older: it would lose a tie
    mentioned = ticket_with(workspace, "Please forward this to Hopper in accounting", name="Sam Smith")

    assert found(workspace, "hopper") == [named.pk, mentioned.pk]


def test_another_workspace_is_never_found(workspace, other_workspace) -> None:
    ticket_with(other_workspace, "Secret refund request", name="Eve Other")
    mine = ticket_with(workspace, "refund please", name="Bob Mine")

    assert found(workspace, "refund") == [mine.pk]
    assert found(workspace, "eve") == []


def test_query_syntax_is_only_words(workspace) -> None:
    ticket = ticket_with(workspace, "It says error 42 & then crashes")
    assert search_terms("error & | ! :* ( 42 ' \"") == ["error", "42"]
    assert found(workspace, "error & | ! :* ( 42") == [ticket.pk]
    assert found(workspace, "& | !") == []


def test_highlight_escapes_and_marks_only_matches() -> None:
    html = highlight("<script>alert(1)</script> refunds & more", ["refund", "script"])
    assert html == "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; <mark>refunds</mark> &amp; more"


def test_the_index_follows_message_edits_and_deletes(workspace) -> None:
    ticket = ticket_with(workspace, "original words")
    message = Message.objects.get(conversation__tickets=ticket)
    Message.objects.filter(pk=message.pk).update(body="replacement text")
    assert found(workspace, "original") == []
    assert found(workspace, "replacement") == [ticket.pk]
    message.delete()
    assert message_matches(workspace_id=workspace.pk, terms=["replacement"], limit=10) == []
    assert found(workspace, "replacement") == []


def test_the_index_follows_messages_added_and_conversations_linked_or_unlinked(workspace) -> None:
    ticket = ticket_with(workspace, "first words")
    conversation = ticket.conversations.get()
    MessageFactory(conversation=conversation, author="teammate", body="a later reply about invoices")
    Message.objects.bulk_create(
        [Message(conversation=conversation, author="user", body=body) for body in ("thanks", "one more question")]
    )
    assert found(workspace, "invoices") == [ticket.pk]
    assert found(workspace, "question first") == [ticket.pk]

    older = ConversationFactory(workspace=workspace, contact=ticket.contact)
    MessageFactory(conversation=older, author="user", body="an older conversation about shipping")
    assert found(workspace, "shipping") == []
    ticket.conversations.add(older)  # an escalation merged into the open ticket
    assert found(workspace, "shipping") == [ticket.pk]
    assert found(workspace, "shipping invoices") == [ticket.pk]
    ticket.conversations.remove(older)
    assert found(workspace, "shipping") == []
    assert found(workspace, "invoices") == [ticket.pk]


@pytest.mark.postgres
def test_postgresql_ticket_documents_hold_exactly_their_messages_words(workspace) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    first = ticket_with(workspace, "the printer jams", "and the scanner too")
    second = ticket_with(workspace, "login fails", status="closed")
    empty = TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace))
    conversation = first.conversations.get()
    MessageFactory(conversation=conversation, author="ai", body="Try turning it off and on")
    Message.objects.filter(conversation=conversation, body__startswith="and").update(body="the fax as well")
    Message.objects.filter(conversation=conversation, author="ai").delete()
    second.conversations.add(conversation)  # one conversation on two tickets
    empty.conversations.add(ConversationFactory(workspace=workspace, contact=empty.contact))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.ticket_id, s.workspace_id, strip(s.document) = strip(coalesce(("
            "SELECT to_tsvector('english', string_agg(m.body, ' ')) FROM inbox_ticket_conversations tc "
            "JOIN agents_message m ON m.conversation_id = tc.conversation_id WHERE tc.ticket_id = s.ticket_id"
            "), ''::tsvector)), s.document::text FROM inbox_ticket_search s ORDER BY s.ticket_id"
        )
        rows = cursor.fetchall()
    assert [row[:3] for row in rows] == [
        (first.pk, workspace.pk, True),
        (second.pk, workspace.pk, True),
        (empty.pk, workspace.pk, True),
    ]
    assert "'fax'" in rows[0][3]
    assert "'scanner'" not in rows[0][3]
    assert "'turn'" not in rows[0][3]
    assert "'printer'" in rows[1][3]
    assert "'login'" in rows[1][3]
    assert rows[2][3] == ""


def test_postgresql_a_ticket_whose_words_outgrow_a_document_still_takes_messages(workspace) -> None:
    """A tsvector holds at most 1 MB: a ticket past that (pasted logs, say) keeps the words it has, and its
    conversation still takes every message, edit and delete."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    ticket = ticket_with(workspace, "the zebra printer jams")
    conversation = ticket.conversations.get()

    def log_lines(start: int) -> str:  # ~3,900 characters of words seen nowhere else
        return " ".join(hashlib.sha256(str(n).encode()).hexdigest()[:14] for n in range(start, start + 260))

    for batch in range(0, 300, 20):  # 300 messages, 20 per statement: ~1.2M characters of distinct words
        Message.objects.bulk_create(
            Message(conversation=conversation, author="user", body=log_lines(n * 260)) for n in range(batch, batch + 20)
        )
    MessageFactory(conversation=conversation, author="user", body="and a kangaroo")
    Message.objects.filter(conversation=conversation, body__startswith="and a").update(body="and a koala")
    Message.objects.filter(conversation=conversation, body="and a koala").delete()

    assert Message.objects.filter(conversation=conversation).count() == 301
    assert found(workspace, "zebra") == [ticket.pk]


@pytest.mark.parametrize("recent", [1, 10])
def test_a_word_in_more_tickets_than_the_candidates_is_looked_for_in_the_newest(workspace, monkeypatch, recent) -> None:
    """With 2 candidates, the 2 newest of 3 matching tickets; found by the walk of the newest tickets (10 walked)
    or, when the walk holds fewer than the candidates (1 walked), through the index."""
    monkeypatch.setattr("inbox.selectors.SEARCH_TEXT_CANDIDATES", 2)
    monkeypatch.setattr("inbox.selectors.SEARCH_RECENT_TICKETS", recent)
    oldest, middle, newest = (ticket_with(workspace, "refund please") for _ in range(3))
    ticket_with(workspace, "something else")

    assert found(workspace, "refund") == [newest.pk, middle.pk]
    assert oldest.pk not in found(workspace, "refund")


@pytest.mark.postgres
def test_postgresql_the_walk_of_the_newest_tickets_grows_with_the_workspace(workspace, monkeypatch) -> None:
    """With 2 candidates and a floor of 1, a workspace of 50 tickets, once analysed, is walked 10 deep
    (sqrt(2 x 50)): "refund" (6th and 8th newest) is found by the walk alone, "invoice" (6th and 12th) needs the
    GIN index; before the table has statistics the walk is the floor; a floor of 12 walks 12. The same tickets
    whichever way they are found."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    monkeypatch.setattr("inbox.selectors.SEARCH_TEXT_CANDIDATES", 2)
    monkeypatch.setattr("inbox.selectors.SEARCH_RECENT_TICKETS", 1)
    ticket_with(workspace, "refund invoice")  # the oldest: a third match of each word, beyond the candidates
    for _ in range(37):
        ticket_with(workspace, "something else")
    twelfth = ticket_with(workspace, "invoice")
    for _ in range(3):
        ticket_with(workspace, "something else")
    eighth = ticket_with(workspace, "refund")
    ticket_with(workspace, "something else")
    sixth = ticket_with(workspace, "refund invoice")
    for _ in range(5):
        ticket_with(workspace, "something else")

    def search(word: str) -> tuple[set[int], bool]:
        """The tickets found, and whether the GIN index was read."""
        with CaptureQueriesContext(connection) as queries:
            tickets = set(found(workspace, word))
        return tickets, any("ticket_id + 0" in query["sql"] for query in queries.captured_queries)

    # Whether or not the table was analysed before (by another test's rows), this workspace is not in it yet.
    assert search("refund") == ({sixth.pk, eighth.pk}, True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_ticket_search")  # this transaction's rows count as live
    assert search("refund") == ({sixth.pk, eighth.pk}, False)
    assert search("invoice") == ({sixth.pk, twelfth.pk}, True)
    monkeypatch.setattr("inbox.selectors.SEARCH_RECENT_TICKETS", 12)
    assert search("invoice") == ({sixth.pk, twelfth.pk}, False)


def test_search_runs_a_fixed_number_of_queries(workspace, django_assert_max_num_queries) -> None:
    for n in range(30):
        ticket_with(workspace, f"refund number {n}", name=f"Customer {n}")
    # Text (two queries), contacts (all the words, then any), their tickets, the list's conditions, the page's
    # rows, the snippets: 8 on either database, whatever the number of tickets.
    with django_assert_max_num_queries(8):
        page = ticket_search(workspace=workspace, text="refund customer")
    assert len(page.tickets) == 30


def test_inbox_search_page_highlights_matches_escaped(staff: Client, workspace) -> None:
    ticket_with(workspace, "I got <b>charged</b> twice", name="Ada <i>Lovelace</i>")

    html = staff.get("/inbox/all/", {"q": "charged ada"}).content.decode()

    assert "I got &lt;b&gt;<mark>charged</mark>&lt;/b&gt; twice" in html
    assert "<mark>Ada</mark> &lt;i&gt;Lovelace&lt;/i&gt;" in html
    assert "<b>charged" not in html


def test_inbox_search_within_a_list_keeps_its_conditions(staff: Client, workspace) -> None:
    closed = ticket_with(workspace, "refund", status="closed")
    open_ = ticket_with(workspace, "refund")

    html = staff.get("/inbox/open/", {"q": "refund"}).content.decode()
    assert f'data-ticket-id="{open_.pk}"' in html
    assert f'data-ticket-id="{closed.pk}"' not in html
    assert f'data-ticket-id="{closed.pk}"' in staff.get("/inbox/all/", {"q": "refund"}).content.decode()


def test_api_search_is_best_first_with_filters(api, workspace) -> None:
    named = ticket_with(workspace, "hello", name="Grace Hopper", status="closed")
    mentioned = ticket_with(workspace, "ask Hopper about it")

    response = api.get("/api/v1/tickets", {"q": "hopper"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [named.pk, mentioned.pk]
    only_open = api.get("/api/v1/tickets", {"q": "hopper", "status": "open"}).json()["results"]
    assert [row["id"] for row in only_open] == [mentioned.pk]


def test_api_search_pages_with_offset(api, workspace) -> None:
    ids = {ticket_with(workspace, "refund please").pk for _ in range(3)}
    first = api.get("/api/v1/tickets", {"q": "refund", "limit": 2}).json()
    assert len(first["results"]) == 2
    assert first["next"]
    second = api.get(first["next"]).json()
    assert {row["id"] for row in first["results"] + second["results"]} == ids
    assert second["next"] is None


@pytest.mark.parametrize("params", [{"q": "x" * 201}, {"q": "a", "offset": "-1"}, {"q": "a", "offset": "x"}])
def test_api_search_refuses_bad_input(api, params) -> None:
    response = api.get("/api/v1/tickets", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgresql_a_message_holds_its_tickets_row_until_commit(workspace) -> None:
    """The message's transaction locks its ticket's row before the ticket's search document, as a change of
    the ticket itself does (a close, a merge): a reply and a close of one ticket wait for each other rather
    than each holding what the other needs."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    ticket = ticket_with(workspace, "hello")
    conversation = ticket.conversations.get()
    posted, release = threading.Event(), threading.Event()

    def post() -> None:
        try:
            with transaction.atomic():
                MessageFactory(conversation=conversation, author="teammate", body="investigating now")
                posted.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=post)
    thread.start()
    try:
        assert posted.wait(timeout=30)
        with pytest.raises(OperationalError), transaction.atomic():
            list(Ticket.objects.select_for_update(nowait=True).filter(pk=ticket.pk))
    finally:
        release.set()
        thread.join()
    assert found(workspace, "investigating") == [ticket.pk]


@pytest.mark.postgres
def test_postgresql_search_uses_the_indexes(workspace) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT 1 FROM agents_message_search WHERE workspace_id = 1 AND "
            "document @@ to_tsquery('english', 'refund:*')"
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            "EXPLAIN SELECT 1 FROM halo_contact WHERE to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || "
            "translate(coalesce(email, ''), '@.+_-', '     ')) @@ to_tsquery('simple', 'ada:*')"
        )
        contact_plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            "EXPLAIN SELECT 1 FROM inbox_ticket_search WHERE workspace_id = 1 AND "
            "document @@ to_tsquery('english', 'refund:*')"
        )
        ticket_plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "agents_message_search_gin" in plan or "agents_message_search_recent" in plan
    assert "inbox_ticket_search_gin" in ticket_plan or "inbox_ticket_search_recent" in ticket_plan
    assert "contact_text_search" in contact_plan
