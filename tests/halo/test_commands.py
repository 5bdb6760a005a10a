"""Management commands: create_workspace prints what a new workspace needs; seed_demo loads Acme idempotently."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from halo.api.authentication import api_key_authenticate
from halo.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
from halo.models import Company, Contact, Membership, PageView, Workspace


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_workspace_prints_json_with_ids_and_secrets():
    output = json.loads(
        run("create_workspace", "Globex", "--admin-email", "hank@globex.test", "--admin-password", "pw-globex-123")
    )

    workspace = Workspace.objects.get(pk=output["workspace_id"])
    assert output["app_id"] == workspace.app_id
    assert output["identity_secret"] == workspace.identity_secret
    assert api_key_authenticate(output["api_key"]).workspace == workspace
    assert Membership.objects.get(workspace=workspace).user.username == "hank@globex.test"


@pytest.mark.django_db
def test_create_workspace_refuses_an_invalid_email_and_creates_nothing():
    with pytest.raises(CommandError):
        run("create_workspace", "Globex", "--admin-email", "not an email", "--admin-password", "pw-globex-123")

    assert not Workspace.objects.exists()


@pytest.mark.django_db
def test_seed_demo_loads_a_realistic_workspace_and_prints_the_login(client):
    output = run("seed_demo")

    workspace = Workspace.objects.get(slug="acme")
    assert DEMO_ADMIN_EMAIL in output
    assert DEMO_PASSWORD in output
    assert "Server API key (shown once): halo_" in output
    assert workspace.memberships.count() >= 3
    assert Company.objects.filter(workspace=workspace).count() == 8
    assert Contact.objects.filter(workspace=workspace, user_id__isnull=False).count() >= 40
    contact = Contact.objects.filter(workspace=workspace, company__isnull=False).first()
    assert contact.custom_fields
    assert contact.subscription_status
    assert PageView.objects.filter(contact__workspace=workspace).exists()
    logged_in = client.post("/accounts/login/", {"username": DEMO_ADMIN_EMAIL, "password": DEMO_PASSWORD})
    assert (logged_in.status_code, logged_in["Location"]) == (302, "/inbox/")


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing():
    run("seed_demo")
    counts = (Workspace.objects.count(), Contact.objects.count(), Company.objects.count(), PageView.objects.count())

    second = run("seed_demo")
    third = run("seed_demo", "--if-empty")

    assert (
        Workspace.objects.count(),
        Contact.objects.count(),
        Company.objects.count(),
        PageView.objects.count(),
    ) == counts
    assert "shown once" not in second
    assert "not re-seeding" in third


@pytest.mark.django_db
def test_create_workspace_refuses_a_weak_admin_password():
    with pytest.raises(CommandError, match=r"password: .*too short"):
        run("create_workspace", "Globex", "--admin-email", "hank@globex.test", "--admin-password", "abc")

    assert not Workspace.objects.exists()
