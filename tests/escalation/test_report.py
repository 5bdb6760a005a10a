"""The escalation report: every field on a hand-built history whose answers are known, the rollups against a
recount from the rows (for any history: hypothesis), tenant walls, bad input, CSV, query counts."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from agents.models import Agent, AgentTurn, Conversation
from escalation.models import EscalationSettingsVersion, ReportDay
from escalation.reports import ReportQuery, escalation_report, escalation_report_from_rows, report_public
from escalation.services import report_rollups_update
from halo.models import Contact, Workspace
from inbox.models import EscalationEvent, Ticket
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory
from tests.inbox.factories import TicketFactory

# Paris is UTC+1 in March before the 30th: 23:30 UTC on the 9th is the 10th there.
DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
URL = "/api/v1/reports/escalation"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class History:
    """Rows written straight to the tables, the way the flow would have left them."""

    def __init__(self, workspace: Workspace, agent: Agent) -> None:
        self.workspace, self.agent = workspace, agent

    def conversation(self, started: datetime, *, contact: Contact | None = None) -> Conversation:
        contact = contact or ContactFactory(workspace=self.workspace)
        conversation = ConversationFactory(workspace=self.workspace, agent=self.agent, contact=contact)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=started, updated_at=started)
        conversation.created_at = started
        return conversation

    def turn(
        self, conversation: Conversation, when: datetime, *, held: str | None = None, escalated: str | None = None
    ) -> AgentTurn:
        return AgentTurn.objects.create(
            conversation=conversation,
            confidence=30 if held or escalated else 90,
            signals=["low_confidence"] if held or escalated else [],
            escalated=escalated is not None,
            reason=escalated,
            suppressed_by=held,
            created_at=when,
            decided_at=when,
        )

    def escalate(
        self, conversation: Conversation, when: datetime, reason: str, *, version: int = 1, **ticket: Any
    ) -> Ticket:
        created = Ticket.objects.create(
            workspace=self.workspace,
            contact=conversation.contact,
            agent=self.agent,
            reason=reason,
            settings_version=version,
            created_at=when,
            updated_at=when,
            **ticket,
        )
        created.conversations.add(conversation)
        EscalationEvent.objects.create(
            workspace=self.workspace,
            ticket=created,
            conversation=conversation,
            reason=reason,
            mode="conditional",
            outcome="created",
            settings_version=version,
            created_at=when,
        )
        return created


@pytest.fixture
def paris(workspace: Workspace) -> Workspace:
    workspace.timezone = "Europe/Paris"
    workspace.save(update_fields=["timezone"])
    return workspace


@pytest.fixture
def history(paris: Workspace, agent: Agent) -> History:
    """Day 10 (Paris): five conversations, one started at 23:30 UTC on the 9th.

    1. answered (AI resolved);
    2. held back by the knowledge gate, then escalated for low confidence (delayed), ticket replied in 60 s
       within its due time, verdict "AI could have answered", rated 2, re-opened once;
    3. escalated by the escalate tool at once, replied in 180 s after its due time, rated 5, right to escalate;
    4. the customer asked for a human before the AI said anything (manual; not involved), never replied, rated 4;
    5. held back by max attempts, never escalated (AI resolved).
    Day 11: one conversation, answered. Another agent's conversation on day 10 does not count for ``agent``.
    """
    EscalationSettingsVersion.objects.filter(escalation_settings__agent=agent).update(changed_at=at(1, 0))
    h = History(paris, agent)
    one = h.conversation(at(9, 23, 30))
    h.turn(one, at(9, 23, 31))
    two = h.conversation(at(10, 9))
    h.turn(two, at(10, 9, 1), held="gate_knowledge")
    h.turn(two, at(10, 9, 2), escalated="low_confidence")
    h.escalate(
        two,
        at(10, 9, 2),
        "low_confidence",
        status="closed",
        first_replied_at=at(10, 9, 3),
        first_reply_due_at=at(10, 10),
        rating_score=2,
        verdict="ai_could_have_answered",
        reopened_count=1,
        held_back_turns=1,
    )
    three = h.conversation(at(10, 10))
    h.turn(three, at(10, 10, 1), escalated="escalate_tool")
    h.escalate(
        three,
        at(10, 10, 1),
        "escalate_tool",
        status="closed",
        first_replied_at=at(10, 10, 4),
        first_reply_due_at=at(10, 10, 2),
        rating_score=5,
        verdict="right_to_escalate",
    )
    four = h.conversation(at(10, 11))
    h.escalate(four, at(10, 11), "manual", status="closed", rating_score=4, first_reply_due_at=at(10, 12))
    five = h.conversation(at(10, 12))
    h.turn(five, at(10, 12, 1), held="gate_attempts")
    six = h.conversation(at(11, 8))
    h.turn(six, at(11, 8, 1))
    other = AgentFactory(workspace=paris, name="Other")
    h_other = History(paris, other)
    h_other.turn(h_other.conversation(at(10, 9)), at(10, 9, 1))
    report_rollups_update(now=NOW)
    return h


def day_report(report: dict[str, Any], day: str) -> dict[str, Any]:
    return next(entry for entry in report["daily"] if entry["date"] == day)


def test_report_fields_on_a_known_history(api: APIClient, history: History) -> None:
    response = api.get(URL, {"agent": history.agent.pk, "from": "2026-03-10", "to": "2026-03-11"})
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["conversations"] == 6
    assert report["involvement_rate"] == round(5 / 6, 4)  # all but the manual one
    assert report["ai_resolution_rate"] == round(3 / 5, 4)  # 1, 5, 6 of the five involved
    assert report["escalation_rate"] == 0.5
    assert report["escalations_by_reason"] == {"escalate_tool": 1, "phrase": 0, "low_confidence": 1, "manual": 1}
    assert report["held_back_by"] == {
        "mode_off": 0,
        "filter": 0,
        "gate_knowledge": 1,
        "gate_web": 0,
        "gate_attempts": 1,
    }
    assert report["delayed_escalations"] == 1
    assert report["verdicts"] == {"ai_could_have_answered": 1, "right_to_escalate": 1}
    assert report["reopen_rate"] == round(1 / 3, 4)
    assert report["median_first_reply_seconds"] == 120.0  # 60 and 180
    assert report["sla_met_rate"] == round(1 / 3, 4)  # 2 met; 3 late; 4 unanswered, due passed
    assert report["csat"] == {"ai": {"average": 4.0, "count": 1}, "human": {"average": 3.5, "count": 2}}
    assert [entry["date"] for entry in report["daily"]] == ["2026-03-10", "2026-03-11"]
    assert day_report(report, "2026-03-10")["conversations"] == 5  # 23:30 UTC on the 9th is the 10th in Paris
    assert day_report(report, "2026-03-11")["conversations"] == 1
    assert report == report_public(
        escalation_report_from_rows(
            ReportQuery(
                workspace=history.workspace,
                day_from=date(2026, 3, 10),
                day_to=date(2026, 3, 11),
                agent_id=history.agent.pk,
            ),
            now=NOW,
        )
    )


def test_every_agent_and_version_filters(api: APIClient, history: History) -> None:
    everyone = api.get(URL, {"from": "2026-03-10", "to": "2026-03-10"}).json()
    assert everyone["conversations"] == 6  # the other agent's too
    v1 = api.get(URL, {"agent": history.agent.pk, "from": "2026-03-10", "to": "2026-03-10", "version": 1}).json()
    assert v1["conversations"] == 5
    v9 = api.get(URL, {"agent": history.agent.pk, "from": "2026-03-10", "to": "2026-03-10", "version": 9}).json()
    assert (v9["conversations"], v9["escalations_by_reason"]["manual"], v9["median_first_reply_seconds"]) == (
        0,
        0,
        None,
    )
    assert v9["involvement_rate"] is None


def test_a_verdict_set_later_reaches_the_report_after_the_next_rollup(api: APIClient, history: History) -> None:
    ticket = Ticket.objects.get(reason="manual")
    ticket.verdict, ticket.updated_at = "right_to_escalate", NOW + timedelta(minutes=1)
    ticket.save()
    report_rollups_update(now=NOW + timedelta(minutes=2))
    report = api.get(URL, {"agent": history.agent.pk, "from": "2026-03-10", "to": "2026-03-10"}).json()
    assert report["verdicts"]["right_to_escalate"] == 2


def test_csv_export(api: APIClient, history: History) -> None:
    response = api.get(f"{URL}.csv", {"agent": history.agent.pk, "from": "2026-03-10", "to": "2026-03-11"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["date"] for row in rows] == ["2026-03-10", "2026-03-11", "total"]
    assert rows[0]["conversations"] == "5"
    assert rows[2]["escalations_manual"] == "1"
    assert rows[2]["median_first_reply_seconds"] == "120.0"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-11", "to": "2026-03-10"}, "from"),
        ({"from": "2020-01-01", "to": "2026-03-10"}, "from"),
        ({"agent": "abc"}, "agent"),
        ({"agent": "999999"}, "agent"),
        ({"version": "2"}, "version"),
    ],
)
def test_bad_input_is_a_400_with_the_field(api: APIClient, agent: Agent, params: dict[str, str], field: str) -> None:
    response = api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_another_workspaces_agent_is_unknown_and_its_rows_are_not_counted(api: APIClient, history: History) -> None:
    elsewhere = WorkspaceFactory(name="Elsewhere", slug="elsewhere")
    foreign = AgentFactory(workspace=elsewhere)
    History(elsewhere, foreign).conversation(at(10, 9))
    report_rollups_update(now=NOW)
    assert api.get(URL, {"agent": foreign.pk}).status_code == 400
    assert api.get(URL, {"from": "2026-03-10", "to": "2026-03-10"}).json()["conversations"] == 6


def test_api_query_count_does_not_grow_with_history(
    api: APIClient, history: History, django_assert_max_num_queries: Any
) -> None:
    params = {"agent": history.agent.pk, "from": "2026-01-01", "to": "2026-03-31"}
    with django_assert_max_num_queries(6):  # key, agent check, rollups, median (+ throttle bookkeeping)
        assert api.get(URL, params).status_code == 200


# --- The rollups agree with a recount from the rows, for any history -----------------------------------

EVENTS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4 * 24 * 60 - 1),  # start, minutes into the four days
        st.lists(st.sampled_from([None, "gate_knowledge", "mode_off", "filter", "gate_attempts"]), max_size=3),
        st.sampled_from([None, "low_confidence", "manual", "phrase"]),
        st.sampled_from(["", "ai_could_have_answered", "right_to_escalate"]),
        st.one_of(st.none(), st.integers(min_value=1, max_value=5)),
        st.booleans(),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS, zone=st.sampled_from(["UTC", "Europe/Paris", "Pacific/Auckland", "America/Los_Angeles"]))
@pytest.mark.django_db(transaction=False)
def test_rollups_agree_with_a_recount_from_the_rows(events: list[Any], zone: str) -> None:
    workspace = WorkspaceFactory(timezone=zone)
    agent = AgentFactory(workspace=workspace)
    h = History(workspace, agent)
    start = datetime(2026, 3, 8, tzinfo=UTC)
    for minutes, held, escalated, verdict, rating, replied in events:
        began = start + timedelta(minutes=minutes)
        conversation = h.conversation(began)
        for index, rule in enumerate(held):
            h.turn(conversation, began + timedelta(minutes=index), held=rule)
        if escalated:
            when = began + timedelta(minutes=5)
            h.escalate(
                conversation,
                when,
                escalated,
                status="closed",
                verdict=verdict,
                rating_score=rating,
                first_replied_at=when + timedelta(minutes=minutes % 90) if replied else None,
                first_reply_due_at=when + timedelta(minutes=30),
                reopened_count=minutes % 2,
            )
    report_rollups_update(now=NOW, full=True)
    query = ReportQuery(workspace=workspace, day_from=date(2026, 3, 7), day_to=date(2026, 3, 13))
    assert escalation_report(query) == escalation_report_from_rows(query, now=NOW)
    # Counted again from scratch, the same rows.
    ReportDay.objects.filter(workspace=workspace).delete()
    report_rollups_update(now=NOW, full=True)
    assert escalation_report(query) == escalation_report_from_rows(query, now=NOW)


# --- The staff page ------------------------------------------------------------------------------------

PAGE = "/inbox/reports/escalation"


def test_report_page_shows_figures_definition_and_charts(
    admin_client_of: Client, history: History, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(16):  # 14, + the chosen agent's settings and its shadow settings
        response = admin_client_of.get(PAGE, {"agent": history.agent.pk, "from": "2026-03-10", "to": "2026-03-11"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Escalation report" in html
    assert "Of the conversations the AI took part in" in html  # the AI resolution rate's definition
    assert html.count("<svg") == 3
    assert "<rect" in html
    assert "<polyline" in html
    assert ">60%<" in html  # AI resolution: 3 of 5
    assert 'href="/inbox/reports/escalation"' in html  # linked from the nav
    assert "Version 1" in html  # the version picker of the chosen agent
    csv_response = admin_client_of.get(f"{PAGE}.csv", {"agent": history.agent.pk, "from": "2026-03-10"})
    assert csv_response.status_code == 200
    assert csv_response.content.startswith(b"date,conversations,")


def test_report_page_queries_do_not_grow_with_days(
    admin_client_of: Client, history: History, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(14):
        assert admin_client_of.get(PAGE, {"from": "2025-04-01", "to": "2026-03-31"}).status_code == 200


def test_report_page_bad_input_shows_the_error_and_the_default_range(admin_client_of: Client, history: History) -> None:
    response = admin_client_of.get(PAGE, {"from": "not-a-date", "agent": "123456789"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "A date as YYYY-MM-DD." in html
    assert "No such agent in this workspace." in html
    assert admin_client_of.get(f"{PAGE}.csv", {"from": "nope"}).status_code == 400


def test_report_page_is_for_admins(client: Client, teammate: Any, history: History) -> None:
    client.force_login(teammate.user)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}.csv").status_code == 403
    assert 'href="/inbox/reports/escalation"' not in client.get("/inbox/open/").content.decode()


def test_ticket_transcript_shows_each_ai_turns_decision(admin_client_of: Client, history: History) -> None:
    from agents.models import Message

    ticket = Ticket.objects.get(reason="low_confidence")
    conversation = ticket.conversations.get()
    for turn in conversation.turns.order_by("id"):
        turn.message = Message.objects.create(
            conversation=conversation, author="ai", body="Reply", created_at=turn.created_at
        )
        turn.save(update_fields=["message"])
    html = admin_client_of.get(f"/inbox/tickets/{ticket.pk}/").content.decode()
    assert "Held back" in html
    assert "Why not: a knowledge search is required first" in html
    assert "Escalated" in html
    assert "Why: confidence below the threshold" in html
    assert "Confidence 30%" in html


def test_patch_verdict_and_reopen_count_in_the_api(api: APIClient, history: History) -> None:
    ticket = Ticket.objects.get(reason="manual")
    url = f"/api/v1/tickets/{ticket.pk}"
    body = api.patch(url, {"verdict": "ai_could_have_answered"}, format="json").json()
    assert (body["verdict"], body["reopened_count"], body["held_back_turns"]) == ("ai_could_have_answered", 0, 0)
    assert api.patch(url, {"verdict": "ai_could_answer"}, format="json").status_code == 400
    assert api.patch(url, {"verdict": None}, format="json").json()["verdict"] is None
    assert api.patch(url, {"status": "open"}, format="json").json()["reopened_count"] == 1
    assert api.patch(url, {"status": "closed"}, format="json").status_code == 200
    assert api.patch(url, {"status": "open"}, format="json").json()["reopened_count"] == 2
    other = TicketFactory(workspace=WorkspaceFactory(name="Other", slug="other"))
    assert api.patch(f"/api/v1/tickets/{other.pk}", {"verdict": "right_to_escalate"}, format="json").status_code == 404


def test_a_ticket_records_the_turns_held_back_before_it_opened(conversation: Conversation, agent: Agent) -> None:
    from escalation.flow import message_receive
    from escalation.services import escalation_settings_update

    escalation_settings_update(
        escalation_settings=agent.escalation_settings,
        data={"max_attempts": 3, "confidence_threshold": 99},
        via="system",
    )
    conversation.refresh_from_db()
    for _ in range(3):
        result = message_receive(conversation=conversation, body="Do you integrate with SAP Concur for expenses?")
    assert result.ticket is not None
    assert result.ticket.held_back_turns == 2


def test_lists_filter_tickets_by_the_ais_outcome(admin_client_of: Client, api: APIClient, history: History) -> None:
    delayed = Ticket.objects.get(held_back_turns=1)
    page = admin_client_of.get("/inbox/all/", {"outcome": "delayed"}).content.decode()
    assert f"/inbox/tickets/{delayed.pk}/" in page
    assert page.count('class="ticket-item') == 1
    assert 'value="delayed" selected' in page
    manual = admin_client_of.get("/inbox/all/", {"outcome": "reason-manual"}).content.decode()
    assert manual.count('class="ticket-item') == 1
    assert f"/inbox/tickets/{delayed.pk}/" not in manual
    listed = api.get("/api/v1/tickets", {"outcome": "ai_could_have_answered", "status": "closed"}).json()["results"]
    assert [ticket["id"] for ticket in listed] == [delayed.pk]
    assert len(api.get("/api/v1/tickets", {"outcome": "immediate", "status": "closed"}).json()["results"]) == 2
    bad = api.get("/api/v1/tickets", {"outcome": "sideways"})
    assert bad.status_code == 400
    assert "outcome" in bad.json()["fields"]


def test_a_manual_handoff_counts_the_turns_held_back_before_it(conversation: Conversation, agent: Agent) -> None:
    from escalation.flow import handoff_request, message_receive
    from escalation.services import escalation_settings_update

    escalation_settings_update(
        escalation_settings=agent.escalation_settings,
        data={"max_attempts": 5, "confidence_threshold": 99},
        via="system",
    )
    conversation.refresh_from_db()
    for _ in range(2):
        message_receive(conversation=conversation, body="Do you integrate with SAP Concur for expenses?")
    assert handoff_request(conversation=conversation).ticket.held_back_turns == 2
