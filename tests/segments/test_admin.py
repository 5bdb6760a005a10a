"""Admin of segments: validation messages on the form, the matching-contact count, workspace scoping."""

import pytest
from django.test import Client

from halo.models import Workspace
from segments.models import Segment
from tests.halo.factories import CompanyFactory, ContactFactory, WorkspaceFactory
from tests.segments.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def test_adding_a_segment_with_a_bad_rule_shows_where_and_why(admin_client_of: Client, workspace: Workspace) -> None:
    response = admin_client_of.post(
        "/admin/segments/segment/add/",
        {"workspace": workspace.pk, "name": "Big", "description": "", "rule": "company.employee_count > many"},
    )
    assert response.status_code == 200
    assert "line 1, column 26: `company.employee_count` &gt; expects a number" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_change_page_shows_how_many_contacts_match(admin_client_of: Client, workspace: Workspace) -> None:
    enterprise = CompanyFactory(workspace=workspace, plan="enterprise")
    ContactFactory(workspace=workspace, company=enterprise, name="Ada")
    ContactFactory(workspace=workspace, company=enterprise, name="Grace")
    ContactFactory(workspace=workspace, name="Linus")
    ContactFactory(workspace=WorkspaceFactory(), plan="enterprise")
    segment = SegmentFactory(workspace=workspace, rule="company.plan = ENTERPRISE")

    page = admin_client_of.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert "2 now (e.g. Grace, Ada)" in page


def test_another_workspaces_segment_is_hidden(admin_client_of: Client) -> None:
    theirs = SegmentFactory(workspace=WorkspaceFactory(), name="Theirs")
    listing = admin_client_of.get("/admin/segments/segment/")
    assert "Theirs" not in listing.content.decode()
    assert admin_client_of.get(f"/admin/segments/segment/{theirs.pk}/change/").status_code in (302, 404)
