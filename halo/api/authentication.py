"""Bearer workspace API keys for the server API (``Authorization: Bearer halo_<prefix>_<secret>``).

A wrong, revoked or malformed key gets the same 401 whether or not the workspace or prefix exists.
"""

import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from halo.models import ApiKey, Workspace


@dataclass(frozen=True)
class WorkspaceClient:
    """The caller of the server API: a workspace's own servers."""

    workspace: Workspace
    is_authenticated: bool = True


class WorkspaceKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[WorkspaceClient, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        api_key = api_key_authenticate(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        return WorkspaceClient(workspace=api_key.workspace), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def api_key_authenticate(key: str) -> ApiKey | None:
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "halo":
        return None
    api_key = ApiKey.objects.select_related("workspace").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, ApiKey.hash_secret(parts[2])):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=5):
        # Written at most every few minutes, so authentication is not a write on every request.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def request_workspace(request: Request) -> Workspace:
    """The workspace of an authenticated server-API request (the view's permission guarantees one)."""
    client = request.user
    if not isinstance(client, WorkspaceClient):
        raise exceptions.NotAuthenticated()
    return client.workspace
