"""The rule field, in its three forms: model field, form field and DRF serializer field.

Each validates a segment rule when it is saved (``segments.rules.rule_validate``): a rule that does not
parse, names an unknown field, or compares a field with the wrong operator or value is refused with its
line, column and a hint. A blank value is allowed wherever the field allows blank (``blank=True`` on the
model field; the form and serializer fields accept blank by default) — what blank means is up to the
model that stores the rule.
"""

from typing import Any

from django import forms
from django.db import models
from rest_framework import serializers

from segments.lang import MAX_RULE_BYTES
from segments.rules import rule_validate

RULE_HELP_TEXT = (
    "A segment rule, e.g. company.plan = enterprise OR user.custom_fields.is_vip = true. "
    "Operators: = != < <= > >= contains, starts with, ends with (and their not forms), in (…), not in (…), "
    "is unknown, has any value, more than / less than / exactly N days ago."
)


class SegmentRuleFormField(forms.CharField):
    default_validators = [rule_validate]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "cols": 80, "spellcheck": "false"}))
        kwargs.setdefault("max_length", MAX_RULE_BYTES)
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", RULE_HELP_TEXT)
        super().__init__(**kwargs)


class SegmentRuleField(models.TextField):  # type: ignore[type-arg]
    """A text column holding a segment rule; validated by ``full_clean`` and model forms."""

    default_validators = [rule_validate]
    description = "Segment rule"

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        kwargs.setdefault("required", not self.blank)
        if self.help_text:
            kwargs.setdefault("help_text", self.help_text)
        return super().formfield(form_class=form_class or SegmentRuleFormField, **kwargs)


class SegmentRuleSerializerField(serializers.CharField):
    """A rule in the API: blank allowed, invalid rules refused with a 400 that says where and why."""

    default_validators = [rule_validate]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", MAX_RULE_BYTES)
        kwargs.setdefault("help_text", RULE_HELP_TEXT)
        super().__init__(**kwargs)
