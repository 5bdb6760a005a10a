"""Who calls the widget: an identified user whose ``user_jwt`` or ``user_hash`` verifies, or an anonymous
visitor (``halo.identity`` says what each proves)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from escalation.api.widget.params import visitor_id_param
from escalation.error_codes import WidgetErrorCode
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.identity import ContactIdentity, InvalidUserJwt, user_hash_valid, user_jwt_claims
from halo.models import Workspace, validate_custom_fields
from halo.text import has_lone_surrogate

USER_ID_MAX_CHARS = 255
NAME_MAX_CHARS = 255
EMAIL_MAX_CHARS = 254
USER_JWT_MAX_CHARS = 8192


def _user_id(raw: Any, *, source: str) -> str | None:
    user_id = (raw.strip() if isinstance(raw, str) else "") or None
    if user_id is not None and (len(user_id) > USER_ID_MAX_CHARS or "\x00" in user_id or has_lone_surrogate(user_id)):
        raise ApiError(ErrorCode.INVALID, f"{source}: at most {USER_ID_MAX_CHARS} characters of text.", status=400)
    return user_id


def _claims_identity(claims: dict[str, Any]) -> ContactIdentity:
    """The identity a verified token's claims describe; a malformed claim is a 400 ``invalid_user_jwt``."""

    def refuse(message: str) -> ApiError:
        return ApiError(WidgetErrorCode.INVALID_USER_JWT, message, status=400)

    if has_lone_surrogate(claims):
        raise refuse("The user_jwt's claims contain a lone surrogate.")
    user_id = _user_id(claims.get("user_id"), source="user_jwt user_id")
    if user_id is None:
        raise refuse("The user_jwt's user_id claim must be non-empty text.")
    email = claims.get("email") or None
    if email is not None:
        try:
            if not isinstance(email, str) or len(email) > EMAIL_MAX_CHARS:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            raise refuse("The user_jwt's email claim is not an email address.") from None
    name = claims.get("name") or None
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX_CHARS or "\x00" in name):
        raise refuse(f"The user_jwt's name claim must be text of at most {NAME_MAX_CHARS} characters.")
    traits = claims.get("traits") or {}
    try:
        validate_custom_fields(traits)
    except ValidationError as error:
        raise refuse(f"The user_jwt's traits claim: {' '.join(error.messages)}") from None
    return ContactIdentity(
        user_id=user_id,
        email=email.strip().lower() if email else None,
        name=name.strip() or None if name else None,
        traits=dict(traits),
    )


def widget_identity(*, workspace: Workspace, data: dict[str, Any]) -> ContactIdentity:
    """A verified caller from request values.

    - ``user_jwt``: verified (401 ``invalid_user_jwt`` if not; a ``user_id`` sent beside it must be the
      token's); the identity carries the token's email, name and traits.
    - ``user_id`` + ``user_hash``: verified (401 ``invalid_user_hash``); the identity is the ``user_id``
      alone: an ``email`` or ``name`` sent beside an unsigned identity is ignored.
    - otherwise an anonymous visitor (``visitor_id``).
    """
    user_id = _user_id(data.get("user_id"), source="user_id")
    token = data.get("user_jwt") or None
    if token is not None:
        if not isinstance(token, str) or len(token) > USER_JWT_MAX_CHARS:
            raise ApiError(WidgetErrorCode.INVALID_USER_JWT, "The user_jwt is not a token.", status=401)
        try:
            claims = user_jwt_claims(workspace=workspace, token=token)
        except InvalidUserJwt as error:
            raise ApiError(WidgetErrorCode.INVALID_USER_JWT, str(error), status=401) from None
        identity = _claims_identity(claims)
        if user_id is not None and user_id != identity.user_id:
            raise ApiError(
                WidgetErrorCode.INVALID_USER_JWT, "The user_id is not the one the user_jwt names.", status=401
            )
        return identity
    if user_id is not None:
        if not user_hash_valid(workspace=workspace, user_id=user_id, user_hash=data.get("user_hash") or ""):
            raise ApiError(WidgetErrorCode.INVALID_USER_HASH, "The user_hash does not match the user_id.", status=401)
        return ContactIdentity(user_id=user_id)
    return ContactIdentity(visitor_id=visitor_id_param(data.get("visitor_id")))
