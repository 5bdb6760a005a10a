"""The widget records the host page as a page view (``POST /api/widget/v1/page-views``), so segment rules on
``activity.pages_visited`` and ``activity.last_active`` work without the server API; chatting moves
``last_active`` too. Teammates' messages carry their first name, never their email."""

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Agent
from agents.services import message_post
from escalation.services import escalation_settings_ensure
from halo.models import Contact, PageView, Workspace
from segments.selectors import contact_count_matching
from tests.agents.factories import AgentFactory
from tests.halo.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(workspace: Workspace) -> Agent:
    agent = AgentFactory(workspace=workspace, name="Ada")
    escalation_settings_ensure(agent=agent)
    return agent


def signed(workspace: Workspace, user_id: str) -> dict[str, str]:
    digest = hmac.new(workspace.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return {"user_id": user_id, "user_hash": digest}


def page_view(widget: APIClient, workspace: Workspace, user: dict[str, str], url: str = "/pricing?plan=pro"):
    return widget.post(
        "/api/widget/v1/page-views", {"app_id": workspace.app_id, "user": user, "url": url}, format="json"
    )


def test_identified_users_page_is_recorded_and_segments_see_it(widget: APIClient, workspace: Workspace) -> None:
    response = page_view(widget, workspace, signed(workspace, "u-1"))

    assert (response.status_code, response.json()) == (201, {"recorded": True})
    contact = Contact.objects.get(workspace=workspace, user_id="u-1")
    assert list(PageView.objects.filter(contact=contact).values_list("url", flat=True)) == ["/pricing?plan=pro"]
    assert contact.last_active_at is not None
    now = timezone.now()
    assert contact_count_matching(workspace=workspace, rule='activity.pages_visited contains "/pricing"', now=now) == 1
    assert contact_count_matching(workspace=workspace, rule="activity.last_active less than 1 days ago", now=now) == 1


def test_unknown_anonymous_visitor_is_not_stored(widget: APIClient, workspace: Workspace) -> None:
    response = page_view(widget, workspace, {"visitor_id": "never-seen-visitor"})
    assert (response.status_code, response.json()) == (201, {"recorded": False})
    assert not Contact.objects.exists()


def test_a_visitor_who_chatted_gets_their_pages_recorded(widget: APIClient, workspace: Workspace, agent) -> None:
    started = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "body": "hello", "user": {"visitor_id": "visitor-12345"}},
        format="json",
    )
    assert started.status_code == 201
    assert page_view(widget, workspace, {"visitor_id": "visitor-12345"}).json() == {"recorded": True}


@pytest.mark.parametrize(
    ("user", "url", "status"),
    [
        ({"user_id": "u-1", "user_hash": "00"}, "/x", 401),
        ({"visitor_id": "visitor-12345"}, "", 400),
        ({"visitor_id": "visitor-12345"}, "/" + "x" * 2048, 400),
    ],
)
def test_bad_page_view_is_a_clear_4xx(widget: APIClient, workspace: Workspace, user, url, status) -> None:
    response = page_view(widget, workspace, user, url)
    assert response.status_code == status
    assert "code" in response.json()


def test_chatting_moves_last_active_forward(widget: APIClient, workspace: Workspace, agent) -> None:
    started = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "body": "hello", "user": signed(workspace, "u-2")},
        format="json",
    )
    contact = Contact.objects.get(user_id="u-2")
    first = contact.last_active_at
    assert first is not None
    assert timezone.now() - first < timedelta(seconds=30)
    Contact.objects.filter(pk=contact.pk).update(last_active_at=first - timedelta(hours=2))
    token = started.json()["token"]
    widget.post(
        f"/api/widget/v1/conversations/{started.json()['id']}/messages",
        {"body": "still there?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    contact.refresh_from_db()
    assert contact.last_active_at > first - timedelta(minutes=1)


def test_teammate_messages_carry_their_first_name_not_their_email(widget: APIClient, workspace, agent) -> None:
    started = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "body": "hello", "user": {"visitor_id": "visitor-55555"}},
        format="json",
    ).json()
    from agents.models import Conversation

    conversation = Conversation.objects.get(pk=started["id"])
    teammate = UserFactory(username="kim.lee@acme.test", first_name="Kim", last_name="Lee")
    message_post(conversation=conversation, author="teammate", body="Hi!", teammate=teammate)
    messages = widget.get(
        f"/api/widget/v1/conversations/{started['id']}/messages",
        HTTP_AUTHORIZATION=f"Bearer {started['token']}",
    ).json()["messages"]
    reply = messages[-1]
    assert (reply["author"], reply["author_name"]) == ("teammate", "Kim")
    assert "kim.lee@acme.test" not in str(messages)
    assert all(message["author_name"] is None for message in messages[:-1])
