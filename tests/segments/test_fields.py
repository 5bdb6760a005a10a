"""The rule field in its three forms refuses invalid rules with their position, and allows blank."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

from segments.fields import SegmentRuleField, SegmentRuleFormField, SegmentRuleSerializerField
from segments.models import Segment
from tests.halo.factories import WorkspaceFactory


def test_form_field_refuses_a_bad_rule_with_line_column_and_hint() -> None:
    field = SegmentRuleFormField()
    with pytest.raises(ValidationError) as raised:
        field.clean("company.plan = enterprise OR user.custom_fields.is_vip == true")
    assert raised.value.messages == ["line 1, column 56: `==` is not an operator (use `=` to compare)"]
    assert raised.value.error_list[0].code == "unexpected_character"


def test_form_field_accepts_a_valid_rule_and_blank() -> None:
    field = SegmentRuleFormField()
    assert field.clean("company.plan = enterprise") == "company.plan = enterprise"
    assert field.clean("") == ""


def test_model_field_validates_on_clean_and_allows_blank_when_asked() -> None:
    optional = SegmentRuleField(blank=True)
    assert optional.clean("", None) == ""
    with pytest.raises(ValidationError) as raised:
        optional.clean("user.plan > 5", None)
    assert "does not apply to `user.plan`" in raised.value.messages[0]
    with pytest.raises(ValidationError):
        SegmentRuleField().clean("", None)
    assert isinstance(optional.formfield(), SegmentRuleFormField)


@pytest.mark.django_db
def test_saved_segments_need_a_valid_rule() -> None:
    workspace = WorkspaceFactory()
    with pytest.raises(ValidationError) as raised:
        Segment(workspace=workspace, name="x", rule="").full_clean()
    assert "rule" in raised.value.message_dict
    with pytest.raises(ValidationError):
        Segment(workspace=workspace, name="x", rule="company.plann = x").full_clean()


def test_serializer_field_refuses_a_bad_rule_and_allows_blank() -> None:
    class Settings(serializers.Serializer[object]):
        escalation_filter = SegmentRuleSerializerField()

    ok = Settings(data={"escalation_filter": ""})
    assert ok.is_valid(), ok.errors
    bad = Settings(data={"escalation_filter": "stripe.mrr > lots"})
    assert not bad.is_valid()
    assert bad.errors["escalation_filter"] == [
        "line 1, column 14: `stripe.mrr` > expects a number such as 100 or 49.90"
    ]


def test_a_model_form_uses_the_rule_form_field() -> None:
    class SegmentForm(forms.ModelForm):  # type: ignore[type-arg]
        class Meta:
            model = Segment
            fields = ["rule"]

    form = SegmentForm(data={"rule": "user.plan contain pro"})
    assert not form.is_valid()
    assert form.errors["rule"] == [
        "line 1, column 11: expected an operator after `user.plan`, found `contain` (did you mean `contains`?)"
    ]
