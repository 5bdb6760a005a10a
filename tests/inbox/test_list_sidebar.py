"""The inbox sidebar: its three sections and the counts beside each list, saved views with a segment
rule included (counted ticket by ticket, up to the cap: B5)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from inbox.models import SavedView, Ticket
from tests.halo.factories import CompanyFactory, ContactFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory

pytestmark = pytest.mark.django_db


def sidebar(staff: Client) -> str:
    html = staff.get(reverse("inbox:list", args=["open"])).content.decode()
    match = re.search(r'<nav class="inbox-lists">.*?</nav>', html, re.S)
    assert match is not None
    return match.group(0)


def section(nav: str, title: str) -> list[str]:
    """The list keys under the sidebar heading that starts with ``title``, in order."""
    sections = re.split(r'<h2 class="inbox-nav-title">', nav)[1:]
    body = next(part for part in sections if part.startswith(title))
    return re.findall(r'data-list="([^"]+)"', body)


def test_sidebar_shows_built_in_lists_team_inboxes_and_views_in_their_sections(staff: Client, workspace) -> None:
    billing = CustomInboxFactory(workspace=workspace, name="Billing")
    vip = SavedView.objects.create(workspace=workspace, name="VIP", rule="")

    nav = sidebar(staff)

    assert section(nav, "Inbox") == ["open", "priority", "unassigned", "mine", "snoozed", "closed", "all"]
    assert section(nav, "Team inboxes") == [f"inbox-{billing.pk}"]
    assert section(nav, "Views") == [f"view-{vip.pk}"]
    assert re.search(r'href="/inbox/open/" class="inbox-list-link active" data-list="open" aria-current="page"', nav)


def test_saved_view_count_is_its_waiting_tickets_of_matching_contacts(staff: Client, workspace) -> None:
    enterprise = CompanyFactory(workspace=workspace, plan="enterprise")
    view = SavedView.objects.create(workspace=workspace, name="Enterprise", rule="company.plan = enterprise")
    for _ in range(3):
        TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, company=enterprise))
    closed_contact = ContactFactory(workspace=workspace, company=enterprise)
    TicketFactory(workspace=workspace, contact=closed_contact, status=Ticket.Status.CLOSED)
    small = CompanyFactory(workspace=workspace, plan="pro")
    TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, company=small))

    assert re.search(rf'data-count="view-{view.pk}">3<', sidebar(staff))


def test_saved_view_count_stops_at_the_cap(staff: Client, workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inbox.selectors.COUNT_CAP", 2)
    enterprise = CompanyFactory(workspace=workspace, plan="enterprise")
    view = SavedView.objects.create(workspace=workspace, name="Enterprise", rule="company.plan = enterprise")
    for _ in range(3):
        TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, company=enterprise))

    assert re.search(rf'data-count="view-{view.pk}">2\+<', sidebar(staff))
