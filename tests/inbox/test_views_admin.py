"""The inbox's admin pages: a workspace admin who is not a superuser sees only their workspace's saved views,
notes, events and inboxes; a custom inbox's Slack webhook is write-only."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from halo.models import Membership, OutboxMessage, Workspace
from halo.services import membership_set
from inbox.events import TICKET_UPDATED, inbox_event_record
from inbox.models import CustomInbox, SavedView, TicketNote
from inbox.services import ASSIGN_TASK
from tests.halo.factories import UserFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory

pytestmark = pytest.mark.django_db

SECRET_HOOK = "https://hooks.slack.com/services/T0/B0/inbox-secret"


@pytest.fixture
def workspace_admin(workspace: Workspace) -> User:
    user = UserFactory(username="admin@acme.test")
    membership_set(workspace=workspace, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def admin_browser(workspace_admin: User) -> Client:
    client = Client()
    client.force_login(workspace_admin)
    return client


@pytest.mark.parametrize("model", ["savedview", "ticketnote", "inboxevent", "custominbox"])
def test_workspace_admin_lists_only_their_workspaces_rows(
    admin_browser: Client, workspace: Workspace, other_workspace: Workspace, model: str
) -> None:
    for target, name in ((workspace, "Ours"), (other_workspace, "Theirs")):
        SavedView.objects.create(workspace=target, name=f"{name} view")
        ticket = TicketFactory(workspace=target)
        TicketNote.objects.create(ticket=ticket, body=f"{name} note")
        inbox_event_record(workspace_id=target.pk, type=TICKET_UPDATED, ticket_id=ticket.pk)
        CustomInboxFactory(workspace=target, name=f"{name} inbox")

    response = admin_browser.get(f"/admin/inbox/{model}/")

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert len(rows) == 1
    first = rows[0]
    workspace_id = first.ticket.workspace_id if model == "ticketnote" else first.workspace_id
    assert workspace_id == workspace.pk


def test_workspace_admin_cannot_open_another_workspaces_saved_view(
    admin_browser: Client, other_workspace: Workspace
) -> None:
    theirs = SavedView.objects.create(workspace=other_workspace, name="Theirs view", rule="company.plan = pro")
    response = admin_browser.get(f"/admin/inbox/savedview/{theirs.pk}/change/", follow=True)
    assert "company.plan = pro" not in response.content.decode()
    assert "doesn\u2019t exist" in response.content.decode()


def test_custom_inbox_slack_webhook_is_write_only(admin_client: Client, workspace: Workspace) -> None:
    inbox = CustomInboxFactory(workspace=workspace, name="Billing")
    url = f"/admin/inbox/custominbox/{inbox.pk}/change/"
    data = {"workspace": workspace.pk, "name": "Billing", "new_slack_webhook_url": SECRET_HOOK}

    assert admin_client.post(url, data).status_code == 302
    inbox.refresh_from_db()
    assert inbox.slack_webhook_url == SECRET_HOOK
    assert "inbox-secret" not in admin_client.get(url).content.decode()
    assert "inbox-secret" not in admin_client.get("/admin/inbox/custominbox/").content.decode()

    admin_client.post(url, {"workspace": workspace.pk, "name": "Billing"})  # blank keeps it
    assert CustomInbox.objects.get(pk=inbox.pk).slack_webhook_url == SECRET_HOOK
    admin_client.post(url, {"workspace": workspace.pk, "name": "Billing", "clear_slack_webhook_url": "on"})
    assert CustomInbox.objects.get(pk=inbox.pk).slack_webhook_url == ""


def test_inbox_events_and_notes_are_read_only_in_the_admin(admin_client: Client, workspace: Workspace) -> None:
    assert admin_client.get("/admin/inbox/inboxevent/add/").status_code == 403
    assert admin_client.get("/admin/inbox/ticketnote/add/").status_code == 403


def test_a_workspace_admin_sets_an_inboxs_members_and_policy(
    admin_browser: Client, workspace: Workspace, teammate: Membership, outsider: Membership
) -> None:
    inbox = CustomInboxFactory(workspace=workspace, name="Billing")
    url = f"/admin/inbox/custominbox/{inbox.pk}/change/"
    page = admin_browser.get(url).content.decode()
    assert teammate.user.username in page
    assert outsider.user.username not in page  # another workspace's teammate is not offered

    response = admin_browser.post(
        url,
        {"workspace": workspace.pk, "name": "Billing", "assignment": "round_robin", "team_members": [teammate.user_id]},
    )

    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.assignment == "round_robin"
    assert list(inbox.memberships.values_list("user_id", flat=True)) == [teammate.user_id]
    assert OutboxMessage.objects.filter(task=ASSIGN_TASK).exists()  # waiting tickets are given out

    refused = admin_browser.post(
        url, {"workspace": workspace.pk, "name": "Billing", "team_members": [outsider.user_id]}
    )
    assert refused.status_code == 200
    assert "team_members" in refused.context["adminform"].form.errors
    assert list(inbox.memberships.values_list("user_id", flat=True)) == [teammate.user_id]
