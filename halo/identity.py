"""Who a widget caller is: an identified user of the workspace (verified by ``user_hash``) or an anonymous
visitor (a random ``visitor_id`` the widget keeps).

``user_hash`` is what the workspace's own server computes for a signed-in user: hex HMAC-SHA256 of the
``user_id`` under the workspace's identity secret. Only a caller whose hash verifies becomes that user; an
unverified caller never sees an identified user's history.
"""

import hmac
from dataclasses import dataclass
from hashlib import sha256

from halo.models import Workspace


@dataclass(frozen=True)
class ContactIdentity:
    """A widget caller, already verified: an identified user (``user_id``) or an anonymous visitor."""

    user_id: str | None = None
    visitor_id: str | None = None
    email: str | None = None
    name: str | None = None


def user_hash_expected(*, workspace: Workspace, user_id: str) -> str:
    """What the workspace's server computes: hex HMAC-SHA256 of ``user_id`` under the identity secret."""
    return hmac.new(workspace.identity_secret.encode(), user_id.encode(), sha256).hexdigest()


def user_hash_valid(*, workspace: Workspace, user_id: str, user_hash: str) -> bool:
    # Compared as bytes: ``compare_digest`` raises TypeError on a str with non-ASCII characters.
    expected = user_hash_expected(workspace=workspace, user_id=user_id).encode()
    return hmac.compare_digest(expected, user_hash.lower().encode("utf-8", "surrogatepass"))
