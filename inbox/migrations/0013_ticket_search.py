"""The inbox search's per-ticket document (``TicketSearch``), kept by database triggers on PostgreSQL.

One narrow row per ticket: the ticket id, its workspace id and ``to_tsvector('english', …)`` of the bodies of
every message of its conversations, GIN-indexed, beside a (workspace, ticket id) index for "the newest
matching tickets of a common word". A search then reads one row per ticket instead of one per message, and
finds tickets without going through conversations.

Written by statement-level triggers only, in the transaction of the change, whatever makes it (the
services, a bulk load, a data migration):

- a ticket linked to a conversation (``inbox_ticket_conversations`` INSERT): the row is created, or the
  conversation's messages are appended to it;
- messages inserted: appended to the documents of the tickets of their conversations;
- a message's body or conversation changed, a message deleted, a conversation unlinked: the documents of
  the tickets concerned are rebuilt from their messages.

Existing tickets are filled in batches of ticket ids. SQLite keeps no per-ticket document (the messages'
FTS5 table of ``agents/0007_message_search`` serves its search): the table is created and stays empty.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

BACKFILL_BATCH = 10_000
# A tsvector holds at most 1 MB, and a text yields at most about 6 bytes of it per character (a one-character
# word of four UTF-8 bytes and a space: the word, its 4-byte entry, its position and their count). A document
# built from this many characters always fits; one grown message by message may not, and then keeps the words
# it has (see the triggers).
MAX_DOCUMENT_CHARS = 150_000

# A ticket's words: its conversations' messages, oldest first (the first ``MAX_DOCUMENT_CHARS`` characters).
TICKET_TEXT = f"to_tsvector('english', left(string_agg(m.body, ' ' ORDER BY m.id), {MAX_DOCUMENT_CHARS}))"

PG_CREATE = [
    # The tickets' rows are locked (as an UPDATE of them would, in id order) before their documents: every
    # writer of a document then holds its ticket first, as a ticket's own changes do (``ticket_update``,
    # a merge), so a message and a change of its ticket wait for each other instead of deadlocking.
    """CREATE OR REPLACE FUNCTION inbox_ticket_search_lock(ticket_ids bigint[]) RETURNS void AS $$
    BEGIN
        PERFORM 1 FROM inbox_ticket WHERE id = ANY(ticket_ids) ORDER BY id FOR NO KEY UPDATE;
    END
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION inbox_ticket_search_rebuild(ticket_ids bigint[]) RETURNS void AS $$
    BEGIN
        IF cardinality(ticket_ids) = 0 THEN
            RETURN;
        END IF;
        PERFORM inbox_ticket_search_lock(ticket_ids);
        UPDATE inbox_ticket_search s SET document = coalesce((
            SELECT {TICKET_TEXT}
              FROM inbox_ticket_conversations tc JOIN agents_message m ON m.conversation_id = tc.conversation_id
             WHERE tc.ticket_id = s.ticket_id), ''::tsvector)
         WHERE s.ticket_id = ANY(ticket_ids);
    END
    $$ LANGUAGE plpgsql""",  # nosec B608 — only this module's constants are formatted in
    f"""CREATE OR REPLACE FUNCTION inbox_ticket_search_linked() RETURNS trigger AS $$
    BEGIN
        PERFORM inbox_ticket_search_lock(ARRAY(SELECT DISTINCT ticket_id FROM new_links));
        BEGIN
            INSERT INTO inbox_ticket_search (ticket_id, workspace_id, document)
            SELECT n.ticket_id, t.workspace_id, coalesce({TICKET_TEXT}, ''::tsvector)
              FROM new_links n JOIN inbox_ticket t ON t.id = n.ticket_id
              LEFT JOIN agents_message m ON m.conversation_id = n.conversation_id
             GROUP BY n.ticket_id, t.workspace_id
            ON CONFLICT (ticket_id) DO UPDATE SET document = inbox_ticket_search.document || EXCLUDED.document;
        EXCEPTION WHEN program_limit_exceeded THEN
            -- A document that would outgrow a tsvector keeps the words it has; new tickets still get theirs.
            INSERT INTO inbox_ticket_search (ticket_id, workspace_id, document)
            SELECT n.ticket_id, t.workspace_id, coalesce({TICKET_TEXT}, ''::tsvector)
              FROM new_links n JOIN inbox_ticket t ON t.id = n.ticket_id
              LEFT JOIN agents_message m ON m.conversation_id = n.conversation_id
             GROUP BY n.ticket_id, t.workspace_id
            ON CONFLICT (ticket_id) DO NOTHING;
        END;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",  # nosec B608 — only this module's constants are formatted in
    """CREATE OR REPLACE FUNCTION inbox_ticket_search_unlinked() RETURNS trigger AS $$
    BEGIN
        PERFORM inbox_ticket_search_rebuild(ARRAY(SELECT DISTINCT ticket_id FROM old_links));
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION inbox_ticket_search_messages_added() RETURNS trigger AS $$
    DECLARE
        ticket_ids bigint[];
        one record;
    BEGIN
        ticket_ids := ARRAY(
            SELECT DISTINCT tc.ticket_id
              FROM new_messages n JOIN inbox_ticket_conversations tc ON tc.conversation_id = n.conversation_id);
        IF cardinality(ticket_ids) = 0 THEN
            RETURN NULL;
        END IF;
        PERFORM inbox_ticket_search_lock(ticket_ids);
        BEGIN
            UPDATE inbox_ticket_search s SET document = s.document || added.document
              FROM (SELECT tc.ticket_id,
                           to_tsvector('english', left(string_agg(n.body, ' ' ORDER BY n.id), {MAX_DOCUMENT_CHARS}))
                               AS document
                      FROM new_messages n JOIN inbox_ticket_conversations tc ON tc.conversation_id = n.conversation_id
                     GROUP BY tc.ticket_id) AS added
             WHERE s.ticket_id = added.ticket_id;
        EXCEPTION WHEN program_limit_exceeded THEN
            -- Some ticket's document would outgrow a tsvector: ticket by ticket, and that one keeps the words
            -- it has (its messages are stored all the same; search finds it by its earlier words).
            FOR one IN
                SELECT tc.ticket_id,
                       to_tsvector('english', left(string_agg(n.body, ' ' ORDER BY n.id), {MAX_DOCUMENT_CHARS}))
                           AS document
                  FROM new_messages n JOIN inbox_ticket_conversations tc ON tc.conversation_id = n.conversation_id
                 GROUP BY tc.ticket_id
            LOOP
                BEGIN
                    UPDATE inbox_ticket_search SET document = document || one.document
                     WHERE ticket_id = one.ticket_id;
                EXCEPTION WHEN program_limit_exceeded THEN
                    NULL;
                END;
            END LOOP;
        END;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",  # nosec B608 — only this module's constants are formatted in
    """CREATE OR REPLACE FUNCTION inbox_ticket_search_messages_changed() RETURNS trigger AS $$
    BEGIN
        PERFORM inbox_ticket_search_rebuild(ARRAY(
            SELECT DISTINCT tc.ticket_id
              FROM old_messages o JOIN new_messages n ON n.id = o.id
              JOIN inbox_ticket_conversations tc ON tc.conversation_id IN (o.conversation_id, n.conversation_id)
             WHERE o.body IS DISTINCT FROM n.body OR o.conversation_id IS DISTINCT FROM n.conversation_id));
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION inbox_ticket_search_messages_deleted() RETURNS trigger AS $$
    BEGIN
        PERFORM inbox_ticket_search_rebuild(ARRAY(
            SELECT DISTINCT tc.ticket_id
              FROM old_messages o JOIN inbox_ticket_conversations tc ON tc.conversation_id = o.conversation_id));
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_linked ON inbox_ticket_conversations",
    """CREATE TRIGGER inbox_ticket_search_linked AFTER INSERT ON inbox_ticket_conversations
       REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION inbox_ticket_search_linked()""",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_unlinked ON inbox_ticket_conversations",
    """CREATE TRIGGER inbox_ticket_search_unlinked AFTER DELETE ON inbox_ticket_conversations
       REFERENCING OLD TABLE AS old_links FOR EACH STATEMENT EXECUTE FUNCTION inbox_ticket_search_unlinked()""",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_messages_added ON agents_message",
    """CREATE TRIGGER inbox_ticket_search_messages_added AFTER INSERT ON agents_message
       REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT
       EXECUTE FUNCTION inbox_ticket_search_messages_added()""",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_messages_changed ON agents_message",
    """CREATE TRIGGER inbox_ticket_search_messages_changed AFTER UPDATE ON agents_message
       REFERENCING OLD TABLE AS old_messages NEW TABLE AS new_messages FOR EACH STATEMENT
       EXECUTE FUNCTION inbox_ticket_search_messages_changed()""",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_messages_deleted ON agents_message",
    """CREATE TRIGGER inbox_ticket_search_messages_deleted AFTER DELETE ON agents_message
       REFERENCING OLD TABLE AS old_messages FOR EACH STATEMENT
       EXECUTE FUNCTION inbox_ticket_search_messages_deleted()""",
]
PG_BACKFILL = f"""
    INSERT INTO inbox_ticket_search (ticket_id, workspace_id, document)
    SELECT tc.ticket_id, t.workspace_id, coalesce({TICKET_TEXT}, ''::tsvector)
      FROM inbox_ticket_conversations tc JOIN inbox_ticket t ON t.id = tc.ticket_id
      LEFT JOIN agents_message m ON m.conversation_id = tc.conversation_id
     WHERE tc.ticket_id >= %s AND tc.ticket_id < %s
     GROUP BY tc.ticket_id, t.workspace_id
    ON CONFLICT (ticket_id) DO NOTHING"""  # nosec B608 — only this module's constants are formatted in
PG_INDEX = "CREATE INDEX IF NOT EXISTS inbox_ticket_search_gin ON inbox_ticket_search USING gin (document)"
PG_DROP = [
    "DROP TRIGGER IF EXISTS inbox_ticket_search_linked ON inbox_ticket_conversations",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_unlinked ON inbox_ticket_conversations",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_messages_added ON agents_message",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_messages_changed ON agents_message",
    "DROP TRIGGER IF EXISTS inbox_ticket_search_messages_deleted ON agents_message",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_linked()",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_unlinked()",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_messages_added()",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_messages_changed()",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_messages_deleted()",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_rebuild(bigint[])",
    "DROP FUNCTION IF EXISTS inbox_ticket_search_lock(bigint[])",
    "DROP INDEX IF EXISTS inbox_ticket_search_gin",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in PG_CREATE:
        schema_editor.execute(statement)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT min(ticket_id), max(ticket_id) FROM inbox_ticket_conversations")
        low, high = cursor.fetchone()
        if low is not None:
            for start in range(low, high + 1, BACKFILL_BATCH):
                cursor.execute(PG_BACKFILL, [start, start + BACKFILL_BATCH])
    schema_editor.execute(PG_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in PG_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0011_turn_shadow_decision"),
        ("inbox", "0012_ticket_first_reply_warned"),
    ]

    operations = [
        migrations.CreateModel(
            name="TicketSearch",
            fields=[
                (
                    "ticket",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="inbox.ticket",
                    ),
                ),
                ("workspace_id", models.BigIntegerField()),
                ("document", django.contrib.postgres.search.SearchVectorField()),
            ],
            options={
                "db_table": "inbox_ticket_search",
                "indexes": [models.Index(fields=["workspace_id", "-ticket"], name="inbox_ticket_search_recent")],
            },
        ),
        migrations.RunPython(create, drop),
    ]
