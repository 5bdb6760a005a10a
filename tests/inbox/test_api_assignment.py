"""The team assignment API: ``GET/PATCH /api/v1/inboxes/{id}`` (members, assignment policy) and
``PATCH /api/v1/members/{user_id}`` (availability, capacity), scoped to the API key's workspace."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from halo.models import Membership, OutboxMessage, Workspace
from inbox.models import CustomInbox, InboxMember
from inbox.services import ASSIGN_TASK
from tests.halo.factories import MembershipFactory


@pytest.fixture
def inbox(workspace: Workspace) -> CustomInbox:
    return CustomInbox.objects.create(workspace=workspace, name="Billing")


def test_reads_an_inbox_with_its_members_and_policy(api: APIClient, inbox: CustomInbox, teammate: Membership) -> None:
    InboxMember.objects.create(inbox=inbox, user=teammate.user)

    response = api.get(f"/api/v1/inboxes/{inbox.pk}")

    assert response.status_code == 200
    assert response.json() == {"id": inbox.pk, "name": "Billing", "assignment": "manual", "members": [teammate.user_id]}


def test_sets_members_and_policy(api: APIClient, inbox: CustomInbox, workspace: Workspace) -> None:
    members = [MembershipFactory(workspace=workspace).user_id for _ in range(3)]

    response = api.patch(
        f"/api/v1/inboxes/{inbox.pk}", {"members": members, "assignment": "round_robin"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["members"] == sorted(members)
    assert response.json()["assignment"] == "round_robin"
    assert sorted(InboxMember.objects.filter(inbox=inbox).values_list("user_id", flat=True)) == sorted(members)
    assert OutboxMessage.objects.filter(task=ASSIGN_TASK).count() == 1  # waiting tickets are given out


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"members": [999_999]}, "members"),
        ({"assignment": "random"}, "assignment"),
        ({"members": "1,2"}, "members"),
        ({"members": [True]}, "members"),
        ({"members": ["1"]}, "members"),
        ({"name": "Sales"}, "name"),
    ],
)
def test_refuses_bad_input_with_field_errors(
    api: APIClient, inbox: CustomInbox, body: dict[str, Any], field: str
) -> None:
    response = api.patch(f"/api/v1/inboxes/{inbox.pk}", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not InboxMember.objects.exists()


def test_refuses_a_member_of_another_workspace(api: APIClient, inbox: CustomInbox, outsider: Membership) -> None:
    response = api.patch(f"/api/v1/inboxes/{inbox.pk}", {"members": [outsider.user_id]}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"members": [f"Not a member of this workspace: {outsider.user_id}."]}
    assert not InboxMember.objects.exists()


def test_another_workspaces_inbox_is_not_found(api: APIClient, other_workspace: Workspace) -> None:
    theirs = CustomInbox.objects.create(workspace=other_workspace, name="Billing")

    assert api.get(f"/api/v1/inboxes/{theirs.pk}").status_code == 404
    response = api.patch(f"/api/v1/inboxes/{theirs.pk}", {"assignment": "round_robin"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    theirs.refresh_from_db()
    assert theirs.assignment == "manual"


def test_sets_a_teammates_availability_and_capacity(api: APIClient, teammate: Membership) -> None:
    response = api.patch(f"/api/v1/members/{teammate.user_id}", {"available": False, "capacity": 4}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "user": teammate.user_id,
        "email": teammate.user.email,
        "role": "teammate",
        "available": False,
        "capacity": 4,
    }
    teammate.refresh_from_db()
    assert (teammate.available, teammate.capacity) == (False, 4)

    response = api.patch(f"/api/v1/members/{teammate.user_id}", {"available": True, "capacity": None}, format="json")
    assert (response.json()["available"], response.json()["capacity"]) == (True, None)
    assert OutboxMessage.objects.filter(task=ASSIGN_TASK).count() == 1  # back: waiting tickets are given out


@pytest.mark.parametrize(
    "body",
    [
        {"capacity": -1},
        {"capacity": 1001},
        {"capacity": "3"},
        {"capacity": 2.5},
        {"available": "no"},
        {"role": "admin"},
    ],
)
def test_refuses_a_bad_availability_or_capacity(api: APIClient, teammate: Membership, body: dict[str, Any]) -> None:
    response = api.patch(f"/api/v1/members/{teammate.user_id}", body, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == set(body)
    teammate.refresh_from_db()
    assert (teammate.available, teammate.capacity, teammate.role) == (True, None, "teammate")


def test_a_member_of_another_workspace_is_not_found(api: APIClient, outsider: Membership) -> None:
    for user_id in (outsider.user_id, 999_999, 99999999999999999999999):
        response = api.patch(f"/api/v1/members/{user_id}", {"available": False}, format="json")
        assert response.status_code == 404
    outsider.refresh_from_db()
    assert outsider.available


def test_inbox_read_and_write_use_a_fixed_number_of_queries(
    api: APIClient, inbox: CustomInbox, workspace: Workspace, django_assert_max_num_queries: Any
) -> None:
    members = [MembershipFactory(workspace=workspace).user_id for _ in range(20)]
    # Authentication (key lookup and its last-used stamp), the inbox, its members.
    with django_assert_max_num_queries(4):
        assert api.get(f"/api/v1/inboxes/{inbox.pk}").status_code == 200
    # Authentication, the inbox and its members, the members checked, a savepoint pair, the lock, the policy,
    # the members replaced (delete, read, insert: one each however many), the outbox row, the inbox and its
    # members read back.
    with django_assert_max_num_queries(14):
        response = api.patch(
            f"/api/v1/inboxes/{inbox.pk}", {"members": members, "assignment": "balanced"}, format="json"
        )
    assert response.status_code == 200


def test_member_write_uses_a_fixed_number_of_queries(
    api: APIClient, teammate: Membership, django_assert_max_num_queries: Any
) -> None:
    teammate.available = False
    teammate.save()
    # Authentication (2), the membership, two savepoint pairs, its lock and update, the outbox row.
    with django_assert_max_num_queries(10):
        response = api.patch(f"/api/v1/members/{teammate.user_id}", {"available": True}, format="json")
    assert response.status_code == 200
