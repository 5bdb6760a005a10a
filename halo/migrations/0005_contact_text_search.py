"""GIN indexes for finding contacts and companies by name and email words (the inbox's search), PostgreSQL
only; SQLite scans with ``LIKE`` (the embedded default's scale).

The indexed expressions must stay equal, character for character, to ``halo.selectors.CONTACT_DOCUMENT`` and
``COMPANY_DOCUMENT``, or PostgreSQL will not use them (a test reads the query plan).
"""

from django.db import migrations

CONTACT_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || translate(coalesce(email, ''), '@.+_-', '     '))"
)
COMPANY_DOCUMENT = "to_tsvector('simple'::regconfig, coalesce(name, ''))"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS contact_text_search ON halo_contact USING gin (({CONTACT_DOCUMENT}))")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS company_text_search ON halo_company USING gin (({COMPANY_DOCUMENT}))")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS contact_text_search")
        schema_editor.execute("DROP INDEX IF EXISTS company_text_search")


class Migration(migrations.Migration):
    dependencies = [("halo", "0004_contact_custom_fields_gin")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
