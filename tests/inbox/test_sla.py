"""The first-reply SLA: the due time a ticket gets when it opens (business hours, priority target, a clock
change), the first reply, ``sla_breached`` in the API, the inbox's badges and due sort, and the warning
before a breach, sent once to the assignee (SMTP) and Slack (the stand-in)."""

import base64
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from agents.models import Agent
from escalation.models import EscalationSettings
from halo.clock import clock_use
from halo.models import Membership, OutboxMessage, Workspace
from halo.outbox import outbox_process
from halo.selectors import business_hours_get
from halo.services import business_hours_set
from inbox import selectors
from inbox.models import Ticket
from inbox.notifications import FIRST_REPLY_EMAIL_TASK, FIRST_REPLY_SLACK_TASK
from inbox.notifications.emails import first_reply_email_deliver
from inbox.notifications.slack import first_reply_slack_deliver
from inbox.services import (
    Escalation,
    ticket_open_or_merge,
    ticket_reply,
    ticket_update,
    tickets_first_reply_warn,
)
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory, MembershipFactory
from tests.inbox.slack_stand_in import SlackStandIn, slack_stand_in_running
from tests.inbox.test_notifications import Mailbox, parts, smtp  # noqa: F401  (the SMTP stand-in fixture)
from tests.support.clock import FixedClock, ManualClock
from tests.support.office import berlin

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen() -> Iterator[FixedClock]:
    """``halo.clock`` stopped on Friday 4 December 2026 at 17:00 in Berlin; tests move it with ``advance``."""
    with clock_use(FixedClock(berlin(2026, 12, 4, 17, 0))) as clock:
        yield clock  # type: ignore[misc]


def open_ticket(workspace: Workspace, agent: Agent, *, priority: bool = False, contact: Any = None) -> Ticket:
    from halo import clock

    contact = contact or ContactFactory(workspace=workspace)
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
    return ticket_open_or_merge(
        conversation=conversation,
        contact=contact,
        escalation=Escalation(
            agent_id=agent.pk,
            reason="manual",
            confidence=None,
            turn_id=None,
            mode="always",
            settings_version=1,
            priority=priority,
            assignee_id=None,
            inbox_id=None,
            knowledge_sources=(),
            tools_tried=(),
            at=clock.now(),
        ),
    ).ticket


# --- The due time -------------------------------------------------------------------------------------


def test_a_ticket_opened_late_on_friday_is_due_on_monday(office: Workspace, agent: Agent, frozen: Any) -> None:
    ticket = open_ticket(office, agent)
    # 30 minutes on Friday (17:00-17:30), 90 on Monday from 09:00.
    assert ticket.first_reply_due_at == berlin(2026, 12, 7, 10, 30)


def test_a_priority_ticket_gets_the_priority_target(office: Workspace, agent: Agent, frozen: Any) -> None:
    assert open_ticket(office, agent, priority=True).first_reply_due_at == berlin(2026, 12, 4, 17, 30)


def test_a_merge_that_raises_priority_brings_the_due_time_forward(office: Workspace, agent: Agent, frozen: Any) -> None:
    contact = ContactFactory(workspace=office)
    ticket = open_ticket(office, agent, contact=contact)
    frozen.advance(10 * 60)
    merged = open_ticket(office, agent, priority=True, contact=contact)
    assert merged.pk == ticket.pk
    assert Ticket.objects.get(pk=ticket.pk).first_reply_due_at == berlin(2026, 12, 4, 17, 30)


def test_the_due_time_is_counted_across_the_october_clock_change(office: Workspace, agent: Agent) -> None:
    # Friday 23 October, 17:00 CEST (15:00 UTC); the clocks go back on Sunday. Due Monday 10:30 CET = 09:30 UTC,
    # not 08:30 UTC as a wall-clock-naive count would say.
    with clock_use(FixedClock(berlin(2026, 10, 23, 17, 0))):
        ticket = open_ticket(office, agent)
    assert ticket.first_reply_due_at == berlin(2026, 10, 26, 10, 30)
    assert ticket.first_reply_due_at.astimezone(ZoneInfo("UTC")).hour == 9


def test_the_due_time_skips_a_public_holiday(office: Workspace, agent: Agent) -> None:
    business_hours_set(workspace=office, data={"holidays_country": "DE"})
    with clock_use(FixedClock(berlin(2026, 12, 24, 17, 0))):  # Thursday; Friday 25 is Christmas Day
        ticket = open_ticket(office, agent)
    # 30 minutes on Thursday (24 December is a working day in Germany), none on Christmas Day, 90 on Monday.
    assert ticket.first_reply_due_at == berlin(2026, 12, 28, 10, 30)


def test_a_workspace_without_business_hours_counts_around_the_clock(workspace: Workspace, agent: Agent) -> None:
    with clock_use(FixedClock(berlin(2026, 12, 5, 23, 0))):  # a Saturday night
        ticket = open_ticket(workspace, agent)
    assert ticket.first_reply_due_at == berlin(2026, 12, 6, 1, 0)
    assert business_hours_get(workspace=workspace).first_reply_target_minutes == 120


# --- The first reply, the API ----------------------------------------------------------------------------


def test_the_first_teammate_reply_is_stamped_once(
    office: Workspace, agent: Agent, teammate: Membership, frozen: Any
) -> None:
    ticket = open_ticket(office, agent)
    frozen.advance(60)
    ticket_reply(ticket=ticket, teammate=teammate.user, body="Looking into it.")
    frozen.advance(60)
    ticket_reply(ticket=ticket, teammate=teammate.user, body="Fixed.")
    ticket.refresh_from_db()
    assert ticket.first_replied_at == berlin(2026, 12, 4, 17, 1)


def test_the_api_shows_due_replied_and_breached(
    api: APIClient, office: Workspace, agent: Agent, teammate: Membership, frozen: Any
) -> None:
    on_time, late, waiting = (open_ticket(office, agent) for _ in range(3))
    ticket_reply(ticket=on_time, teammate=teammate.user, body="Hi!")

    def fields(ticket: Ticket) -> dict[str, Any]:
        body = api.get(f"/api/v1/tickets/{ticket.pk}").json()
        return {key: body[key] for key in ("first_reply_due_at", "first_replied_at", "sla_breached")}

    assert fields(waiting) == {
        "first_reply_due_at": "2026-12-07T09:30:00Z",
        "first_replied_at": None,
        "sla_breached": False,
    }
    frozen.advance(3 * 24 * 3600)  # Monday 17:00: two are overdue
    ticket_reply(ticket=late, teammate=teammate.user, body="Sorry for the wait.")
    assert fields(waiting)["sla_breached"] is True
    assert fields(late)["sla_breached"] is True
    assert fields(late)["first_replied_at"] is not None
    assert fields(on_time)["sla_breached"] is False


# --- The inbox ----------------------------------------------------------------------------------------


@pytest.fixture
def staff(teammate: Membership) -> Client:
    client = Client()
    client.force_login(teammate.user)
    return client


def test_the_list_shows_due_soon_and_breached_badges(
    staff: Client, office: Workspace, agent: Agent, frozen: Any, django_assert_max_num_queries: Any
) -> None:
    soon = open_ticket(office, agent, priority=True)  # due 17:30 today
    later = open_ticket(office, agent)  # due Monday 10:30
    frozen.advance(20 * 60)  # 17:20: ten minutes left on the priority ticket
    with django_assert_max_num_queries(9):  # the list page's budget, unchanged by the badges
        page = staff.get(reverse("inbox:list", args=["open"])).content.decode()
    assert f'data-ticket-id="{soon.pk}"' in page
    assert '<span class="sla-badge sla-due_soon">Reply due in 10 min</span>' in page
    frozen.advance(30 * 60)  # 17:50: the priority ticket is twenty minutes late
    page = staff.get(reverse("inbox:list", args=["open"])).content.decode()
    assert '<span class="sla-badge sla-breached">Reply overdue by 20 min</span>' in page
    assert '<span class="sla-badge sla-waiting">Reply due in 2 d 16 h</span>' in page  # Monday 10:30
    ticket_page = staff.get(reverse("inbox:ticket", args=[soon.pk])).content.decode()
    assert 'class="sla-badge sla-breached" id="ticket-sla">Reply overdue by 20 min' in ticket_page
    assert later.pk


def test_sorting_by_due_puts_the_most_urgent_first_across_pages(
    staff: Client, office: Workspace, agent: Agent, teammate: Membership, frozen: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(selectors, "INBOX_PAGE_SIZE", 2)
    normal = open_ticket(office, agent)  # due Monday 10:30
    answered = open_ticket(office, agent)
    ticket_reply(ticket=answered, teammate=teammate.user, body="Hi")
    urgent = open_ticket(office, agent, priority=True)  # due today 17:30
    frozen.advance(60)
    urgent_too = open_ticket(office, agent, priority=True)  # due Monday 09:01 (29 min today, 1 on Monday)
    order = []
    url = reverse("inbox:list", args=["open"]) + "?sort=due"
    while url:
        response = staff.get(url)
        order += [int(row["id"]) for row in response.context["rows"]]
        older = response.context["older_url"]
        url = reverse("inbox:list", args=["open"]) + older if older else ""
    assert order == [urgent.pk, urgent_too.pk, normal.pk, answered.pk]


def test_the_next_due_page_starts_after_the_last_ticket_shown_even_once_it_left_the_list(
    staff: Client, office: Workspace, agent: Agent, frozen: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(selectors, "INBOX_PAGE_SIZE", 2)
    normal = open_ticket(office, agent)  # due Monday 10:30
    urgent = open_ticket(office, agent, priority=True)  # due today 17:30
    frozen.advance(60)
    urgent_too = open_ticket(office, agent, priority=True)  # due Monday 09:01
    later = open_ticket(office, agent)  # due Monday 10:31
    first = staff.get(reverse("inbox:list", args=["open"]) + "?sort=due")
    assert [int(row["id"]) for row in first.context["rows"]] == [urgent.pk, urgent_too.pk]

    ticket_update(ticket=urgent_too, data={"status": Ticket.Status.CLOSED})  # a teammate closes the last one shown

    second = staff.get(reverse("inbox:list", args=["open"]) + first.context["older_url"])
    assert [int(row["id"]) for row in second.context["rows"]] == [normal.pk, later.pk]


def _api_pages(api: APIClient, url: str | None) -> list[list[int]]:
    pages = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        pages.append([ticket["id"] for ticket in response.json()["results"]])
        assert response.json()["previous"] is None
        url = response.json()["next"]
    return pages


def test_the_api_sorts_by_due_across_pages_with_ties_and_tickets_not_waiting(
    api: APIClient, office: Workspace, agent: Agent, teammate: Membership, frozen: Any
) -> None:
    normal = open_ticket(office, agent)  # due Monday 10:30
    answered = open_ticket(office, agent)  # not waiting: after every waiting ticket
    ticket_reply(ticket=answered, teammate=teammate.user, body="Hi")
    urgent, urgent_tie = open_ticket(office, agent, priority=True), open_ticket(office, agent, priority=True)
    frozen.advance(60)
    urgent_later = open_ticket(office, agent, priority=True)  # due Monday 09:01
    closed = open_ticket(office, agent)  # due Monday 10:31, never answered: the order counts it as waiting
    api.patch(f"/api/v1/tickets/{closed.pk}", {"status": "closed"}, format="json")
    answered_too = open_ticket(office, agent)
    ticket_reply(ticket=answered_too, teammate=teammate.user, body="Hi")
    assert urgent.first_reply_due_at == urgent_tie.first_reply_due_at  # a tie on the due time: by id

    pages = _api_pages(api, "/api/v1/tickets?sort=due&limit=2")

    # The third page ends on a ticket not waiting: the fourth goes on among those, by id.
    assert pages == [
        [urgent.pk, urgent_tie.pk],
        [urgent_later.pk, normal.pk],
        [closed.pk, answered.pk],
        [answered_too.pk],
    ]
    open_only = _api_pages(api, "/api/v1/tickets?sort=due&status=open,priority&limit=3")
    assert [pk for page in open_only for pk in page] == [
        urgent.pk,
        urgent_tie.pk,
        urgent_later.pk,
        normal.pk,
        answered.pk,
        answered_too.pk,
    ]


def test_the_api_due_cursor_holds_its_place_when_the_last_ticket_shown_is_answered(
    api: APIClient, office: Workspace, agent: Agent, teammate: Membership, frozen: Any
) -> None:
    first, second, third = (open_ticket(office, agent) for _ in range(3))
    frozen.advance(60)
    fourth = open_ticket(office, agent)
    body = api.get("/api/v1/tickets?sort=due&limit=2").json()
    assert [ticket["id"] for ticket in body["results"]] == [first.pk, second.pk]

    ticket_reply(ticket=second, teammate=teammate.user, body="On it.")  # it moves to the end of the order

    # The next page starts after the second ticket's place when it was shown: the first is not shown again,
    # the second comes back among the tickets not waiting any more.
    assert [pk for page in _api_pages(api, body["next"]) for pk in page] == [third.pk, fourth.pk, second.pk]


def test_the_api_refuses_a_bad_sort_or_cursor(api: APIClient, office: Workspace, agent: Agent) -> None:
    open_ticket(office, agent), open_ticket(office, agent)
    bad_sort = api.get("/api/v1/tickets?sort=urgent")
    assert bad_sort.status_code == 400
    assert bad_sort.json()["code"] == "invalid"
    assert "sort: choose from newest, oldest, due." in bad_sort.json()["message"]
    assert api.get("/api/v1/tickets?sort=due&q=refund").status_code == 400
    newest_cursor = api.get("/api/v1/tickets?limit=1").json()["next"]  # an id cursor is not a due cursor
    assert api.get(newest_cursor.replace("limit=1", "limit=1&sort=due")).status_code == 400
    for position in ("p=yesterday%7C5", "p=2026-12-07T09%3A30%3A00%7Cabc", "p=2026-12-07T09%3A30%3A00%7C5"):
        cursor = base64.b64encode(position.encode()).decode()
        response = api.get(f"/api/v1/tickets?sort=due&cursor={cursor}")
        assert response.status_code == 400, position
        assert response.json()["fields"] == {"cursor": ["Invalid cursor."]}


def test_the_api_due_sort_reads_a_page_in_a_fixed_number_of_queries(
    api: APIClient, office: Workspace, agent: Agent, frozen: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(12):
        open_ticket(office, agent)
    next_url = api.get("/api/v1/tickets?sort=due&limit=5").json()["next"]
    with django_assert_max_num_queries(5):  # the key, the page (with contacts), the conversation ids
        assert len(api.get(next_url).json()["results"]) == 5


# --- The warning before a breach --------------------------------------------------------------------------


@pytest.fixture
def slack(workspace: Workspace) -> Iterator[SlackStandIn]:
    with slack_stand_in_running() as stand_in:
        workspace.slack_webhook_url = stand_in.url
        workspace.save()
        yield stand_in


def test_about_to_breach_tells_the_assignee_and_slack_once(
    smtp: Mailbox,  # noqa: F811
    slack: SlackStandIn,
    office: Workspace,
    agent: Agent,
    frozen: Any,
) -> None:
    kim = MembershipFactory(workspace=office, user__username="kim@acme.test", user__first_name="Kim").user
    EscalationSettings.objects.filter(agent=agent).update(default_assignee=kim)
    ticket = open_ticket(office, agent, priority=True)
    Ticket.objects.filter(pk=ticket.pk).update(assignee=kim)
    assert tickets_first_reply_warn() == 0  # 30 minutes left: not yet
    frozen.advance(16 * 60)  # 14 minutes left
    assert tickets_first_reply_warn() == 1
    assert tickets_first_reply_warn() == 0  # the next run, and the one after, record nothing new
    frozen.advance(20 * 60)
    assert tickets_first_reply_warn() == 0
    [email_row] = OutboxMessage.objects.filter(task=FIRST_REPLY_EMAIL_TASK)
    [slack_row] = OutboxMessage.objects.filter(task=FIRST_REPLY_SLACK_TASK)

    outbox_process(message_id=email_row.pk, handler=first_reply_email_deliver)
    outbox_process(message_id=email_row.pk, handler=first_reply_email_deliver)  # delivered once, even if sent twice
    # Slack's rate limiter stamps rows with the real time: deliver on the real clock (the ticket is overdue
    # on it too).
    with clock_use(ManualClock()):
        first_reply_slack_deliver(message_id=slack_row.pk)
        first_reply_slack_deliver(message_id=slack_row.pk)

    [message] = smtp.messages
    assert smtp.envelopes[0].rcpt_tos == ["kim@acme.test"]
    assert message["Subject"] == f"[Acme] Ticket #{ticket.pk} from {ticket.contact}: first reply overdue"
    assert "was due Fri 4 Dec, 17:30" in parts(message)["text/plain"]
    [text] = slack.texts()
    assert "A ticket is waiting for its first reply" in text
    assert f"#{ticket.pk}>" in text
    assert "overdue" in text


def test_a_ticket_answered_before_the_warning_goes_out_is_not_warned(
    smtp: Mailbox,  # noqa: F811
    office: Workspace,
    agent: Agent,
    teammate: Membership,
    frozen: Any,
) -> None:
    ticket = open_ticket(office, agent, priority=True)
    Ticket.objects.filter(pk=ticket.pk).update(assignee=teammate.user)
    frozen.advance(20 * 60)
    assert tickets_first_reply_warn() == 1
    ticket_reply(ticket=ticket, teammate=teammate.user, body="On it")
    [row] = OutboxMessage.objects.filter(task=FIRST_REPLY_EMAIL_TASK)
    outbox_process(message_id=row.pk, handler=first_reply_email_deliver)
    assert smtp.messages == []
    # An answered ticket is never flagged.
    other = open_ticket(office, agent, priority=True)
    ticket_reply(ticket=other, teammate=teammate.user, body="Hi")
    frozen.advance(3600)
    assert tickets_first_reply_warn() == 0


def test_the_warning_job_is_scheduled() -> None:
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["inbox-first-reply-warn"]["task"] == "inbox.tasks.first_reply_warn"
