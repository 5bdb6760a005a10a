"""Server API of segments: preview (count and sample), saved-segment CRUD, rule errors, tenant isolation."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from halo.models import Workspace
from segments.models import Segment
from tests.halo.factories import CompanyFactory, ContactFactory, WorkspaceFactory
from tests.segments.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def test_preview_counts_matching_contacts_and_samples_the_most_recently_active(
    api: APIClient, workspace: Workspace
) -> None:
    enterprise = CompanyFactory(workspace=workspace, plan="Enterprise")
    now = timezone.now()
    older = ContactFactory(workspace=workspace, company=enterprise, last_active_at=now - dt.timedelta(days=3))
    newer = ContactFactory(workspace=workspace, company=enterprise, last_active_at=now - dt.timedelta(days=1))
    vip = ContactFactory(workspace=workspace, custom_fields={"is_vip": True}, last_active_at=None)
    ContactFactory(workspace=workspace, custom_fields={"is_vip": "yes"})
    ContactFactory(workspace=WorkspaceFactory(), plan="enterprise", custom_fields={"is_vip": True})

    response = api.post(
        "/api/v1/segments/preview",
        {"rule": "company.plan = enterprise OR user.custom_fields.is_vip = true"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [contact["id"] for contact in body["sample"]] == [newer.pk, older.pk, vip.pk]
    assert set(body["sample"][0]) == {"id", "user_id", "email", "name"}
    assert body["rule"] == 'company.plan = "enterprise" OR user.custom_fields.is_vip = true'


def test_preview_of_a_bad_rule_is_a_400_with_position_and_hint(api: APIClient) -> None:
    response = api.post("/api/v1/segments/preview", {"rule": "company.plan = x AND\n  compnay.plan = y"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_rule",
        "message": "line 2, column 3: unknown field `compnay.plan` (did you mean `company.plan`?)",
        "error": "unknown_field",
        "position": {"line": 2, "column": 3, "offset": 23},
        "hint": "did you mean `company.plan`?",
    }


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"rule": ""}, "invalid_rule"),
        ({"rule": "user.plan = (" * 20}, "invalid_rule"),
        ({"rule": "x" * 5000}, "invalid_rule"),
        ({"rule": 42}, "invalid_rule"),
        ({}, "invalid"),
        ({"rule": None}, "invalid"),
    ],
)
def test_preview_never_fails_with_a_500_on_bad_input(api: APIClient, payload: dict[str, object], code: str) -> None:
    response = api.post("/api/v1/segments/preview", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_preview_needs_an_api_key() -> None:
    response = APIClient().post("/api/v1/segments/preview", {"rule": "user.plan = pro"}, format="json")
    assert response.status_code == 401


def test_segments_can_be_created_listed_read_changed_and_deleted(api: APIClient, workspace: Workspace) -> None:
    created = api.post("/api/v1/segments", {"name": "VIPs", "rule": "user.custom_fields.is_vip = true"}, format="json")
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert Segment.objects.get(pk=segment_id).workspace == workspace

    assert [s["name"] for s in api.get("/api/v1/segments").json()] == ["VIPs"]
    assert api.get(f"/api/v1/segments/{segment_id}").json()["rule"] == "user.custom_fields.is_vip = true"

    changed = api.patch(f"/api/v1/segments/{segment_id}", {"rule": "user.plan in (pro, team)"}, format="json")
    assert (changed.status_code, changed.json()["rule"], changed.json()["name"]) == (
        200,
        "user.plan in (pro, team)",
        "VIPs",
    )

    assert api.delete(f"/api/v1/segments/{segment_id}").status_code == 204
    assert api.get(f"/api/v1/segments/{segment_id}").status_code == 404


def test_saving_a_segment_with_a_bad_rule_is_refused_with_its_position(api: APIClient) -> None:
    response = api.post("/api/v1/segments", {"name": "Broken", "rule": "company.plan > 5"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_rule"
    assert response.json()["error"] == "operator_not_allowed"
    assert response.json()["position"] == {"line": 1, "column": 14, "offset": 13}
    assert not Segment.objects.exists()


def test_changing_a_segment_to_a_bad_rule_keeps_the_old_one(api: APIClient, workspace: Workspace) -> None:
    segment = SegmentFactory(workspace=workspace, rule="user.plan = pro")
    response = api.patch(f"/api/v1/segments/{segment.pk}", {"rule": "user.plan = "}, format="json")
    assert response.status_code == 400
    segment.refresh_from_db()
    assert segment.rule == "user.plan = pro"


def test_segment_names_are_unique_per_workspace(api: APIClient, workspace: Workspace) -> None:
    SegmentFactory(workspace=workspace, name="VIPs")
    SegmentFactory(workspace=WorkspaceFactory(), name="Trial")

    taken = api.post("/api/v1/segments", {"name": "VIPs", "rule": "user.plan = pro"}, format="json")
    free = api.post("/api/v1/segments", {"name": "Trial", "rule": "user.plan = pro"}, format="json")

    assert (taken.status_code, taken.json()["code"], list(taken.json()["fields"])) == (400, "invalid", ["name"])
    assert free.status_code == 201


def test_another_workspaces_segment_is_not_found(api: APIClient) -> None:
    theirs = SegmentFactory(workspace=WorkspaceFactory(), rule="user.plan = pro")

    assert api.get("/api/v1/segments").json() == []
    assert api.get(f"/api/v1/segments/{theirs.pk}").status_code == 404
    assert api.patch(f"/api/v1/segments/{theirs.pk}", {"name": "Mine"}, format="json").status_code == 404
    assert api.delete(f"/api/v1/segments/{theirs.pk}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name != "Mine"


def test_listing_segments_takes_a_fixed_number_of_queries(
    api: APIClient, workspace: Workspace, django_assert_max_num_queries: object
) -> None:
    for _ in range(10):
        SegmentFactory(workspace=workspace)
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        assert len(api.get("/api/v1/segments").json()) == 10
