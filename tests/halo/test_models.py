"""Database constraints of the tenancy models: they hold even when Python validation is bypassed."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from halo.models import Company, Contact, Membership, PageView, validate_custom_fields
from tests.halo.factories import CompanyFactory, ContactFactory, MembershipFactory, UserFactory, WorkspaceFactory


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["email", "name", "role", "plan", "user_id", "subscription_status"])
def test_database_refuses_an_empty_string_on_a_contact(field):
    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(**{field: ""})


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["company_id", "name", "plan", "industry"])
def test_database_refuses_an_empty_string_on_a_company(field):
    company = CompanyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Company.objects.filter(pk=company.pk).update(**{field: ""})


@pytest.mark.django_db
def test_database_refuses_an_empty_page_view_url():
    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PageView.objects.create(contact=contact, url="")


@pytest.mark.django_db
def test_user_id_is_unique_within_a_workspace():
    contact = ContactFactory(user_id="u-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(workspace=contact.workspace, user_id="u-1")


@pytest.mark.django_db
def test_the_same_user_id_may_exist_in_two_workspaces():
    ContactFactory(user_id="u-1")
    ContactFactory(user_id="u-1")

    assert Contact.objects.filter(user_id="u-1").count() == 2


@pytest.mark.django_db
def test_a_workspace_may_have_many_anonymous_contacts():
    workspace = WorkspaceFactory()
    for _ in range(3):
        ContactFactory(workspace=workspace, user_id=None, email=None, name=None)

    assert Contact.objects.filter(workspace=workspace, user_id__isnull=True).count() == 3


@pytest.mark.django_db
def test_company_id_is_unique_within_a_workspace():
    company = CompanyFactory(company_id="acme")
    with pytest.raises(IntegrityError), transaction.atomic():
        CompanyFactory(workspace=company.workspace, company_id="acme")


@pytest.mark.django_db
def test_a_user_has_one_membership_per_workspace():
    membership = MembershipFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(user=membership.user, workspace=membership.workspace, role=Membership.Role.ADMIN)


@pytest.mark.django_db
def test_a_user_may_belong_to_several_workspaces():
    user = UserFactory()
    MembershipFactory(user=user)
    MembershipFactory(user=user)

    assert user.memberships.count() == 2


@pytest.mark.django_db
def test_database_refuses_an_unknown_membership_role():
    membership = MembershipFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(role="owner")


@pytest.mark.parametrize(
    "value",
    [
        {"plan": "pro", "seats": 3, "ratio": 0.5, "vip": True, "note": None, "_private": "x", "A1_b": 1},
        {},
    ],
)
def test_custom_fields_accept_flat_scalars_under_segment_safe_keys(value):
    validate_custom_fields(value)


@pytest.mark.parametrize(
    "value",
    [
        [],
        "text",
        {"a-b": 1},
        {"a.b": 1},
        {"": 1},
        {"9lives": 1},
        {"k" * 65: 1},
        {"list": [1]},
        {"obj": {"a": 1}},
        {"big": 2**60},
        {"nan": float("nan")},
        {"text": "x" * 1001},
        {f"k{i}": 1 for i in range(101)},
    ],
)
def test_custom_fields_refuse_what_the_segment_language_cannot_address(value):
    with pytest.raises(ValidationError):
        validate_custom_fields(value)


@pytest.mark.django_db
def test_a_contact_cannot_belong_to_another_workspaces_company():
    contact = ContactFactory()
    contact.company = CompanyFactory()  # a company of another workspace

    with pytest.raises(ValidationError, match="another workspace"):
        contact.full_clean()
