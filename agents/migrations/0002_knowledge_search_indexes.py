"""Full-text search structures that differ per database, created only where they apply.

PostgreSQL: a GIN index over ``search_vector`` (the tsvector the knowledge services keep current).
SQLite: a FTS5 table ``agents_knowledgearticle_fts`` (rowid = article id) that the same services keep
current; it is a separate table, so Django's table rebuilds on SQLite never drop it.
"""

from django.db import migrations

PG_INDEX = "agents_article_search_gin"
FTS_TABLE = "agents_knowledgearticle_fts"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON agents_knowledgearticle USING gin (search_vector)"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(title, body, tokenize='porter unicode61')"
        )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
