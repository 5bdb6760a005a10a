"""The message search index's triggers exist after every migration (SQLite drops a table's triggers when Django
rebuilds it for an ALTER: a later migration that rebuilds ``agents_message`` must create them again)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_message_search_triggers_exist_after_all_migrations() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'agents_message'")
            expected = {"agents_message_fts_insert", "agents_message_fts_delete", "agents_message_fts_update"}
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'agents_message'::regclass AND NOT tgisinternal"
            )
            expected = {"agents_message_search_sync"}
        assert expected <= {row[0] for row in cursor.fetchall()}
