"""``halo.prepared``: statements run through ``prepared_cursor`` are counted like any other (on SQLite it is
Django's own cursor); on PostgreSQL each is prepared once per connection and reused, reads times as the ORM
does, survives a failed transaction, and Django's own cursors prepare nothing."""

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction

from halo.models import Contact, Workspace
from halo.prepared import prepared_cursor
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db
requires_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="DATABASE_URL is not PostgreSQL")

SLUG_OF = f"SELECT slug FROM {Workspace._meta.db_table} WHERE id = %s"  # noqa: S608 (our table)  # nosec B608
SLUG_OF_KEPT = f"{SLUG_OF} AND slug = 'kept'"


def _slug(workspace_id: int, sql: str = SLUG_OF) -> str | None:
    with prepared_cursor() as cursor:
        cursor.execute(sql, [workspace_id])
        row = cursor.fetchone()
    return row[0] if row else None


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_its_statements_are_counted_and_answer_as_django_cursors_do(django_assert_num_queries: Any) -> None:
    acme, globex = WorkspaceFactory(slug="acme"), WorkspaceFactory(slug="globex")

    with django_assert_num_queries(3):
        slugs = [_slug(acme.pk), _slug(globex.pk), _slug(0)]

    assert slugs == ["acme", "globex", None]


@requires_postgres
def test_times_are_read_as_the_orm_reads_them() -> None:
    at = datetime(2026, 7, 1, 23, 59, 59, 999999, tzinfo=UTC)
    contact = Contact.objects.create(workspace=WorkspaceFactory(), visitor_id="time-1", last_active_at=at)

    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT last_active_at FROM {Contact._meta.db_table} WHERE id = %s", [contact.pk])  # noqa: S608  # nosec B608
        (read,) = cursor.fetchone()

    assert read == at == Contact.objects.get(pk=contact.pk).last_active_at
    assert read.tzinfo == Contact.objects.get(pk=contact.pk).last_active_at.tzinfo


@requires_postgres
def test_each_statement_is_prepared_once_per_connection_and_reused() -> None:
    workspace = WorkspaceFactory(slug="prepared")

    assert [_slug(workspace.pk) for _ in range(3)] == ["prepared"] * 3

    assert _prepared_statements().count(SLUG_OF.replace("%s", "$1")) == 1


@requires_postgres
def test_a_prepared_statement_still_runs_after_a_failed_transaction() -> None:
    workspace = WorkspaceFactory(slug="kept")
    insert = f"INSERT INTO {Workspace._meta.db_table} (name, slug, app_id, allowed_origins, timezone, webhook_routes, created_at) SELECT name, slug, app_id, allowed_origins, timezone, webhook_routes, created_at FROM {Workspace._meta.db_table} WHERE id = %s"  # noqa: S608, E501  # nosec B608

    def read_then_duplicate() -> None:
        with transaction.atomic(), prepared_cursor() as cursor:
            _slug(workspace.pk, SLUG_OF_KEPT)  # first prepared inside the transaction that fails
            cursor.execute(insert, [workspace.pk])  # the same slug again: refused

    with pytest.raises(IntegrityError):
        read_then_duplicate()

    assert _slug(workspace.pk, SLUG_OF_KEPT) == "kept"


@requires_postgres
def test_django_cursors_prepare_nothing() -> None:
    workspace = WorkspaceFactory(slug="plain")

    for _ in range(10):
        assert Workspace.objects.filter(pk=workspace.pk).values_list("slug", flat=True).get() == "plain"

    assert [text for text in _prepared_statements() if "halo_workspace" in text] == []


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_session_the_server_ended_is_replaced_at_the_next_requests_first_statement() -> None:
    """As for Django's cursors (``CONN_HEALTH_CHECKS``): a PostgreSQL restart between two requests does not
    fail the next one, whose statements are prepared again on the new session."""
    workspace = WorkspaceFactory(slug="restarted")
    assert _slug(workspace.pk) == "restarted"  # prepared on this session
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (ended,) = cursor.fetchone()
    with psycopg.connect(**connection.get_connection_params()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])

    close_old_connections()  # what Django does when the next request starts
    assert _slug(workspace.pk) == "restarted"

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != ended
    assert _prepared_statements().count(SLUG_OF.replace("%s", "$1")) == 1
