"""Writes of the escalation app: settings (validated, versioned) and the customer's handoff notice."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from escalation.models import EscalationSettings
from escalation.services import escalation_settings_update


def test_settings_refuse_a_filter_that_does_not_parse(escalation_settings) -> None:
    with pytest.raises(ValidationError) as error:
        escalation_settings_update(
            escalation_settings=escalation_settings, data={"priority_filter": "user.plann = pro"}
        )
    assert "priority_filter" in error.value.message_dict
    escalation_settings.refresh_from_db()
    assert (escalation_settings.priority_filter, escalation_settings.version) == ("", 1)


def test_database_refuses_out_of_range_settings(escalation_settings) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        EscalationSettings.objects.filter(pk=escalation_settings.pk).update(confidence_threshold=101)
    with pytest.raises(IntegrityError), transaction.atomic():
        EscalationSettings.objects.filter(pk=escalation_settings.pk).update(routing_type="inbox")
