"""One error shape for every API: ``{"code": "...", "message": "...", ...}`` with a stable, machine-readable code.

Codes are enums, one per app (``halo.api.error_codes``, ``escalation.error_codes``, ...): an ``ApiError``
takes a member, never a string typed at the call site.

Validation errors add ``fields`` (field name → messages); domain errors may add keys of their own (a
segment rule error adds its ``position`` and ``hint``). Django's own ``ValidationError`` raised by a model
or service becomes a 400 too, so bad input never surfaces as a 500.
"""

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from halo.api.error_codes import ErrorCode


class ApiError(exceptions.APIException):
    """A domain error with its own code, e.g. ``ApiError(WidgetErrorCode.HANDOFF_UNAVAILABLE, "…", status=403)``."""

    def __init__(self, code: StrEnum, message: str, *, status: int = 400, **extra: Any) -> None:
        super().__init__(detail=message, code=code.value)
        self.status_code = status
        self.code = code.value
        self.extra = extra


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = {"code": exc.code, "message": str(exc.detail), **exc.extra}
    elif isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"code": ErrorCode.INVALID.value, "message": _first_message(fields), "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        response.data = {"code": code if isinstance(code, str) else exc.default_code, "message": str(exc.detail)}
        wait = getattr(exc, "wait", None)  # set by Throttled; absent from the type stubs
        if wait is not None:
            response.data["retry_after"] = int(wait)
    elif isinstance(exc, Http404):
        response.data = {"code": ErrorCode.NOT_FOUND.value, "message": "Not found."}
    return response


def _first_message(fields: Any) -> str:
    """The first human message in a (possibly nested) DRF error structure, prefixed by its field."""
    if isinstance(fields, dict):
        for name, value in fields.items():
            message = _first_message(value)
            return message if name == "non_field_errors" else f"{name}: {message}"
    if isinstance(fields, list) and fields:
        return _first_message(fields[0])
    return str(fields) or "Invalid input."


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"code": ErrorCode.NOT_FOUND.value, "message": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """What Django itself refuses before a view runs: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or too many
    fields) is a 413 ``too_large``; any other refusal a 400 ``bad_request``."""
    if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(
            {"code": ErrorCode.TOO_LARGE.value, "message": "The request body is too large.", "max_bytes": limit},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return JsonResponse(
        {"code": ErrorCode.BAD_REQUEST.value, "message": "The request could not be read."},
        status=status.HTTP_400_BAD_REQUEST,
    )


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"code": ErrorCode.SERVER_ERROR.value, "message": "Something went wrong on our side."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
