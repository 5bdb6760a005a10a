"""Error codes of the segments API (a rule's own diagnostics are ``segments.lang.errors.Code``)."""

from enum import StrEnum


class SegmentErrorCode(StrEnum):
    INVALID_RULE = "invalid_rule"
