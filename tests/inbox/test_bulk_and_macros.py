"""Bulk actions (several tickets at once, each validated and written as one by ``inbox.services``) and macros
(saved replies whose placeholders are substituted, never executed as a template)."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from inbox.macros import MacroContext, macro_render
from inbox.models import Macro, Ticket
from inbox.services import macro_create, tickets_bulk_update
from tests.halo.factories import ContactFactory, UserFactory
from tests.inbox.factories import TicketFactory

CONTEXT = MacroContext(
    customer_name="Ada Lovelace",
    customer_email="ada@example.com",
    company_name="Analytical",
    teammate_name="Kim Lee",
    teammate_first_name="Kim",
    ticket_id="42",
)


def test_bulk_close_changes_each_ticket_and_refuses_what_it_must(workspace, other_workspace, teammate) -> None:
    first, second = TicketFactory(workspace=workspace), TicketFactory(workspace=workspace)
    escalated_since = TicketFactory(workspace=workspace, escalation_count=2)
    theirs = TicketFactory(workspace=other_workspace)

    outcome = tickets_bulk_update(
        workspace=workspace,
        ticket_ids=[first.pk, second.pk, escalated_since.pk, theirs.pk],
        data={"status": Ticket.Status.CLOSED},
        actor=teammate.user,
        seen_escalation_counts={escalated_since.pk: 1},
    )

    assert outcome.changed == [first.pk, second.pk]
    assert set(outcome.refused) == {escalated_since.pk, theirs.pk}
    assert "escalated again" in outcome.refused[escalated_since.pk]
    assert outcome.refused[theirs.pk] == "No such ticket."
    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert statuses[first.pk] == statuses[second.pk] == "closed"
    assert statuses[escalated_since.pk] == "open"
    assert statuses[theirs.pk] == "open"


def test_bulk_assign_refuses_someone_outside_the_workspace(workspace, teammate) -> None:
    ticket = TicketFactory(workspace=workspace)
    outcome = tickets_bulk_update(workspace=workspace, ticket_ids=[ticket.pk], data={"assignee": UserFactory().pk})
    assert outcome.changed == []
    assert "member" in outcome.refused[ticket.pk]


def test_bulk_page_action_closes_the_selection_and_says_so(staff: Client, workspace) -> None:
    tickets = [TicketFactory(workspace=workspace) for _ in range(3)]
    data = {"action": "close", "ticket": [t.pk for t in tickets[:2]], "next": "/inbox/open/"}
    data.update({f"seen_{t.pk}": "1" for t in tickets})

    response = staff.post("/inbox/bulk", data, follow=True)

    assert response.status_code == 200
    assert "Closed 2 tickets." in response.content.decode()
    assert [Ticket.objects.get(pk=t.pk).status for t in tickets] == ["closed", "closed", "open"]


@pytest.mark.parametrize(
    "data",
    [
        {"action": "close"},  # nothing selected
        {"action": "explode", "ticket": ["1"]},
        {"action": "close", "ticket": ["x"]},
        {"action": "assign", "ticket": ["1"], "assignee": "someone"},
        {"action": "close", "ticket": [str(n) for n in range(1, 300)]},
    ],
)
def test_bulk_page_action_bad_input_is_a_message_never_a_500(staff: Client, workspace, data) -> None:
    response = staff.post("/inbox/bulk", data, follow=True)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()


def test_close_and_next_opens_the_next_ticket_of_the_list(staff: Client, workspace) -> None:
    older, newer = TicketFactory(workspace=workspace), TicketFactory(workspace=workspace)
    response = staff.post(
        f"/inbox/tickets/{newer.pk}/status",
        {"status": "closed", "and_next": "1", "list": "open", "seen_escalations": 1},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/inbox/tickets/{older.pk}/?list=open"
    last = staff.post(
        f"/inbox/tickets/{older.pk}/status",
        {"status": "closed", "and_next": "1", "list": "open", "seen_escalations": 1},
    )
    assert last["Location"] == "/inbox/open/"


def test_macro_fills_known_placeholders_and_leaves_the_rest_as_typed() -> None:
    body = (
        "Hi {{ customer.first_name }} ({{customer.email}}) at {{ company.name }}: {{ customer.secret }}. "
        "{{ teammate.first_name }}"
    )
    assert macro_render(body, CONTEXT) == "Hi Ada (ada@example.com) at Analytical: {{ customer.secret }}. Kim"


@pytest.mark.parametrize(
    "body",
    ["{% load static %}{% debug %}", "{{ customer.first_name.__class__ }}", "{{ settings.SECRET_KEY }}", "{{ 7*7 }}"],
)
def test_macro_text_is_never_run_as_a_template(body: str) -> None:
    assert macro_render(body, CONTEXT) == body


def test_macro_with_an_unknown_placeholder_is_refused(workspace) -> None:
    with pytest.raises(ValidationError, match=r"Unknown placeholder: customer\.password"):
        macro_create(workspace=workspace, name="Oops", body="Your password is {{ customer.password }}")
    assert not Macro.objects.exists()


def test_ticket_page_offers_the_workspaces_macros_rendered_for_the_customer(staff: Client, workspace, other_workspace):
    macro_create(workspace=workspace, name="Greeting", body="Hi {{ customer.first_name }}!")
    macro_create(workspace=other_workspace, name="Theirs", body="Not yours")
    ticket = TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, name="<b>Ada</b> L"))

    html = staff.get(f"/inbox/tickets/{ticket.pk}/").content.decode()

    assert 'data-text="Hi &lt;b&gt;Ada&lt;/b&gt;!"' in html
    assert "Not yours" not in html
