"""Reads on tenancy and people, always scoped to one workspace."""

from typing import Any

from django.db.models import QuerySet

from halo.models import Contact, Membership, Workspace


def contact_list(*, workspace: Workspace) -> QuerySet[Contact]:
    return Contact.objects.filter(workspace=workspace).select_related("company")


def contact_get(*, workspace: Workspace, user_id: str) -> Contact | None:
    return contact_list(workspace=workspace).filter(user_id=user_id).first()


def workspace_ids_administered(*, user: Any) -> set[int]:
    """Ids of the workspaces ``user`` is an admin of (empty for anonymous or inactive users)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    return set(Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values_list("workspace_id", flat=True))


def workspaces_of_user(*, user: Any) -> QuerySet[Workspace]:
    """The workspaces ``user`` is a member of, in any role."""
    if not getattr(user, "is_authenticated", False):
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)
