"""Reads on tenancy and people, always scoped to one workspace."""

from django.db.models import QuerySet

from halo.models import Contact, Workspace


def contact_list(*, workspace: Workspace) -> QuerySet[Contact]:
    return Contact.objects.filter(workspace=workspace).select_related("company")


def contact_get(*, workspace: Workspace, user_id: str) -> Contact | None:
    return contact_list(workspace=workspace).filter(user_id=user_id).first()
