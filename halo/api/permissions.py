"""Permissions of the server API."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from halo.api.authentication import WorkspaceClient


class IsWorkspace(BasePermission):
    """The request carries a valid workspace API key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, WorkspaceClient)
