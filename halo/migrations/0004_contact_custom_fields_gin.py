"""A GIN (jsonb_path_ops) index on contacts' custom fields, on PostgreSQL only.

Segment rules compile equality on a custom field's number or boolean to ``custom_fields @> '{"k": v}'``
on PostgreSQL, which this index serves. SQLite has no GIN index, so the operation does nothing there
(a ``GinIndex`` in ``Meta.indexes`` would emit ``USING gin`` on SQLite too).
"""

from django.db import migrations

INDEX = "contact_custom_fields_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON halo_contact USING gin (custom_fields jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("halo", "0003_segment_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
