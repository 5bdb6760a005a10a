"""Slack layout spoofing (S5): customer text cannot forge a line of a Slack message.

A contact or company name holding a newline (``"Eve\\n*Priority:* yes"``) would otherwise start a line of its
own that reads like one of Halo's fields. Every interpolated field is collapsed to one line before it is
escaped, as the quoted message already was; the property test throws every kind of whitespace at it.
"""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation.flow import handoff_request
from escalation.services import escalation_settings_ensure
from halo.models import Workspace
from inbox.models import Ticket
from inbox.notifications.slack import digest_message, ticket_message
from tests.agents.factories import AgentFactory, ConversationFactory, MessageFactory
from tests.halo.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

FORGED = "Eve\n*Priority:* yes"
LABELS = ["*Contact:*", "*Company:*", "*Reason:*", "*AI confidence:*", "*Priority:*"]


@pytest.fixture
def ticket_of(workspace: Workspace) -> Any:
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)

    def make(*, name: str, email: str, company: str, reason: str | None = None) -> Ticket:
        contact = ContactFactory(
            workspace=workspace,
            name=name,
            email=email or None,
            company=CompanyFactory(workspace=workspace, name=company),
        )
        conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
        MessageFactory(conversation=conversation, author="user", body="hello\n*Priority:* yes")
        ticket = handoff_request(conversation=conversation).ticket
        if reason is not None:
            Ticket.objects.filter(pk=ticket.pk).update(reason=reason)
        return Ticket.objects.select_related("contact__company").get(pk=ticket.pk)

    return make


def lines_of(payload: dict[str, Any]) -> list[str]:
    [block] = payload["blocks"]
    return str(block["text"]["text"]).split("\n")


def test_a_name_with_a_newline_cannot_forge_a_line(ticket_of: Any) -> None:
    ticket = ticket_of(name=FORGED, email="eve@example.com\n*Priority:* yes", company=FORGED, reason=FORGED)

    lines = lines_of(ticket_message(ticket, last_user_message="hello\n*Priority:* yes"))

    assert [line.split(" ", 1)[0] for line in lines[1:6]] == [
        "*Contact:*",
        "*Company:*",
        "*Reason:*",
        "*AI",
        "*Priority:*",
    ]
    assert lines[1] == "*Contact:* Eve *Priority:* yes (eve@example.com *Priority:* yes)"
    assert lines[2] == "*Company:* Eve *Priority:* yes"
    assert lines[3] == "*Reason:* Eve *Priority:* yes"
    assert lines[5] == "*Priority:* no"
    assert lines[6] == "> hello *Priority:* yes"
    assert len(lines) == 7
    assert "\n" not in ticket_message(ticket)["text"]  # the notification's plain-text fallback too

    digest = lines_of(digest_message([ticket, ticket_of(name=FORGED, email="", company="x")]))
    assert len(digest) == 3
    assert all(line.startswith("• <") for line in digest[1:])


@pytest.fixture
def one_ticket(ticket_of: Any) -> Ticket:
    """Made once for the whole property test (hypothesis' examples share it and change it in memory only)."""
    ticket: Ticket = ticket_of(name="x", email="", company="x")
    return ticket


WHITESPACE = st.sampled_from(["\n", "\r", "\r\n", "\t", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.one_of(WHITESPACE, st.text(max_size=12)), min_size=1, max_size=8),
    forged_label=st.sampled_from(LABELS),
)
def test_no_customer_text_adds_or_moves_a_line(one_ticket: Ticket, parts: list[str], forged_label: str) -> None:
    text = "".join(parts) + "\n" + forged_label + " yes"
    ticket = one_ticket
    ticket.contact.name, ticket.contact.email, ticket.contact.company.name = text, text, text  # in memory only
    ticket.reason = text

    lines = lines_of(ticket_message(ticket, last_user_message=text))

    assert len(lines) == 7
    for line, label in zip(lines[1:6], LABELS, strict=True):
        assert line.startswith(label + " ")
