"""Human-only topics become categories recognised in any phrasing (``agents.topics``).

Agents still on the first defaults (ten phrases such as "refund" and "legal", matched as words, which
handed "what's your refund policy?" to a human and missed "I was charged twice") get the new defaults: the
four built-in categories. A list an admin edited is kept as it is.
"""

from typing import Any

from django.db import migrations, models

import agents.models

FIRST_DEFAULTS = [
    "refund",
    "chargeback",
    "cancel my account",
    "delete my account",
    "close my account",
    "change the account owner",
    "legal",
    "lawyer",
    "gdpr request",
    "data deletion request",
]
CATEGORIES = ["account security", "billing dispute", "legal or privacy request", "outage or bug that persists"]


def _replace(apps: Any, old: list[str], new: list[str]) -> None:
    Agent = apps.get_model("agents", "Agent")
    for agent in Agent.objects.only("pk", "human_only_topics").iterator():
        if agent.human_only_topics == old:
            Agent.objects.filter(pk=agent.pk).update(human_only_topics=new)


def forwards(apps: Any, schema_editor: Any) -> None:
    _replace(apps, FIRST_DEFAULTS, CATEGORIES)


def backwards(apps: Any, schema_editor: Any) -> None:
    _replace(apps, CATEGORIES, FIRST_DEFAULTS)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0004_knowledge_passages"),
    ]

    operations = [
        migrations.AlterField(
            model_name="agent",
            name="human_only_topics",
            field=models.JSONField(
                blank=True,
                default=agents.models.default_human_only_topics,
                help_text=(
                    "Messages the built-in responder hands to a human at once (it calls the escalate tool), one "
                    "entry per line: a built-in category, recognised in any phrasing (account security, billing "
                    "dispute, legal or privacy request, outage or bug that persists), or any phrase, matched as "
                    "whole words."
                ),
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
