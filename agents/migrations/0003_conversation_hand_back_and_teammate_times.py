"""Conversations keep when they were last handed back to the AI and when a teammate last wrote in them.

Existing rows are filled from what those times were read from until now: the newest close of one of the
conversation's tickets, and its newest teammate message.
"""

from typing import Any

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps: Any, schema_editor: Any) -> None:
    Conversation = apps.get_model("agents", "Conversation")
    Message = apps.get_model("agents", "Message")
    Ticket = apps.get_model("inbox", "Ticket")
    Conversation.objects.update(
        handed_back_at=Subquery(
            Ticket.objects.filter(conversations=OuterRef("pk"), closed_at__isnull=False)
            .order_by("-closed_at")
            .values("closed_at")[:1]
        ),
        teammate_replied_at=Subquery(
            Message.objects.filter(conversation=OuterRef("pk"), author="teammate")
            .order_by("-created_at")
            .values("created_at")[:1]
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_knowledge_search_indexes"),
        ("inbox", "0001_tickets_and_inboxes"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="handed_back_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="teammate_replied_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
