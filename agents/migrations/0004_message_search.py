"""The full-text index over messages (the inbox's search), kept by database triggers on ``agents_message``.

Triggers keep it whatever writes a message (``agents.services``, a bulk load, a data migration), with no
extra round trip on the widget's hot path.

PostgreSQL: ``agents_message_search`` (``MessageSearch``: message id, workspace id, conversation id,
``document`` = ``to_tsvector('english', body)``), GIN-indexed, beside a (workspace, message id) index for
"the newest matches of a common word". Written by the trigger only.

SQLite: an external-content FTS5 table ``agents_message_fts`` over ``agents_message.body`` (rowid = message
id; porter stemmer). SQLite drops a table's triggers when Django rebuilds the table for an ``ALTER``: a
migration that rebuilds ``agents_message`` must call ``create`` again (a test checks that the triggers exist
after every migration).
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

PG_TABLE = "agents_message_search"
FTS_TABLE = "agents_message_fts"

PG_CREATE = [
    f"CREATE INDEX IF NOT EXISTS agents_message_search_gin ON {PG_TABLE} USING gin (document)",
    f"""CREATE OR REPLACE FUNCTION agents_message_search_sync() RETURNS trigger AS $$
    BEGIN
        INSERT INTO {PG_TABLE} (message_id, workspace_id, conversation_id, document)
        SELECT NEW.id, c.workspace_id, NEW.conversation_id, to_tsvector('english', NEW.body)
        FROM agents_conversation c WHERE c.id = NEW.conversation_id
        ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS agents_message_search_sync ON agents_message",
    """CREATE TRIGGER agents_message_search_sync AFTER INSERT OR UPDATE OF body ON agents_message
    FOR EACH ROW EXECUTE FUNCTION agents_message_search_sync()""",
    f"""INSERT INTO {PG_TABLE} (message_id, workspace_id, conversation_id, document)
    SELECT m.id, c.workspace_id, m.conversation_id, to_tsvector('english', m.body)
    FROM agents_message m JOIN agents_conversation c ON c.id = m.conversation_id
    ON CONFLICT (message_id) DO NOTHING""",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS agents_message_search_sync ON agents_message",
    "DROP FUNCTION IF EXISTS agents_message_search_sync()",
    "DROP INDEX IF EXISTS agents_message_search_gin",
]

SQLITE_CREATE = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(
        body, content='agents_message', content_rowid='id', tokenize='porter unicode61'
    )""",
    f"""CREATE TRIGGER IF NOT EXISTS agents_message_fts_insert AFTER INSERT ON agents_message BEGIN
        INSERT INTO {FTS_TABLE} (rowid, body) VALUES (new.id, new.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS agents_message_fts_delete AFTER DELETE ON agents_message BEGIN
        INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS agents_message_fts_update AFTER UPDATE OF body ON agents_message BEGIN
        INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO {FTS_TABLE} (rowid, body) VALUES (new.id, new.body);
    END""",
    f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS agents_message_fts_insert",
    "DROP TRIGGER IF EXISTS agents_message_fts_delete",
    "DROP TRIGGER IF EXISTS agents_message_fts_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in PG_CREATE if vendor == "postgresql" else SQLITE_CREATE if vendor == "sqlite" else []:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in PG_DROP if vendor == "postgresql" else SQLITE_DROP if vendor == "sqlite" else []:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("agents", "0003_conversation_hand_back_and_teammate_times")]

    operations = [
        migrations.CreateModel(
            name="MessageSearch",
            fields=[
                (
                    "message",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="agents.message",
                    ),
                ),
                ("workspace_id", models.BigIntegerField()),
                ("conversation_id", models.BigIntegerField()),
                ("document", django.contrib.postgres.search.SearchVectorField()),
            ],
            options={
                "db_table": "agents_message_search",
                "indexes": [models.Index(fields=["workspace_id", "-message"], name="agents_message_search_recent")],
            },
        ),
        migrations.RunPython(create, drop),
    ]
