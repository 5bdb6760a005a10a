"""``halo.inserts``: ``insert`` and ``insert_all`` write the rows ``save(force_insert=True)`` and
``bulk_create`` write, in one statement each, and leave the instances as the ORM does; a model whose saves
someone listens to, or a value that is an expression, goes through the ORM; ``insert_unless_conflict``
writes nothing where the constraint holds a row already."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db.models.functions import Now
from django.db.models.signals import post_save

from halo.inserts import insert, insert_all, insert_unless_conflict
from halo.models import Company, Contact
from tests.halo.factories import CompanyFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _contact(workspace: Any, company: Company, n: int) -> Contact:
    """A contact with a value in every kind of column: text, null, JSON, foreign key, decimal, time."""
    return Contact(
        workspace=workspace,
        visitor_id=f"visitor-{n}",
        name=f"Ada {n}",
        custom_fields={"plan": "pro", "seats": 3, "tags": ["a", "b"], "nested": {"x": None}},
        company=company,
        stripe_mrr=Decimal("12.50"),
        last_active_at=AT,
        created_at=AT,
    )


def _stored_row(contact: Contact) -> dict[str, Any]:
    row = Contact.objects.filter(pk=contact.pk).values(*(f.attname for f in Contact._meta.concrete_fields)).get()
    row.pop("id")
    row["visitor_id"] = row["visitor_id"].rsplit("-", 1)[0]  # the one value that differs on purpose
    row["name"] = row["name"].rsplit(" ", 1)[0]
    return row


def test_insert_writes_the_row_save_writes_and_leaves_the_instance_stored(django_assert_num_queries: Any) -> None:
    workspace = WorkspaceFactory()
    company = CompanyFactory(workspace=workspace)
    by_the_orm = _contact(workspace, company, 1)
    by_the_orm.save(force_insert=True)
    inserted = _contact(workspace, company, 2)

    with django_assert_num_queries(1):
        returned = insert(inserted)

    assert returned is inserted
    assert inserted.pk is not None
    assert inserted.pk != by_the_orm.pk
    assert (inserted._state.adding, inserted._state.db) == (False, "default")
    assert _stored_row(inserted) == _stored_row(by_the_orm)
    assert Contact.objects.get(pk=inserted.pk).last_active_at == AT


def test_insert_fills_field_defaults_as_save_does() -> None:
    workspace = WorkspaceFactory()

    contact = insert(Contact(workspace=workspace, visitor_id="defaults-1"))

    stored = Contact.objects.get(pk=contact.pk)
    assert stored.custom_fields == {}
    assert stored.created_at == contact.created_at
    assert stored.company_id is None


def test_insert_all_writes_the_rows_in_one_statement_with_their_keys_in_order(
    django_assert_num_queries: Any,
) -> None:
    workspace = WorkspaceFactory()
    company = CompanyFactory(workspace=workspace)
    by_the_orm = Contact.objects.bulk_create([_contact(workspace, company, n) for n in range(3)])
    contacts = [_contact(workspace, company, n) for n in range(3, 6)]

    with django_assert_num_queries(1):
        returned = insert_all(contacts)

    assert returned == contacts
    assert [contact.pk for contact in contacts] == sorted(contact.pk for contact in contacts)
    assert [Contact.objects.get(pk=contact.pk).visitor_id for contact in contacts] == [
        "visitor-3",
        "visitor-4",
        "visitor-5",
    ]
    assert all(not contact._state.adding for contact in contacts)
    assert [_stored_row(contact) for contact in contacts] == [_stored_row(contact) for contact in by_the_orm]
    assert insert_all([]) == []
    with pytest.raises(TypeError, match="one model"):
        insert_all([Contact(workspace=workspace, visitor_id="mixed-1"), Company(workspace=workspace, name="Mixed")])


def test_a_model_whose_saves_are_listened_to_is_saved_by_the_orm() -> None:
    workspace = WorkspaceFactory()
    heard: list[tuple[int, bool]] = []

    def receiver(sender: Any, instance: Contact, created: bool, **kwargs: Any) -> None:
        heard.append((instance.pk, created))

    post_save.connect(receiver, sender=Contact)
    try:
        contact = insert(Contact(workspace=workspace, visitor_id="listened-1"))
    finally:
        post_save.disconnect(receiver, sender=Contact)

    assert heard == [(contact.pk, True)]
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_an_expression_is_compiled_by_the_orm() -> None:
    workspace = WorkspaceFactory()

    contact = insert(Contact(workspace=workspace, visitor_id="expression-1", last_active_at=Now()))
    (other,) = insert_all([Contact(workspace=workspace, visitor_id="expression-2", last_active_at=Now())])

    assert Contact.objects.get(pk=contact.pk).last_active_at is not None
    assert Contact.objects.get(pk=other.pk).last_active_at is not None


def test_insert_unless_conflict_writes_nothing_where_the_constraint_holds_a_row() -> None:
    workspace = WorkspaceFactory()
    first = Contact(workspace=workspace, visitor_id="twice-1", name="First")
    second = Contact(workspace=workspace, visitor_id="twice-1", name="Second")

    assert insert_unless_conflict(first, constraint="contact_unique_visitor_id") is True
    assert insert_unless_conflict(second, constraint="contact_unique_visitor_id") is False

    assert second.pk is None
    assert second._state.adding
    assert list(Contact.objects.filter(visitor_id="twice-1").values_list("pk", "name")) == [(first.pk, "First")]
