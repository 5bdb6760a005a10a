"""Tickets count their re-openings and the turns held back before they opened; the verdict "AI could have
answered" is stored as ``ai_could_have_answered`` (the public value) instead of ``ai_could_answer``."""

from django.db import migrations, models


OLD, NEW = "ai_could_answer", "ai_could_have_answered"


def verdict_forward(apps, schema_editor):
    apps.get_model("inbox", "Ticket").objects.filter(verdict=OLD).update(verdict=NEW)


def verdict_backward(apps, schema_editor):
    apps.get_model("inbox", "Ticket").objects.filter(verdict=NEW).update(verdict=OLD)


class Migration(migrations.Migration):

    dependencies = [
        ('inbox', '0009_team_assignment'),
    ]

    operations = [
        migrations.AddField(
            model_name='ticket',
            name='held_back_turns',
            field=models.PositiveIntegerField(default=0, db_default=0),
        ),
        migrations.AddField(
            model_name='ticket',
            name='reopened_count',
            field=models.PositiveIntegerField(default=0, db_default=0),
        ),
        migrations.AlterField(
            model_name='ticket',
            name='verdict',
            field=models.CharField(blank=True, choices=[('ai_could_have_answered', 'AI could have answered'), ('right_to_escalate', 'Right to escalate')], default='', max_length=32),
        ),
        migrations.RunPython(verdict_forward, verdict_backward),
    ]
