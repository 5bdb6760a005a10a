"""``halo.compiled``: a read compiled once returns what its queryset returns, with each call's values, on
each thread's own connection; a read whose values could be mistaken for one another is refused."""

import threading
from typing import Any

import pytest
from django.db import connection
from django.db.models.functions import Length

from halo.compiled import CompiledRead
from halo.models import BusinessHours, Workspace
from tests.halo.factories import WorkspaceFactory

WORKSPACE_BY_SLUG = CompiledRead(
    lambda slug: Workspace.objects.select_related("business_hours").filter(slug=slug).order_by("id")[:1], "<slug>"
)


@pytest.mark.django_db
def test_each_call_binds_its_own_value_and_loads_what_the_queryset_loads(django_assert_num_queries: Any) -> None:
    plain = WorkspaceFactory(slug="plain")
    open_weekdays = WorkspaceFactory(slug="weekdays")
    BusinessHours.objects.create(workspace=open_weekdays, weekly=[{"day": 1, "open": "08:00", "close": "18:00"}])

    with django_assert_num_queries(3):
        found = [WORKSPACE_BY_SLUG.first(slug) for slug in ("weekdays", "plain", "nobody")]
        hours = [getattr(workspace, "business_hours", None) for workspace in found if workspace is not None]

    assert [workspace.pk if workspace else None for workspace in found] == [open_weekdays.pk, plain.pk, None]
    assert found[0] == Workspace.objects.get(pk=open_weekdays.pk)
    assert hours[0] is not None
    assert hours[0].weekly == [{"day": 1, "open": "08:00", "close": "18:00"}]
    assert hours[1] is None
    assert (found[0]._state.adding, found[0]._state.db) == (False, "default")


@pytest.mark.django_db(transaction=True)
def test_another_thread_compiles_for_its_own_connection() -> None:
    workspace = WorkspaceFactory(slug="threaded")
    found: list[Any] = []

    def read() -> None:
        try:
            found.append(WORKSPACE_BY_SLUG.first("threaded"))
        finally:
            connection.close()

    assert WORKSPACE_BY_SLUG.first("threaded") == workspace
    thread = threading.Thread(target=read)
    thread.start()
    thread.join()

    assert found == [workspace]


@pytest.mark.django_db
def test_constants_of_the_queryset_stay_bound_beside_the_values() -> None:
    WorkspaceFactory(name="Acme", slug="fixed")
    WorkspaceFactory(name="Acme", slug="other")
    named_and_fixed = CompiledRead(lambda name: Workspace.objects.filter(name=name, slug="fixed"), "<value>")

    assert [workspace.slug for workspace in named_and_fixed.all("Acme")] == ["fixed"]
    assert named_and_fixed.all("Globex") == []


@pytest.mark.django_db
def test_a_placeholder_bound_twice_or_rewritten_by_its_lookup_is_refused() -> None:
    twice = CompiledRead(lambda name: Workspace.objects.filter(name=name, slug=name), "<value>")
    rewritten = CompiledRead(lambda name: Workspace.objects.filter(name__contains=name), "<value>")

    with pytest.raises(ValueError, match="bound 2 times"):
        twice.first("x")
    with pytest.raises(ValueError, match="bound 0 times"):
        rewritten.first("x")


@pytest.mark.django_db
def test_annotations_are_set_as_the_queryset_sets_them() -> None:
    WorkspaceFactory(name="Acme", slug="acme")
    with_length = CompiledRead(
        lambda slug: Workspace.objects.filter(slug=slug).annotate(name_length=Length("name")), "<slug>"
    )

    found = with_length.first("acme")

    assert found is not None
    assert found.name_length == 4  # type: ignore[attr-defined]
    assert with_length.first("nobody") is None


@pytest.mark.django_db
def test_a_read_that_prefetches_is_refused() -> None:
    prefetching = CompiledRead(lambda slug: Workspace.objects.filter(slug=slug).prefetch_related("agents"), "<slug>")

    with pytest.raises(ValueError, match="model instances"):
        prefetching.first("acme")
