"""Input and output shapes of the contacts API (the public field names). Shapes and types only: the writes
and their rules live in ``halo.services``.

Inputs refuse unknown keys (a typo such as ``custom_field`` is a 400, not silently ignored). A field that
is absent is left unchanged; ``null`` or ``""`` clears it.
"""

from collections.abc import Mapping
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from halo.models import (
    CUSTOM_FIELD_TEXT_MAX_LENGTH,
    CUSTOM_FIELDS_MAX_COUNT,
    Company,
    Contact,
    validate_custom_fields,
)

MAX_EVENTS_PER_BATCH = 100
# Clocks drift: a time a few minutes in the future is accepted, one from tomorrow is a client bug.
CLOCK_SKEW = timedelta(minutes=5)


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses keys it does not know, naming each one."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """Text that must arrive as a JSON string (DRF's ``CharField`` would turn ``0`` into ``"0"``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` only (DRF's own field also takes 0/1 and "yes"/"no")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class WholeNumberField(serializers.IntegerField):
    """An integer that must arrive as a JSON integer (not ``"12"`` or ``12.5``)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ContactSummarySerializer(serializers.Serializer[Any]):
    """A contact as a ticket or a conversation names it."""

    id = serializers.IntegerField()
    user_id = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class AmountField(serializers.DecimalField):
    """A money amount that must arrive as a JSON number; kept to 2 decimal places (banker's rounding)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": CUSTOM_FIELDS_MAX_COUNT,
        "additionalProperties": {
            "nullable": True,
            "oneOf": [
                {"type": "string", "maxLength": CUSTOM_FIELD_TEXT_MAX_LENGTH},
                {"type": "number"},
                {"type": "boolean"},
            ],
        },
    }
)
class CustomFieldsField(serializers.JSONField):
    """A flat object of scalars (validated by ``halo.models.validate_custom_fields``)."""


def _text(max_length: int = 255, **kwargs: Any) -> TextField:
    return TextField(max_length=max_length, required=False, allow_null=True, allow_blank=True, **kwargs)


def _money(**kwargs: Any) -> AmountField:
    return AmountField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        max_value=Decimal("999999999999"),
        rounding=ROUND_HALF_EVEN,
        required=False,
        allow_null=True,
        coerce_to_string=False,
        **kwargs,
    )


def _custom_fields() -> CustomFieldsField:
    return CustomFieldsField(
        required=False,
        allow_null=True,
        validators=[validate_custom_fields],
        help_text=(
            "Flat object of text, number or boolean values under keys matching `[A-Za-z_][A-Za-z0-9_]*` "
            "(at most 100 keys, 64-character names, 1,000-character texts). Merged into the stored fields; "
            'a key sent as `null` or `""` is removed.'
        ),
    )


def _not_in_the_future(value: Any) -> Any:
    if value is not None and value > timezone.now() + CLOCK_SKEW:
        raise serializers.ValidationError("This time is in the future.")
    return value


class CompanyInputSerializer(StrictSerializer):
    """A company, found or created by `company_id`; the other fields are set when present."""

    company_id = TextField(max_length=255, help_text="Your own id for the company.")
    name = _text()
    plan = _text()
    employee_count = WholeNumberField(min_value=0, max_value=2_147_483_647, required=False, allow_null=True)
    mrr = _money(help_text="Monthly recurring revenue.")
    industry = _text()
    custom_fields = _custom_fields()


class StripeInputSerializer(StrictSerializer):
    """The user's Stripe data."""

    subscription_status = _text(max_length=64, help_text="e.g. `active`, `trialing`, `past_due`, `canceled`.")
    mrr = _money()
    lifetime_value = _money()


class ContactInputSerializer(StrictSerializer):
    """Traits of a contact; absent fields are unchanged, `null` or `""` clears a field."""

    email = serializers.EmailField(max_length=254, required=False, allow_null=True, allow_blank=True)
    name = _text()
    role = _text()
    plan = _text()
    custom_fields = _custom_fields()
    last_active_at = serializers.DateTimeField(required=False, allow_null=True, validators=[_not_in_the_future])
    company = CompanyInputSerializer(
        required=False, allow_null=True, help_text="Upserted by `company_id` and linked; `null` unlinks."
    )
    stripe = StripeInputSerializer(required=False, allow_null=True)


class CompanySerializer(serializers.ModelSerializer[Company]):
    """A company as the API shows it."""

    mrr = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True)

    class Meta:
        model = Company
        fields = ["company_id", "name", "plan", "employee_count", "mrr", "industry", "custom_fields"]
        read_only_fields = fields


class StripeSerializer(serializers.Serializer[Any]):
    """The user's Stripe data."""

    subscription_status = serializers.CharField(allow_null=True)
    mrr = serializers.DecimalField(
        source="stripe_mrr", max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    lifetime_value = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True)


class ContactSerializer(serializers.ModelSerializer[Contact]):
    """A contact as the API shows it."""

    company = CompanySerializer(allow_null=True, read_only=True)
    stripe = StripeSerializer(source="*", read_only=True)

    class Meta:
        model = Contact
        fields = [
            "user_id",
            "email",
            "name",
            "role",
            "plan",
            "custom_fields",
            "last_active_at",
            "created_at",
            "company",
            "stripe",
        ]
        read_only_fields = fields


class EventInputSerializer(StrictSerializer):
    """One activity event."""

    type = serializers.ChoiceField(choices=["page_view"])
    url = TextField(max_length=2048, help_text="The page's URL or path.")
    occurred_at = serializers.DateTimeField(
        required=False, validators=[_not_in_the_future], help_text="When it happened; defaults to now."
    )


class EventBatchInputSerializer(StrictSerializer):
    """Up to 100 events, recorded all or nothing."""

    events = EventInputSerializer(many=True, allow_empty=False, min_length=1, max_length=MAX_EVENTS_PER_BATCH)  # type: ignore[call-arg]


class EventsRecordedSerializer(serializers.Serializer[Any]):
    """What an events request recorded."""

    recorded = serializers.IntegerField(help_text="How many events were recorded.")
    last_active_at = serializers.DateTimeField(allow_null=True)


class WeeklyPeriodSerializer(serializers.Serializer[Any]):
    day = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday … 6 = Sunday.")
    open = serializers.CharField(help_text='Local time "HH:MM".')
    close = serializers.CharField(help_text='Local time "HH:MM", after `open` ("24:00" is midnight).')


class BusinessHoursSerializer(serializers.Serializer[Any]):
    """A workspace's business hours: in the input, fields left out keep their values."""

    timezone = serializers.CharField(help_text="IANA time zone of the hours, e.g. Europe/Berlin.")
    weekly = WeeklyPeriodSerializer(many=True, help_text="Opening periods; periods of one day may not overlap.")
    holidays_country = serializers.CharField(
        allow_null=True, help_text="ISO country code whose public holidays are closed (e.g. DE), or null."
    )
    holidays = serializers.ListField(child=serializers.DateField(), help_text="Other closed dates.")
    first_reply_target_minutes = serializers.IntegerField(
        min_value=1, help_text="First-reply target of a ticket, in business minutes."
    )
    priority_first_reply_target_minutes = serializers.IntegerField(
        min_value=1, help_text="The same for a priority ticket."
    )


class BusinessHoursInputSerializer(StrictSerializer):
    """``PUT business-hours``: every field may be left out (it keeps its value); ``halo.services`` checks them."""

    timezone = serializers.CharField(required=False, help_text="IANA time zone of the hours, e.g. Europe/Berlin.")
    weekly = WeeklyPeriodSerializer(many=True, required=False, help_text="Opening periods; a day's may not overlap.")
    holidays_country = serializers.CharField(
        required=False, allow_null=True, help_text="ISO country code whose public holidays are closed, or null."
    )
    holidays = serializers.ListField(child=serializers.DateField(), required=False, help_text="Other closed dates.")
    first_reply_target_minutes = serializers.IntegerField(required=False, min_value=1, max_value=43200)
    priority_first_reply_target_minutes = serializers.IntegerField(required=False, min_value=1, max_value=43200)
