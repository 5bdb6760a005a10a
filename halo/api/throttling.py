"""Rate limits of the server API, per workspace (shared by every web process through the cache)."""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from halo.api.authentication import WorkspaceClient


class WorkspaceRateThrottle(SimpleRateThrottle):
    scope = "workspace"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.user, WorkspaceClient):
            return self.cache_format % {"scope": self.scope, "ident": request.user.workspace.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
