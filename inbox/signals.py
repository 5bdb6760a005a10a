"""Receivers that end a teammate's live inbox access when it is taken away outside this app.

Memberships are removed, and users deactivated, through the Django admin (or a cascade: a user or
workspace deleted); an open ``/ws/inbox/`` socket must not keep streaming the workspace's events after
that. The receivers only hand the user id to ``inbox.events.inbox_access_changed`` (sent after commit);
the socket re-checks and closes itself (``inbox.consumers``). Connected in ``InboxConfig.ready``.
"""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from halo.models import Membership
from inbox.events import inbox_access_changed


def membership_removed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    inbox_access_changed(user_id=instance.user_id)


def membership_changed(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    if not created:  # an edit may have moved it to another workspace
        inbox_access_changed(user_id=instance.user_id)


def user_saved(sender: Any, instance: Any, update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    if instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return  # not a deactivation (e.g. a login's last_login update)
    inbox_access_changed(user_id=instance.pk)


def connect() -> None:
    post_delete.connect(membership_removed, sender=Membership, dispatch_uid="inbox.membership_removed")
    post_save.connect(membership_changed, sender=Membership, dispatch_uid="inbox.membership_changed")
    post_save.connect(user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="inbox.user_saved")
