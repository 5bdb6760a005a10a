"""Receivers for changes made outside this app: a teammate's live inbox access taken away, and the deletes
that change tickets without ``inbox.services`` (a cascade or ``SET_NULL``), which keep the sidebar's counts
(``InboxCount``) true through ``counts_*_deleting``.

Live access:

Memberships are removed, and users deactivated, through the Django admin (or a cascade: a user or
workspace deleted); a password is changed through the admin or the password change page, which makes the
user's other sessions stop logging them in (their session auth hash is outdated); a session ends at
logout. An open ``/ws/inbox/`` socket must not keep streaming the workspace's events after any of that.
The receivers only hand the user id (and, at logout, the ending session) to
``inbox.events.inbox_access_changed`` (sent after commit); the socket re-checks and closes itself
(``inbox.consumers``). Connected in ``InboxConfig.ready``.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.http import HttpRequest

from halo.models import Contact, Membership
from inbox.events import inbox_access_changed
from inbox.models import CustomInbox
from inbox.services import counts_assignee_deleting, counts_contact_deleting, counts_inbox_deleting

# Set on a user being saved by ``user_saving`` when the save changes the password hash (and so the session
# auth hash of every session); read after the save.
_AUTH_HASH_CHANGED = "_inbox_session_auth_hash_changed"


def membership_removed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    inbox_access_changed(user_id=instance.user_id)


def membership_changed(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    if not created:  # an edit may have moved it to another workspace
        inbox_access_changed(user_id=instance.user_id)


def user_saving(sender: Any, instance: Any, update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    # One query, only for a save that may write the password (not a login's ``last_login`` update).
    if instance._state.adding or (update_fields is not None and "password" not in update_fields):
        return
    saved = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance.__dict__[_AUTH_HASH_CHANGED] = saved is not None and saved != instance.password


def user_saved(sender: Any, instance: Any, update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    password_changed = instance.__dict__.pop(_AUTH_HASH_CHANGED, False)
    deactivated = not instance.is_active and (update_fields is None or "is_active" in update_fields)
    if password_changed or deactivated:
        inbox_access_changed(user_id=instance.pk)


def user_logged_out_announce(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is None:
        return
    session = getattr(request, "session", None)
    inbox_access_changed(user_id=user.pk, ended_session_key=getattr(session, "session_key", None))


def contact_deleting(sender: Any, instance: Contact, **kwargs: Any) -> None:
    counts_contact_deleting(contact_id=instance.pk)


def user_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    counts_assignee_deleting(user_id=instance.pk)


def inbox_deleting(sender: Any, instance: CustomInbox, **kwargs: Any) -> None:
    counts_inbox_deleting(inbox_id=instance.pk)


def connect() -> None:
    pre_delete.connect(contact_deleting, sender=Contact, dispatch_uid="inbox.counts_contact_deleting")
    pre_delete.connect(user_deleting, sender=settings.AUTH_USER_MODEL, dispatch_uid="inbox.counts_user_deleting")
    pre_delete.connect(inbox_deleting, sender=CustomInbox, dispatch_uid="inbox.counts_inbox_deleting")
    post_delete.connect(membership_removed, sender=Membership, dispatch_uid="inbox.membership_removed")
    post_save.connect(membership_changed, sender=Membership, dispatch_uid="inbox.membership_changed")
    pre_save.connect(user_saving, sender=settings.AUTH_USER_MODEL, dispatch_uid="inbox.user_saving")
    post_save.connect(user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="inbox.user_saved")
    user_logged_out.connect(user_logged_out_announce, dispatch_uid="inbox.user_logged_out")
