# The adopted table takes the inbox app's name; pending AI-summary jobs follow the task to the inbox app.

from django.db import migrations

OLD_SUMMARY_TASK = "escalation.tasks.ticket_summarize"
NEW_SUMMARY_TASK = "inbox.tasks.ticket_summarize"


def _summary_task_renamed(apps, schema_editor):  # type: ignore[no-untyped-def]
    OutboxMessage = apps.get_model("halo", "OutboxMessage")
    OutboxMessage.objects.filter(task=OLD_SUMMARY_TASK).update(task=NEW_SUMMARY_TASK)


def _summary_task_restored(apps, schema_editor):  # type: ignore[no-untyped-def]
    OutboxMessage = apps.get_model("halo", "OutboxMessage")
    OutboxMessage.objects.filter(task=NEW_SUMMARY_TASK).update(task=OLD_SUMMARY_TASK)


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0003_escalationevent_to_inbox"),
        ("inbox", "0005_escalationevent_from_escalation"),
    ]

    operations = [
        migrations.AlterModelTable(name="escalationevent", table=None),
        migrations.RunPython(_summary_task_renamed, _summary_task_restored),
    ]
