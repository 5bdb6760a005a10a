"""The ids a widget request carries besides the ``app_id`` (``halo.selectors.workspace_by_app_id``): an
anonymous ``visitor_id`` and an ``agent`` id (message ids use ``halo.params.after_id_param``). Anything
malformed finds nothing."""

import re
import secrets
from typing import Any

from halo.params import parse_id

VISITOR_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


def visitor_id_param(raw: Any) -> str | None:
    """A well-formed ``visitor_id``, or None (a malformed one is ignored: the visitor gets a new one)."""
    return raw if isinstance(raw, str) and VISITOR_ID_PATTERN.fullmatch(raw) else None


def new_visitor_id() -> str:
    return secrets.token_urlsafe(18)


def agent_id_param(raw: Any) -> int | None:
    """``agent``: a positive id, as a JSON integer or ASCII digits (the query string); None otherwise."""
    return parse_id(raw)
