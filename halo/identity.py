"""Who a widget caller is: an identified user of the workspace, or an anonymous visitor (a random
``visitor_id`` the widget keeps).

The workspace's own server vouches for a signed-in user in one of two ways, both keyed by the workspace's
identity secret:

- ``user_hash``: hex HMAC-SHA256 of the ``user_id``. It signs the ``user_id`` only, so it proves who the
  user is and nothing else: an ``email`` or ``name`` sent beside it is ignored (a user could type anything
  there, e.g. a VIP's address that segment rules route on).
- ``user_jwt``: an HS256 JWT whose claims hold ``user_id`` and, optionally, ``email``, ``name`` and
  ``traits`` (custom fields); ``exp`` is honoured when present. The only way for a widget to set an
  identified user's email, name or traits; the server API stays the source of truth for everything else.

Only a caller whose hash or token verifies becomes that user; an unverified caller never sees an identified
user's history.
"""

import hmac
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import jwt

from halo.models import Workspace

USER_JWT_ALGORITHM = "HS256"
# How far a token's ``exp``/``iat`` may be off against Halo's clock (the workspace's servers drift too).
USER_JWT_LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class ContactIdentity:
    """A widget caller, already verified: an identified user (``user_id``) or an anonymous visitor.

    ``email``, ``name`` and ``traits`` are set only from a verified ``user_jwt``."""

    user_id: str | None = None
    visitor_id: str | None = None
    email: str | None = None
    name: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)


class InvalidUserJwt(ValueError):
    """A ``user_jwt`` that does not verify (signature, algorithm, expiry, claims); the message says which."""


def user_hash_expected(*, workspace: Workspace, user_id: str) -> str:
    """What the workspace's server computes: hex HMAC-SHA256 of ``user_id`` under the identity secret."""
    return hmac.new(workspace.identity_secret.encode(), user_id.encode(), sha256).hexdigest()


def user_hash_valid(*, workspace: Workspace, user_id: str, user_hash: str) -> bool:
    # Compared as bytes: ``compare_digest`` raises TypeError on a str with non-ASCII characters.
    expected = user_hash_expected(workspace=workspace, user_id=user_id).encode()
    return hmac.compare_digest(expected, user_hash.lower().encode("utf-8", "surrogatepass"))


def user_jwt_claims(*, workspace: Workspace, token: str) -> dict[str, Any]:
    """The claims of a ``user_jwt`` signed with HS256 under the workspace's identity secret, or
    ``InvalidUserJwt``. Only HS256 is accepted (never ``none``, never a public-key algorithm)."""
    try:
        claims = jwt.decode(
            token,
            workspace.identity_secret,
            algorithms=[USER_JWT_ALGORITHM],
            options={"require": ["user_id"]},
            leeway=USER_JWT_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidUserJwt("The user_jwt has expired.") from None
    except jwt.MissingRequiredClaimError:
        raise InvalidUserJwt("The user_jwt has no user_id claim.") from None
    except jwt.InvalidTokenError:
        raise InvalidUserJwt("The user_jwt is not signed with this workspace's identity secret (HS256).") from None
    if not isinstance(claims, dict):
        raise InvalidUserJwt("The user_jwt's claims are not an object.")
    return claims
