"""Input and output shapes of the segments API (shapes only: validation of rules lives in the rule field)."""

from typing import Any

from rest_framework import serializers

from segments.fields import RULE_HELP_TEXT, SegmentRuleSerializerField
from segments.models import Segment


class SegmentPreviewInputSerializer(serializers.Serializer[Any]):
    rule = serializers.CharField(max_length=8192, allow_blank=True, trim_whitespace=False, help_text=RULE_HELP_TEXT)


class SegmentSampleContactSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    user_id = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class SegmentPreviewSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="How many of the workspace's contacts match the rule now.")
    sample = SegmentSampleContactSerializer(
        many=True, help_text="Up to 5 matching contacts, most recently active first."
    )
    rule = serializers.CharField(help_text="The rule in canonical form.")


class RulePositionSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="1-based line.")
    column = serializers.IntegerField(help_text="1-based column.")
    offset = serializers.IntegerField(help_text="0-based character offset.")


class RuleErrorSerializer(serializers.Serializer[Any]):
    """A rule that does not parse or check (`invalid_rule`), or a malformed request (`invalid`)."""

    code = serializers.CharField(help_text="`invalid_rule`, or `invalid` for a malformed request.")
    message = serializers.CharField()
    error = serializers.CharField(required=False, help_text="The rule error's own code, e.g. `unknown_field`.")
    position = RulePositionSerializer(required=False)
    hint = serializers.CharField(required=False, help_text="What to do about it, e.g. `did you mean company.plan?`")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # `fields` (for `invalid`) cannot be a class attribute of a serializer.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.JSONField(), required=False, help_text="For `invalid`: field name → messages."
        )
        return fields


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    rule = SegmentRuleSerializerField(allow_blank=False)

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rule", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's job (it knows the workspace).
        validators: list[Any] = []


class SegmentInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    rule = serializers.CharField(max_length=8192, trim_whitespace=False, help_text=RULE_HELP_TEXT)


class SegmentPatchSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    rule = serializers.CharField(max_length=8192, trim_whitespace=False, required=False, help_text=RULE_HELP_TEXT)
