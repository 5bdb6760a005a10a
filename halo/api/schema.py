"""OpenAPI pieces every app's API shares: the bearer-key security scheme and the documented error shape.

Views declare their error responses with ``error_responses(400, 401, 404, 429)`` so the schema lists the
same ``Error`` component that ``halo.api.errors`` renders.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class WorkspaceKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "halo.api.authentication.WorkspaceKeyAuthentication"
    name = "workspaceApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106
            bearer_format="halo_<prefix>_<secret>",
        )


class StrictSerializerScheme(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """Inputs that refuse unknown keys say so in the schema (``additionalProperties: false``)."""

    target_class = "halo.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error shape of every API (see ``halo.api.errors``)."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # Built here because a field called ``fields`` cannot be a class attribute of a serializer.
        return {
            "code": serializers.CharField(help_text="Stable, machine-readable code, e.g. `invalid`, `not_found`."),
            "message": serializers.CharField(help_text="A human-readable message."),
            "fields": serializers.DictField(
                child=serializers.JSONField(),
                required=False,
                help_text="For `invalid`: field name → list of messages (an object for a nested field).",
            ),
            "retry_after": serializers.IntegerField(required=False, help_text="For `throttled`: seconds to wait."),
        }


_DESCRIPTIONS = {
    400: "Invalid input (`invalid`, with `fields`) or a domain error.",
    401: "Missing, malformed, wrong or revoked API key (`not_authenticated`, `authentication_failed`).",
    403: "Not allowed.",
    404: "Not found in this workspace (`not_found`).",
    409: "Conflict with the current state.",
    429: "Rate limit reached (`throttled`, with `retry_after`).",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status]) for status in statuses}
