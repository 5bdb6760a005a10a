# EscalationEvent is the ticket's history, so it belongs to the inbox app (its only writer). This migration
# adopts the existing table in the migration state; 0006 renames it. No data moves.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0003_conversation_hand_back_and_teammate_times"),
        ("escalation", "0002_filters_are_segment_rules"),
        ("halo", "0004_contact_custom_fields_gin"),
        ("inbox", "0004_ticket_workspace_newest"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EscalationEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("reason", models.CharField(max_length=32)),
                        ("confidence", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("mode", models.CharField(max_length=16)),
                        ("priority_matched", models.BooleanField(default=False)),
                        (
                            "outcome",
                            models.CharField(
                                choices=[("created", "Created a ticket"), ("merged", "Merged into the open ticket")],
                                max_length=16,
                            ),
                        ),
                        ("settings_version", models.PositiveIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "conversation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="escalation_events",
                                to="agents.conversation",
                            ),
                        ),
                        (
                            "ticket",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="escalation_events",
                                to="inbox.ticket",
                            ),
                        ),
                        (
                            "turn",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="escalation_events",
                                to="agents.agentturn",
                            ),
                        ),
                        (
                            "workspace",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="escalation_events",
                                to="halo.workspace",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "escalation_escalationevent",
                        "ordering": ["-id"],
                        "indexes": [models.Index(fields=["workspace", "-created_at"], name="escalationevent_recent")],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("outcome__in", ["created", "merged"])), name="escalationevent_outcome"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
