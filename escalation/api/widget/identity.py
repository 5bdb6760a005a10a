"""Who calls the widget: an identified user whose ``user_hash`` verifies, or an anonymous visitor."""

from typing import Any

from escalation.api.widget.params import visitor_id_param
from escalation.error_codes import WidgetErrorCode
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.identity import ContactIdentity, user_hash_valid
from halo.models import Workspace

USER_ID_MAX_CHARS = 255


def widget_identity(*, workspace: Workspace, data: dict[str, Any]) -> ContactIdentity:
    """A verified caller from request values: identified (valid hash; 401 otherwise) or anonymous."""
    user_id = (data.get("user_id") or "").strip() or None
    if user_id is not None and (len(user_id) > USER_ID_MAX_CHARS or "\x00" in user_id):
        raise ApiError(ErrorCode.INVALID, f"user_id: at most {USER_ID_MAX_CHARS} characters.", status=400)
    if user_id is not None:
        if not user_hash_valid(workspace=workspace, user_id=user_id, user_hash=data.get("user_hash") or ""):
            raise ApiError(WidgetErrorCode.INVALID_USER_HASH, "The user_hash does not match the user_id.", status=401)
        return ContactIdentity(user_id=user_id, email=data.get("email") or None, name=data.get("name") or None)
    return ContactIdentity(visitor_id=visitor_id_param(data.get("visitor_id")))
