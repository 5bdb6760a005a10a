"""Error codes of the inbox's socket frames (its HTTP API uses ``halo.api.error_codes``)."""

from enum import StrEnum


class InboxErrorCode(StrEnum):
    INVALID_FRAME = "invalid_frame"
