# EscalationEvent moved to the inbox app (inbox 0005 adopts the table): drop it from this app's state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0002_filters_are_segment_rules"),
        ("inbox", "0005_escalationevent_from_escalation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="EscalationEvent")],
            database_operations=[],
        ),
    ]
