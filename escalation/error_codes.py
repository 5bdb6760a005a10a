"""Error codes of the escalation app's APIs (the widget API and the escalation server API)."""

from enum import StrEnum


class WidgetErrorCode(StrEnum):
    UNKNOWN_APP = "unknown_app"
    NO_AGENT = "no_agent"
    UNKNOWN_AGENT = "unknown_agent"
    TOKEN_REQUIRED = "token_required"  # noqa: S105 (an error code, not a password)
    INVALID_USER_HASH = "invalid_user_hash"
    MESSAGE_TOO_LONG = "message_too_long"
    HANDOFF_UNAVAILABLE = "handoff_unavailable"
    NOTHING_TO_RATE = "nothing_to_rate"
    ALREADY_RATED = "already_rated"


class EscalationErrorCode(StrEnum):
    CONVERSATION_HANDED_OFF = "conversation_handed_off"
