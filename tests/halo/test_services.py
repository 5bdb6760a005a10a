"""Services of tenancy and people: provisioning, API keys, contact upserts and activity."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from halo.api.authentication import api_key_authenticate
from halo.models import ApiKey, Company, Contact, Membership, Workspace
from halo.services import (
    api_key_create,
    contact_upsert,
    page_view_record,
    workspace_create,
)
from tests.halo.factories import UserFactory, WorkspaceFactory


@pytest.mark.django_db
def test_workspace_create_provisions_an_admin_and_a_working_api_key():
    created = workspace_create(name="Acme Inc", admin_email="Admin@Acme.test", admin_password="s3cret-pass-phrase")

    workspace = created.workspace
    assert workspace.slug == "acme-inc"
    assert created.admin.username == "admin@acme.test"
    assert created.admin.check_password("s3cret-pass-phrase")
    assert Membership.objects.get(workspace=workspace, user=created.admin).role == "admin"
    authenticated = api_key_authenticate(created.raw_api_key)
    assert authenticated is not None
    assert authenticated.workspace == workspace


@pytest.mark.django_db
def test_workspace_create_gives_unique_slugs_and_reuses_an_existing_login():
    user = UserFactory(username="ops@example.com", email="ops@example.com")
    first = workspace_create(name="Acme", admin_email="ops@example.com", admin_password="ignored-password")
    second = workspace_create(name="Acme", admin_email="ops@example.com", admin_password="ignored-password")

    assert (first.workspace.slug, second.workspace.slug) == ("acme", "acme-2")
    assert first.admin.pk == second.admin.pk == user.pk
    assert not second.admin.check_password("ignored-password")  # an existing user's password is not changed


@pytest.mark.django_db
def test_workspace_create_with_a_bad_timezone_creates_nothing():
    with pytest.raises(ValidationError):
        workspace_create(
            name="Acme", admin_email="a@example.com", admin_password="pw-12345678", timezone_name="Mars/Base"
        )

    assert not Workspace.objects.exists()


@pytest.mark.django_db
def test_api_key_is_stored_hashed_and_never_in_clear():
    workspace = WorkspaceFactory()

    api_key, raw_key = api_key_create(workspace=workspace)

    stored = ApiKey.objects.get(pk=api_key.pk)
    secret = raw_key.split("_")[2]
    assert raw_key.startswith(f"halo_{stored.prefix}_")
    assert secret not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == ApiKey.hash_secret(secret)


@pytest.mark.django_db
def test_contact_upsert_is_atomic_when_the_contact_part_is_invalid():
    workspace = WorkspaceFactory()

    with pytest.raises(ValidationError):
        contact_upsert(
            workspace=workspace,
            user_id="u-1",
            data={"company": {"company_id": "acme", "name": "Acme"}, "custom_fields": {"bad key": 1}},
        )

    assert not Company.objects.exists()
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_contact_upsert_refuses_a_blank_user_id():
    with pytest.raises(ValidationError):
        contact_upsert(workspace=WorkspaceFactory(), user_id="  ", data={})


@pytest.mark.django_db
def test_page_view_record_sets_last_active_at_for_a_contact_never_seen():
    contact = contact_upsert(workspace=WorkspaceFactory(), user_id="u-1", data={}).contact
    when = timezone.now() - timedelta(hours=1)

    page_view_record(contact=contact, url="/billing", occurred_at=when)

    assert Contact.objects.get(pk=contact.pk).last_active_at == when
