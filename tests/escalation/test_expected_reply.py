"""When the customer can expect a reply: the widget's ``expected_reply`` and the handoff message, inside and
outside business hours (a fixed clock), on the visitor's clock, across Europe/Berlin's clock changes."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from agents.models import Agent
from halo.clock import clock_use
from halo.models import Workspace
from inbox.models import Ticket
from tests.inbox.factories import TicketFactory
from tests.support.clock import FixedClock
from tests.support.office import berlin

CONFIG = "/api/widget/v1/config"


@pytest.fixture
def at() -> Iterator[Any]:
    """``at(moment)`` stops ``halo.clock`` at ``moment`` for the rest of the test."""
    stack: list[Any] = []

    def stop(moment: datetime) -> None:
        context = clock_use(FixedClock(moment))
        context.__enter__()
        stack.append(context)

    yield stop
    for context in reversed(stack):
        context.__exit__(None, None, None)


def config(widget: APIClient, workspace: Workspace, timezone: str | None = None) -> dict[str, Any]:
    query = f"?app_id={workspace.app_id}" + (f"&timezone={timezone}" if timezone else "")
    response = widget.get(CONFIG + query)
    assert response.status_code == 200
    return response.json()["expected_reply"]  # type: ignore[no-any-return]


def handoff_notice(widget: APIClient, workspace: Workspace, timezone: str | None = None) -> str:
    start = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "body": "Where do I find my invoices?"},
        format="json",
    ).json()
    query = f"?timezone={timezone}" if timezone else ""
    response = widget.post(
        f"/api/widget/v1/conversations/{start['id']}/handoff{query}",
        {},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {start['token']}",
    )
    assert response.status_code == 201, response.json()
    [notice] = response.json()["messages"]
    return str(notice["body"])


def test_inside_hours_the_agents_text_stands_in_until_replies_are_measured(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    at(berlin(2026, 12, 7, 10, 0))  # Monday morning
    assert config(widget, office) == {
        "open_now": True,
        "text": "Our team usually replies within a few hours",
        "next_open_at": None,
    }


def test_inside_hours_the_text_is_the_teams_median_first_reply_of_the_last_week(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    now = berlin(2026, 12, 7, 15, 0)
    at(now)
    for minutes in (10, 20, 45):  # answered during Friday's hours
        opened = berlin(2026, 12, 4, 10, 0)
        TicketFactory(workspace=office, created_at=opened, first_replied_at=opened + timedelta(minutes=minutes))
    # Opened on Friday at 17:20, answered on Monday at 09:10: 20 business minutes, not a weekend.
    TicketFactory(workspace=office, created_at=berlin(2026, 12, 4, 17, 20), first_replied_at=berlin(2026, 12, 7, 9, 10))
    # Older than a week: not counted.
    TicketFactory(workspace=office, created_at=berlin(2026, 11, 20, 10), first_replied_at=berlin(2026, 11, 20, 17))
    assert config(widget, office)["text"] == "Our team typically replies in about 20 minutes"


def test_outside_hours_it_says_when_the_team_is_back(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    at(berlin(2026, 12, 4, 18, 0))  # Friday evening
    assert config(widget, office) == {
        "open_now": False,
        "text": "We're back Monday at 09:00",
        "next_open_at": "2026-12-07T08:00:00Z",
    }


def test_outside_hours_the_time_is_on_the_visitors_clock(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    at(berlin(2026, 12, 4, 18, 0))
    assert config(widget, office, "America/New_York")["text"] == "We're back Monday at 03:00"
    assert config(widget, office, "Asia/Tokyo")["text"] == "We're back Monday at 17:00"
    # A time zone the server does not know is ignored: the workspace's.
    assert config(widget, office, "Nowhere/Else")["text"] == "We're back Monday at 09:00"


@pytest.mark.parametrize(
    ("now", "next_open_at", "new_york"),
    [
        # Saturday before the clocks go forward in Berlin (29 March): Monday 09:00 is 07:00 UTC, not 08:00.
        (berlin(2026, 3, 28, 12, 0), "2026-03-30T07:00:00Z", "03:00"),
        # Saturday before they go back (25 October): Monday 09:00 is 08:00 UTC again; New York is still on
        # summer time until 1 November, so 09:00 Berlin is 04:00 there that week.
        (berlin(2026, 10, 24, 12, 0), "2026-10-26T08:00:00Z", "04:00"),
    ],
)
def test_across_a_clock_change_the_team_is_back_at_nine_local(
    widget: APIClient, office: Workspace, agent: Agent, at: Any, now: datetime, next_open_at: str, new_york: str
) -> None:
    at(now)
    body = config(widget, office)
    assert body["text"] == "We're back Monday at 09:00"
    assert body["next_open_at"] == next_open_at
    assert config(widget, office, "America/New_York")["text"] == f"We're back Monday at {new_york}"


def test_outside_hours_the_handoff_asks_for_an_email_first_and_says_when(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    at(berlin(2026, 12, 4, 18, 0))
    notice = handoff_notice(widget, office, "Europe/London")
    assert notice.startswith("Our team is away right now: we're back Monday at 08:00.")
    ask = notice.index("Please leave your email address here first")
    assert ask < notice.index("I've passed this conversation on")
    # The ticket's first reply is due two business hours after Monday's opening.
    ticket = Ticket.objects.get()
    assert ticket.first_reply_due_at == berlin(2026, 12, 7, 11, 0)


def test_inside_hours_the_handoff_says_the_measured_time(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    at(berlin(2026, 12, 7, 15, 0))
    for minutes in (5, 12, 14):
        opened = berlin(2026, 12, 7, 10, 0)
        TicketFactory(workspace=office, created_at=opened, first_replied_at=opened + timedelta(minutes=minutes))
    notice = handoff_notice(widget, office)
    assert "they typically reply in about 10 minutes." in notice
    assert "away" not in notice


def test_the_header_and_the_handoff_agree_across_the_october_change(
    widget: APIClient, office: Workspace, agent: Agent, at: Any
) -> None:
    at(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # Sunday, the hour the clocks go back in Berlin
    text = config(widget, office)["text"]
    assert text == "We're back tomorrow at 09:00"
    assert "we're back tomorrow at 09:00." in handoff_notice(widget, office)
    assert Ticket.objects.get().first_reply_due_at == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)  # 11:00 CET
