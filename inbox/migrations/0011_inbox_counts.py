"""The sidebar's counts kept as cells (``InboxCount``), filled from the tickets as they are."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count


def count_tickets(apps, schema_editor):  # type: ignore[no-untyped-def]
    ticket_model = apps.get_model("inbox", "Ticket")
    count_model = apps.get_model("inbox", "InboxCount")
    rows = (
        ticket_model.objects.exclude(status="closed")
        .order_by()
        .values("workspace_id", "status", "assignee_id", "inbox_id")
        .annotate(n=Count("pk"))
    )
    count_model.objects.bulk_create(
        (
            count_model(
                workspace_id=row["workspace_id"],
                status=row["status"],
                assignee_key=row["assignee_id"] or 0,
                inbox_key=row["inbox_id"] or 0,
                n=row["n"],
            )
            for row in rows
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("halo", "0006_contact_unverified_email"),
        ("inbox", "0010_ticket_reopens_held_back_turns_verdict_value"),
    ]

    operations = [
        migrations.CreateModel(
            name="InboxCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(max_length=16)),
                ("assignee_key", models.BigIntegerField(default=0)),
                ("inbox_key", models.BigIntegerField(default=0)),
                ("n", models.BigIntegerField(default=0)),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="halo.workspace"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("workspace", "status", "assignee_key", "inbox_key"), name="inboxcount_cell"
                    )
                ],
            },
        ),
        migrations.RunPython(count_tickets, migrations.RunPython.noop),
    ]
