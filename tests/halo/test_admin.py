"""The admin: workspace admins see only their workspace; secrets are write-only; failures are visible."""

import pytest
from django.contrib.auth.models import User

from halo.models import ApiKey, Membership, OutboxMessage, PageView, Workspace
from halo.services import api_key_create, contact_upsert, membership_set
from tests.halo.factories import UserFactory, WorkspaceFactory


@pytest.fixture
def two_workspaces(db):
    ours, theirs = WorkspaceFactory(name="Ours"), WorkspaceFactory(name="Theirs")
    contact_upsert(workspace=ours, user_id="our-user", data={"name": "Olivia Ours"})
    contact_upsert(workspace=theirs, user_id="their-user", data={"name": "Theo Theirs"})
    return ours, theirs


@pytest.fixture
def workspace_admin(two_workspaces) -> User:
    user = UserFactory(username="admin@ours.test")
    membership_set(workspace=two_workspaces[0], user=user, role=Membership.Role.ADMIN)
    return user


def test_a_workspace_admin_lists_only_their_own_contacts(client, two_workspaces, workspace_admin):
    client.force_login(workspace_admin)

    page = client.get("/admin/halo/contact/").content.decode()

    assert "Olivia Ours" in page
    assert "Theo Theirs" not in page


def test_a_workspace_admin_cannot_open_another_workspaces_contact(client, two_workspaces, workspace_admin):
    their_contact = two_workspaces[1].contacts.get()
    client.force_login(workspace_admin)

    response = client.get(f"/admin/halo/contact/{their_contact.pk}/change/", follow=True)

    assert "Theo Theirs" not in response.content.decode()
    assert "doesn\u2019t exist" in response.content.decode()


def test_a_workspace_admin_sees_only_their_workspace(client, two_workspaces, workspace_admin):
    client.force_login(workspace_admin)

    page = client.get("/admin/halo/workspace/").content.decode()

    assert "Ours" in page
    assert ">Theirs<" not in page


def test_a_teammate_has_no_admin_access(client, two_workspaces):
    teammate = UserFactory(is_staff=True)
    membership_set(workspace=two_workspaces[0], user=teammate, role=Membership.Role.TEAMMATE)
    client.force_login(teammate)

    assert client.get("/admin/halo/contact/").status_code == 403


def test_a_superuser_sees_every_workspace(admin_client, two_workspaces):
    page = admin_client.get("/admin/halo/contact/").content.decode()

    assert "Olivia Ours" in page
    assert "Theo Theirs" in page


def test_workspace_page_never_shows_the_identity_secret_or_slack_url(admin_client, two_workspaces):
    workspace = two_workspaces[0]
    Workspace.objects.filter(pk=workspace.pk).update(slack_webhook_url="https://hooks.slack.com/services/T0/B0/secret")
    workspace.refresh_from_db()

    page = admin_client.get(f"/admin/halo/workspace/{workspace.pk}/change/").content.decode()

    assert workspace.identity_secret not in page
    assert "hooks.slack.com" not in page


def test_slack_url_left_blank_keeps_the_current_one(admin_client, two_workspaces):
    workspace = two_workspaces[0]
    Workspace.objects.filter(pk=workspace.pk).update(slack_webhook_url="https://hooks.slack.com/services/T0/B0/x")
    form = {"name": "Ours", "slug": workspace.slug, "timezone": "UTC", "allowed_origins": "[]"}

    response = admin_client.post(f"/admin/halo/workspace/{workspace.pk}/change/", {**form, "new_slack_webhook_url": ""})

    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.slack_webhook_url == "https://hooks.slack.com/services/T0/B0/x"


def test_a_new_api_key_is_shown_once_and_its_hash_never(admin_client, two_workspaces):
    workspace = two_workspaces[0]

    response = admin_client.post("/admin/halo/apikey/add/", {"workspace": workspace.pk, "name": "zapier"}, follow=True)

    page = response.content.decode()
    api_key = ApiKey.objects.get(workspace=workspace, name="zapier")
    assert f"halo_{api_key.prefix}_" in page
    change_page = admin_client.get(f"/admin/halo/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.key_hash not in change_page
    assert "it will not be shown again" not in change_page


def test_api_key_list_never_shows_a_hash(admin_client, two_workspaces):
    api_key, _ = api_key_create(workspace=two_workspaces[0])

    page = admin_client.get("/admin/halo/apikey/").content.decode()

    assert api_key.key_hash not in page


def test_failed_outbox_messages_show_their_error(admin_client, two_workspaces):
    OutboxMessage.objects.create(
        workspace=two_workspaces[0], task="inbox.tasks.slack_notify", state="failed", last_error="HTTP 404 from Slack"
    )

    page = admin_client.get("/admin/halo/outboxmessage/?state__exact=failed").content.decode()

    assert "HTTP 404 from Slack" in page
    assert "inbox.tasks.slack_notify" in page


@pytest.fixture
def companies(two_workspaces):
    ours, theirs = two_workspaces
    contact_upsert(workspace=ours, user_id="our-user", data={"company": {"company_id": "oc", "name": "Our Corp"}})
    contact_upsert(workspace=theirs, user_id="their-user", data={"company": {"company_id": "tc", "name": "Their Corp"}})
    return ours, theirs


def test_related_list_filters_show_only_the_admins_own_rows(client, companies, workspace_admin):
    client.force_login(workspace_admin)

    page = client.get("/admin/halo/contact/").content.decode()

    assert "Our Corp" in page
    assert "Their Corp" not in page


def test_foreign_key_choices_are_limited_to_the_admins_workspaces(client, companies, workspace_admin):
    client.force_login(workspace_admin)

    page = client.get("/admin/halo/contact/add/").content.decode()

    assert "Our Corp" in page
    assert "Their Corp" not in page
    assert ">Theirs<" not in page


def test_a_workspace_admin_cannot_save_a_contact_into_another_workspace(client, companies, workspace_admin):
    theirs = companies[1]
    client.force_login(workspace_admin)

    response = client.post("/admin/halo/contact/add/", {"workspace": theirs.pk, "user_id": "sneaky"})

    assert response.status_code == 200  # the form is shown again with an error
    assert not theirs.contacts.filter(user_id="sneaky").exists()


def test_a_workspace_admin_sees_the_page_views_inline(client, two_workspaces, workspace_admin):
    contact = two_workspaces[0].contacts.get()
    PageView.objects.create(contact=contact, url="/pricing-page-visited")
    client.force_login(workspace_admin)

    page = client.get(f"/admin/halo/contact/{contact.pk}/change/").content.decode()

    assert "/pricing-page-visited" in page
