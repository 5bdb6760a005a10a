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


PG_CREATE = [
    "CREATE INDEX IF NOT EXISTS agents_message_search_gin ON agents_message_search USING gin (document)",
    """CREATE OR REPLACE FUNCTION agents_message_search_sync() RETURNS trigger AS $$
    BEGIN
        INSERT INTO agents_message_search (message_id, workspace_id, conversation_id, document)
        SELECT NEW.id, c.workspace_id, NEW.conversation_id, to_tsvector('english', NEW.body)
        FROM agents_conversation c WHERE c.id = NEW.conversation_id
        ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS agents_message_search_sync ON agents_message",
    """CREATE TRIGGER agents_message_search_sync AFTER INSERT OR UPDATE OF body ON agents_message
    FOR EACH ROW EXECUTE FUNCTION agents_message_search_sync()""",
    """INSERT INTO agents_message_search (message_id, workspace_id, conversation_id, document)
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
    """CREATE VIRTUAL TABLE IF NOT EXISTS agents_message_fts USING fts5(
        body, content='agents_message', content_rowid='id', tokenize='porter unicode61'
    )""",
    """CREATE TRIGGER IF NOT EXISTS agents_message_fts_insert AFTER INSERT ON agents_message BEGIN
        INSERT INTO agents_message_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS agents_message_fts_delete AFTER DELETE ON agents_message BEGIN
        INSERT INTO agents_message_fts (agents_message_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS agents_message_fts_update AFTER UPDATE OF body ON agents_message BEGIN
        INSERT INTO agents_message_fts (agents_message_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO agents_message_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    "INSERT INTO agents_message_fts (agents_message_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS agents_message_fts_insert",
    "DROP TRIGGER IF EXISTS agents_message_fts_delete",
    "DROP TRIGGER IF EXISTS agents_message_fts_update",
    "DROP TABLE IF EXISTS agents_message_fts",
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
    dependencies = [("agents", "0006_turn_keeps_the_ai_reply")]

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
