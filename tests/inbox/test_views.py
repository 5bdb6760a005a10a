"""The staff web inbox through the Django test client: lists, the ticket page, actions, scoping, escaping."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Message
from halo.models import Membership, OutboxMessage
from inbox.models import InboxEvent, SavedView, Ticket, TicketNote
from inbox.notifications import EMAIL_TASK
from inbox.services import ticket_summarize, ticket_update
from tests.agents.factories import ConversationFactory, MessageFactory
from tests.halo.factories import CompanyFactory, MembershipFactory, UserFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory

pytestmark = pytest.mark.django_db


def list_url(key: str = "open") -> str:
    return reverse("inbox:list", args=[key])


def ticket_url(ticket: Ticket) -> str:
    return reverse("inbox:ticket", args=[ticket.pk])


def action_url(ticket: Ticket, action: str) -> str:
    return reverse("inbox:ticket-action", args=[ticket.pk, action])


def test_inbox_requires_login(client: Client) -> None:
    response = client.get(list_url())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_user_without_a_workspace_is_refused(client: Client) -> None:
    client.force_login(UserFactory())
    assert client.get(list_url()).status_code == 403


def test_home_redirects_to_the_open_list(staff: Client) -> None:
    response = staff.get(reverse("inbox:home"))
    assert response.status_code == 302
    assert response["Location"] == list_url("open")


def test_open_list_shows_escalated_tickets_with_counts(staff: Client, escalate, workspace) -> None:
    escalate(name="Jane Roe", body="Where is my refund?")
    escalate(name="John Doe")
    priority = escalate(name="Max Power")
    ticket_update(ticket=priority, data={"status": Ticket.Status.PRIORITY})

    html = staff.get(list_url()).content.decode()

    assert "Jane Roe" in html
    assert "Where is my refund?" in html
    assert re.search(r'data-count="open">3<', html)
    assert re.search(r'data-count="priority">1<', html)
    assert re.search(r'data-count="unassigned">3<', html)
    assert 'data-count="closed"' not in html  # closed tickets are never counted


def test_lists_filter_by_status_assignee_and_custom_inbox(staff: Client, teammate: Membership, workspace) -> None:
    billing = CustomInboxFactory(workspace=workspace, name="Billing")
    mine = TicketFactory(workspace=workspace, assignee=teammate.user, contact__name="Mine Person")
    unassigned = TicketFactory(workspace=workspace, contact__name="Nobody Yet")
    closed = TicketFactory(workspace=workspace, status=Ticket.Status.CLOSED, contact__name="Done Deal")
    in_billing = TicketFactory(workspace=workspace, inbox=billing, contact__name="Billing Person")

    def names(key: str) -> set[str]:
        html = staff.get(list_url(key)).content.decode()
        people = {t.contact.name for t in (mine, unassigned, closed, in_billing)}
        return {name for name in people if name in html}

    assert names("mine") == {"Mine Person"}
    assert names("unassigned") == {"Nobody Yet", "Billing Person"}
    assert names("closed") == {"Done Deal"}
    assert names(f"inbox-{billing.pk}") == {"Billing Person"}


@pytest.mark.parametrize("tickets", [5, 50])
def test_list_page_query_count_does_not_grow_with_tickets(
    staff: Client, workspace, tickets: int, django_assert_max_num_queries
) -> None:
    CustomInboxFactory(workspace=workspace, name="Billing")
    SavedView.objects.create(workspace=workspace, name="Enterprise", rule="company.plan = enterprise")
    for _ in range(tickets):
        ticket = TicketFactory(workspace=workspace)
        ticket.conversations.add(ConversationFactory(workspace=workspace, contact=ticket.contact))
    with django_assert_max_num_queries(9):
        response = staff.get(list_url())
    assert response.status_code == 200


@pytest.mark.parametrize("tickets", [5, 50])
def test_saved_view_page_query_count_does_not_grow_with_tickets(
    staff: Client, workspace, tickets: int, django_assert_max_num_queries
) -> None:
    view = SavedView.objects.create(workspace=workspace, name="Enterprise", rule="company.plan = enterprise")
    enterprise = CompanyFactory(workspace=workspace, plan="enterprise")
    for _ in range(tickets):
        TicketFactory(workspace=workspace, contact__company=enterprise)
    with django_assert_max_num_queries(9):  # as a built-in list's: the view is one of the sidebar's lists
        response = staff.get(list_url(f"view-{view.pk}"))
    assert len(re.findall(r'data-ticket-id="(\d+)"', response.content.decode())) == tickets


def test_sidebar_counts_stop_at_the_cap(staff: Client, workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """B5: a count reads at most COUNT_CAP + 1 tickets, so the page costs the same with a huge backlog."""
    monkeypatch.setattr("inbox.selectors.COUNT_CAP", 2)
    for _ in range(3):
        TicketFactory(workspace=workspace)
    TicketFactory(workspace=workspace, status=Ticket.Status.PRIORITY)

    html = staff.get(list_url()).content.decode()

    assert re.search(r'data-count="open">2\+<', html)
    assert re.search(r'data-count="priority">1<', html)


def test_list_rows_say_when_a_ticket_last_moved(staff: Client, workspace, clock) -> None:
    TicketFactory(workspace=workspace)

    assert '">just now</time>' in staff.get(list_url()).content.decode()
    clock.advance(5 * 60 + 1)
    assert '">5\xa0minutes ago</time>' in staff.get(list_url()).content.decode()


def test_list_is_keyset_paginated(staff: Client, workspace) -> None:
    tickets = [TicketFactory(workspace=workspace) for _ in range(60)]
    first = staff.get(list_url()).content.decode()
    match = re.search(r'href="\?before=(\d+)"', first)
    assert match is not None
    second = staff.get(list_url(), {"before": match.group(1)}).content.decode()

    first_ids = set(map(int, re.findall(r'data-ticket-id="(\d+)"', first)))
    second_ids = set(map(int, re.findall(r'data-ticket-id="(\d+)"', second)))
    assert len(first_ids) == 50
    assert len(second_ids) == 10
    assert first_ids | second_ids == {t.pk for t in tickets}
    assert "?before=" not in second.split("rel=")[0] or 'rel="next"' not in second


def test_saved_view_is_keyset_paginated_over_its_matching_tickets_only(staff: Client, workspace) -> None:
    enterprise = CompanyFactory(workspace=workspace, plan="enterprise")
    view = SavedView.objects.create(workspace=workspace, name="Enterprise", rule="company.plan = enterprise")
    matching = set()
    for n in range(120):  # matching and other tickets interleaved, so each page must skip the others
        ticket = TicketFactory(workspace=workspace, contact__company=enterprise if n % 2 else None)
        if n % 2:
            matching.add(ticket.pk)

    first = staff.get(list_url(f"view-{view.pk}")).content.decode()
    before = re.search(r'href="\?before=(\d+)"', first)
    assert before is not None
    second = staff.get(list_url(f"view-{view.pk}"), {"before": before.group(1)}).content.decode()

    first_ids = [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', first)]
    second_ids = [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', second)]
    assert first_ids == sorted(matching, reverse=True)[:50]
    assert second_ids == sorted(matching, reverse=True)[50:]


def test_ticket_page_shows_the_ai_conversation_context(staff: Client, escalate, workspace, agent) -> None:
    ticket = escalate(name="Jane Roe", body="My invoice is wrong")
    Ticket.objects.filter(pk=ticket.pk).update(
        confidence=37,
        knowledge_sources=[
            {"title": "Invoices explained", "url": "https://help.example.com/invoices", "score": 0.82},
            {"title": "Sneaky", "url": "javascript:alert(1)", "score": 0.1},
        ],
        tools_tried=[{"name": "knowledge_search", "arguments": {"query": "invoice wrong"}}],
        reason="low_confidence",
    )
    second = ConversationFactory(workspace=workspace, agent=agent, contact=ticket.contact)
    MessageFactory(conversation=second, author="user", body="Still waiting on the invoice")
    from escalation.flow import handoff_request

    handoff_request(conversation=second)

    html = staff.get(ticket_url(ticket)).content.decode()

    assert "AI Conversation Context" in html
    assert "37%" in html
    assert "The AI was not confident in its answer" in html
    assert "My invoice is wrong" in html
    assert "Still waiting on the invoice" in html
    assert '<a href="https://help.example.com/invoices"' in html
    assert "0.82" in html
    assert 'href="javascript:' not in html
    assert "Sneaky" in html
    assert "knowledge_search" in html
    assert "invoice wrong" in html
    assert "Summary pending" in html
    assert "Created because the customer asked for a human" in html
    assert "Merged because the customer asked for a human" in html
    assert "v1 · " in html  # the settings version and agent

    ticket_summarize(ticket_id=ticket.pk)
    html = staff.get(ticket_url(ticket)).content.decode()
    assert "Summary pending" not in html
    # It leads with what the customer needed at the latest escalation, then how the conversation began.
    assert "The customer needed: &quot;Still waiting on the invoice&quot;" in html
    assert "The conversation began with: &quot;My invoice is wrong&quot;" in html


def test_customer_text_is_escaped_everywhere_on_the_pages(staff: Client, escalate) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    company = CompanyFactory(name="<b>Evil Corp</b>")
    ticket = escalate(name=payload, body=payload, company=company, email="evil@example.com")
    Ticket.objects.filter(pk=ticket.pk).update(summary=payload, summary_state="ready")
    company.workspace = ticket.workspace
    company.save()

    for url in (list_url(), ticket_url(ticket), ticket_url(ticket) + "?partial=1", list_url() + "?partial=1"):
        html = staff.get(url).content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_assign_to_me_a_teammate_and_unassign(staff: Client, escalate, teammate: Membership, workspace) -> None:
    ticket = escalate()
    colleague = MembershipFactory(workspace=workspace, user__username="kim@acme.test").user

    staff.post(action_url(ticket, "assign"), {"assignee": "me"})
    ticket.refresh_from_db()
    assert ticket.assignee == teammate.user
    assert not OutboxMessage.objects.filter(task=EMAIL_TASK).exists()  # nobody is emailed about themselves

    staff.post(action_url(ticket, "assign"), {"assignee": str(colleague.pk)})
    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    assert OutboxMessage.objects.get(task=EMAIL_TASK).payload == {"ticket_id": ticket.pk, "assignee_id": colleague.pk}

    staff.post(action_url(ticket, "assign"), {"assignee": ""})
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert list(InboxEvent.objects.filter(type="ticket.updated").values_list("payload__assignee_id", flat=True)) == [
        teammate.user.pk,
        colleague.pk,
        None,
    ]


def test_the_assignee_menu_marks_away_teammates_who_stay_assignable_by_hand(staff: Client, escalate, workspace) -> None:
    ticket = escalate()
    kim = MembershipFactory(
        workspace=workspace, user__username="kim@acme.test", user__first_name="Kim", available=False
    ).user
    lee = MembershipFactory(workspace=workspace, user__username="lee@acme.test", user__first_name="Lee").user
    MembershipFactory(user=lee, available=False)  # away in another workspace only: not away here

    menu = re.search(r'<select id="assignee".*?</select>', staff.get(ticket_url(ticket)).content.decode(), re.S)

    assert menu is not None
    assert re.search(rf'<option value="{kim.pk}" title="Away: [^"]*">Kim \(away\)</option>', menu.group())
    assert f'<option value="{lee.pk}">Lee</option>' in menu.group()
    staff.post(action_url(ticket, "assign"), {"assignee": str(kim.pk)})
    ticket.refresh_from_db()
    assert ticket.assignee == kim


def test_cannot_assign_to_someone_outside_the_workspace(staff: Client, escalate, outsider: Membership) -> None:
    ticket = escalate()
    response = staff.post(action_url(ticket, "assign"), {"assignee": str(outsider.user.pk)}, follow=True)
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert "Select a valid choice" in response.content.decode()


def test_status_changes_and_closing_hands_back_to_the_ai(staff: Client, escalate) -> None:
    ticket = escalate()
    for status in ("snoozed", "priority", "closed"):
        staff.post(action_url(ticket, "status"), {"status": status})
        ticket.refresh_from_db()
        assert ticket.status == status
    conversation = ticket.conversations.get()
    assert conversation.status == "open"


def test_closing_is_refused_when_the_customer_escalated_again_since_the_page_was_shown(staff: Client, escalate) -> None:
    ticket = escalate()
    shown = ticket.escalation_count
    escalate(contact=ticket.contact, body="Still waiting, I need a person")  # merges into the same ticket

    response = staff.post(action_url(ticket, "status"), {"status": "closed", "seen_escalations": shown}, follow=True)

    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert "escalated again a moment ago" in response.content.decode()
    assert set(ticket.conversations.values_list("status", flat=True)) == {"handed_off"}
    staff.post(action_url(ticket, "status"), {"status": "closed", "seen_escalations": ticket.escalation_count})
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_bad_status_is_refused_with_a_message(staff: Client, escalate) -> None:
    ticket = escalate()
    response = staff.post(action_url(ticket, "status"), {"status": "deleted"}, follow=True)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_reply_reaches_the_conversation_and_silences_the_ai(staff: Client, escalate, teammate: Membership) -> None:
    ticket = escalate()
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.CLOSED)  # even handed back to the AI…
    conversation = ticket.conversations.get()
    conversation.status = "open"
    conversation.save()

    response = staff.post(action_url(ticket, "reply"), {"body": "Hi, I'm Sam. Looking into it now."})

    assert response.status_code == 302
    reply = Message.objects.get(conversation=conversation, author="teammate")
    assert reply.body == "Hi, I'm Sam. Looking into it now."
    assert reply.teammate == teammate.user
    conversation.refresh_from_db()
    assert not conversation.ai_may_answer  # …a teammate's reply silences the AI


def test_reply_records_a_live_message_event(staff: Client, escalate) -> None:
    ticket = escalate()
    staff.post(action_url(ticket, "reply"), {"body": "On it"})
    event = InboxEvent.objects.filter(type="message.new").get()
    assert event.ticket_id == ticket.pk
    assert event.payload["author"] == "teammate"


def test_empty_reply_is_refused(staff: Client, escalate) -> None:
    ticket = escalate()
    response = staff.post(action_url(ticket, "reply"), {"body": "   "}, follow=True)
    assert "This field is required" in response.content.decode() or "cannot be empty" in response.content.decode()
    assert not Message.objects.filter(author="teammate").exists()


def test_internal_note_is_shown_to_staff_and_never_to_the_customer(staff: Client, escalate) -> None:
    ticket = escalate()
    staff.post(action_url(ticket, "note"), {"body": "VIP, be <nice>"})
    assert TicketNote.objects.get(ticket=ticket).body == "VIP, be <nice>"
    assert not Message.objects.filter(body__contains="VIP").exists()
    assert "VIP, be &lt;nice&gt;" in staff.get(ticket_url(ticket)).content.decode()


def test_verdict_is_recorded_and_can_be_cleared(staff: Client, escalate, teammate: Membership) -> None:
    ticket = escalate()
    staff.post(action_url(ticket, "verdict"), {"verdict": "ai_could_have_answered"})
    ticket.refresh_from_db()
    assert (ticket.verdict, ticket.verdict_by) == ("ai_could_have_answered", teammate.user)
    staff.post(action_url(ticket, "verdict"), {"verdict": "right_to_escalate"})
    ticket.refresh_from_db()
    assert ticket.verdict == "right_to_escalate"
    staff.post(action_url(ticket, "verdict"), {"verdict": ""})
    ticket.refresh_from_db()
    assert (ticket.verdict, ticket.verdict_by) == ("", None)


def test_unknown_action_is_a_404(staff: Client, escalate) -> None:
    assert staff.post(action_url(escalate(), "delete")).status_code == 404


def test_actions_need_post(staff: Client, escalate) -> None:
    assert staff.get(action_url(escalate(), "status")).status_code == 405


def test_another_workspaces_ticket_is_not_found(escalate, outsider: Membership, other_workspace) -> None:
    ticket = escalate()
    client = Client()
    client.force_login(outsider.user)
    CustomInboxFactory(workspace=ticket.workspace, name="Secret")

    assert client.get(ticket_url(ticket)).status_code == 404
    assert client.get(ticket_url(ticket) + "?partial=1").status_code == 404
    for action, data in [("assign", {"assignee": "me"}), ("status", {"status": "closed"}), ("reply", {"body": "x"})]:
        assert client.post(action_url(ticket, action), data).status_code == 404
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("open", None)
    secret = ticket.workspace.custom_inboxes.get()
    assert client.get(list_url(f"inbox-{secret.pk}")).status_code == 404
    view = SavedView.objects.create(workspace=ticket.workspace, name="Secret view")
    assert client.get(list_url(f"view-{view.pk}")).status_code == 404
    assert client.post(reverse("inbox:view-delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    assert "Secret" not in client.get(list_url()).content.decode()


def test_workspace_switcher_changes_the_current_workspace(
    staff: Client, teammate: Membership, other_workspace, escalate
) -> None:
    escalate(name="Acme Customer")
    MembershipFactory(workspace=other_workspace, user=teammate.user)
    TicketFactory(workspace=other_workspace, contact__name="Globex Customer")

    assert "Acme Customer" in staff.get(list_url()).content.decode()
    staff.post(reverse("inbox:workspace-switch"), {"workspace": other_workspace.pk})
    html = staff.get(list_url()).content.decode()
    assert "Globex Customer" in html
    assert "Acme Customer" not in html


def test_cannot_switch_to_a_workspace_one_is_not_a_member_of(staff: Client, other_workspace) -> None:
    assert staff.post(reverse("inbox:workspace-switch"), {"workspace": other_workspace.pk}).status_code == 404
    assert staff.post(reverse("inbox:workspace-switch"), {"workspace": "abc"}).status_code == 404


def test_opening_a_ticket_of_another_of_my_workspaces_switches_to_it(
    staff: Client, teammate: Membership, other_workspace
) -> None:
    MembershipFactory(workspace=other_workspace, user=teammate.user)
    ticket = TicketFactory(workspace=other_workspace, contact__name="Globex Customer")
    assert staff.get(ticket_url(ticket)).status_code == 200
    assert "Globex Customer" in staff.get(list_url()).content.decode()


def test_saved_view_lists_tickets_of_contacts_matching_its_rule(staff: Client, workspace, escalate) -> None:
    enterprise = CompanyFactory(workspace=workspace, name="Big Co", plan="enterprise")
    escalate(name="Enterprise Person", company=enterprise)
    escalate(name="Small Person")

    response = staff.post(reverse("inbox:view-new"), {"name": "Enterprise", "rule": "company.plan = enterprise"})
    view = SavedView.objects.get()
    assert response["Location"] == list_url(f"view-{view.pk}")
    html = staff.get(response["Location"]).content.decode()
    assert "Enterprise Person" in html
    assert "Small Person" not in html
    assert re.search(rf'data-count="view-{view.pk}">1<', html)


def test_saved_view_with_a_bad_rule_is_refused_with_its_position(staff: Client) -> None:
    response = staff.post(reverse("inbox:view-new"), {"name": "Broken", "rule": "company.plna = x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "company.plan" in html  # the "did you mean" hint
    assert not SavedView.objects.exists()


def test_saved_view_names_are_unique_per_workspace(staff: Client, workspace) -> None:
    SavedView.objects.create(workspace=workspace, name="VIP")
    response = staff.post(reverse("inbox:view-new"), {"name": "VIP", "rule": ""})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_saved_view_can_be_deleted(staff: Client, workspace) -> None:
    view = SavedView.objects.create(workspace=workspace, name="VIP")
    staff.post(reverse("inbox:view-delete", args=[view.pk]))
    assert not SavedView.objects.exists()


def test_unknown_list_is_a_404(staff: Client) -> None:
    assert staff.get(list_url("everything")).status_code == 404
    assert staff.get(list_url("inbox-999")).status_code == 404


def test_garbage_pagination_cursor_is_refused(staff: Client, workspace) -> None:
    TicketFactory(workspace=workspace)
    response = staff.get(list_url(), {"before": "'; DROP TABLE"})
    assert response.status_code == 400
    assert response.content.decode() == "The before parameter must be an id (ASCII digits)."


def test_partial_renders_only_the_live_regions(staff: Client, escalate) -> None:
    ticket = escalate()
    html = staff.get(ticket_url(ticket) + "?partial=1").content.decode()
    assert 'id="ticket-side"' in html
    assert 'id="inbox-nav"' in html
    assert "<html" not in html
    assert 'id="reply-form"' not in html


def test_page_renders_the_event_sequence_for_its_socket(staff: Client, escalate, workspace) -> None:
    escalate()
    escalate()
    html = staff.get(list_url()).content.decode()
    assert f'data-workspace="{workspace.pk}" data-seq="2"' in html


@pytest.mark.parametrize("key", ["a/b", "../admin", "<script>", "x" * 300])
def test_ticket_page_ignores_a_bad_list_parameter(staff: Client, escalate, key: str) -> None:
    ticket = escalate()
    response = staff.get(ticket_url(ticket), {"list": key})
    assert response.status_code == 200
    assert 'href="/inbox/open/"' in response.content.decode()


def test_the_header_toggle_sets_the_teammates_availability(staff: Client, teammate: Membership) -> None:
    response = staff.post("/inbox/availability", {"available": "false", "next": "/inbox/open/"})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/open/"
    teammate.refresh_from_db()
    assert not teammate.available
    page = staff.get("/inbox/open/").content.decode()
    assert 'aria-pressed="false"' in page
    assert ">Away</button>" in page

    staff.post("/inbox/availability", {"available": "true"})
    teammate.refresh_from_db()
    assert teammate.available


@pytest.mark.parametrize("value", ["", "yes", "\x00"])
def test_the_header_toggle_refuses_garbage(staff: Client, teammate: Membership, value: str) -> None:
    response = staff.post("/inbox/availability", {"available": value, "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    teammate.refresh_from_db()
    assert teammate.available


def test_the_header_toggle_is_only_a_post(staff: Client) -> None:
    assert staff.get("/inbox/availability").status_code == 405
