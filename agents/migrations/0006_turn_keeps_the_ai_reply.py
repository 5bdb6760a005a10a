"""An AI turn keeps the AI's own reply, as escalation judged it: the customer's message may differ (a held-back
handoff offers a teammate instead of promising one), and a replay judges the reply. Existing turns get their
message's text, which was the reply until now."""

from typing import Any

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps: Any, schema_editor: Any) -> None:
    AgentTurn = apps.get_model("agents", "AgentTurn")
    Message = apps.get_model("agents", "Message")
    AgentTurn.objects.filter(message__isnull=False).update(
        reply=Subquery(Message.objects.filter(pk=OuterRef("message_id")).values("body")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0005_human_only_topics_by_category"),
    ]

    operations = [
        migrations.AddField(
            model_name="agentturn",
            name="reply",
            field=models.TextField(
                blank=True,
                default="",
                help_text="The AI's own reply, as escalation judged it; the message is what the customer read "
                "with the decision (a held-back handoff offers a teammate instead of promising one).",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
