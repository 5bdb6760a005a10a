"""Error codes of the API plumbing shared by every app: the ``code`` of the JSON error shape."""

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    TOO_LARGE = "too_large"
    BAD_REQUEST = "bad_request"
    CONTACT_NOT_FOUND = "contact_not_found"
