"""Handoff phrases are matched as whole words beside the built-in recognition of requests for a human
(``escalation.intent``), so the defaults keep only phrases that ask for a person wherever they appear.

Settings still on the first defaults get the new ones as a new version (changed via ``system``): "talk to
someone" handed off "how do I talk to someone privately?", "real person" "are you a real person?" and
"human agent" "how many human agents can we add?", while the recognition reads "can I talk to someone?" or
"a real person please" in context. Phrases an admin edited are kept as they are.
"""

from typing import Any

from django.db import migrations, models
from django.utils import timezone

import escalation.models

FIRST_DEFAULTS = [
    "talk to a human",
    "speak to a human",
    "speak to an agent",
    "talk to an agent",
    "talk to someone",
    "real person",
    "human agent",
    "customer service representative",
]
WHOLE_WORD_DEFAULTS = [
    "talk to a human",
    "speak to a human",
    "talk to an agent",
    "speak to an agent",
    "customer service representative",
]


def _replace(apps: Any, old: list[str], new: list[str]) -> None:
    EscalationSettings = apps.get_model("escalation", "EscalationSettings")
    EscalationSettingsVersion = apps.get_model("escalation", "EscalationSettingsVersion")
    now = timezone.now()
    for settings in EscalationSettings.objects.iterator():  # one row per agent; compared here, not in SQL JSON
        if settings.handoff_phrases != old:
            continue
        latest = EscalationSettingsVersion.objects.filter(escalation_settings=settings).order_by("-version").first()
        values = dict(latest.values) if latest is not None else {}
        values["handoff_phrases"] = new
        settings.handoff_phrases = new
        settings.version += 1
        settings.updated_at = now
        settings.save(update_fields=["handoff_phrases", "version", "updated_at"])
        EscalationSettingsVersion.objects.create(
            escalation_settings=settings,
            version=settings.version,
            changed_via="system",
            changed_at=now,
            changes={"handoff_phrases": [old, new]},
            values=values,
        )


def forwards(apps: Any, schema_editor: Any) -> None:
    _replace(apps, FIRST_DEFAULTS, WHOLE_WORD_DEFAULTS)


def backwards(apps: Any, schema_editor: Any) -> None:
    _replace(apps, WHOLE_WORD_DEFAULTS, FIRST_DEFAULTS)


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0003_escalationevent_to_inbox"),
    ]

    operations = [
        migrations.AlterField(
            model_name="escalationsettings",
            name="handoff_phrases",
            field=models.JSONField(
                blank=True,
                default=escalation.models.default_handoff_phrases,
                help_text=(
                    "A user message containing one of these, as whole words, asks for a human (case and spacing "
                    'ignored; not when negated, as in "I don\'t want to talk to a human"). Requests in other '
                    "words are recognised too."
                ),
                validators=[escalation.models.validate_phrases],
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
