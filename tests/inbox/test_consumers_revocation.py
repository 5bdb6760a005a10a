"""An open ``/ws/inbox/`` socket closes when its user's access ends, and receives nothing caused after that:
a membership removed (4403), the user deactivated (4401), the session it was opened with logged out,
expired or rotated away, or the user's password changed (4401), or, if that announcement was lost, at the
socket's next periodic re-check. A login elsewhere (``last_login``) or another session's logout changes
nothing. Each test runs on the embedded in-memory layer and, with ``REDIS_URL``,
on the production Redis layer (pub/sub), through ``WebsocketCommunicator``.
"""

import asyncio
import os
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from halo.models import Membership, Workspace
from inbox import consumers
from inbox.events import user_group
from tests.halo.factories import MembershipFactory, WorkspaceFactory
from tests.inbox.test_consumers import connect, receive, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

User = get_user_model()


@pytest.fixture(params=["memory", "redis"])
def channel_layer(request: pytest.FixtureRequest, settings: Any) -> str:
    """The embedded default's in-memory layer, or the production Redis layer of ``halo.settings``."""
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "halo.layers.RedisChannelLayer"  # pub/sub
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "halo.layers.EmbeddedChannelLayer"}}
    return str(request.param)


async def connected(workspace: Workspace, membership: Membership) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(membership.user)
    communicator, ok, _ = await connect(workspace.pk, cookie)
    assert ok
    assert (await receive(communicator))["type"] == "hello"
    return communicator


async def close_code(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return int(output["code"])


async def test_socket_closes_4403_when_the_membership_is_removed_and_gets_no_later_event(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    communicator = await connected(workspace, teammate)
    await sync_to_async(escalate)()
    assert (await receive(communicator))["seq"] == 1  # live until then

    await sync_to_async(teammate.delete)()
    await sync_to_async(escalate)(name="After Removal")  # caused after the removal, before the socket reacts

    assert await close_code(communicator) == 4403
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_socket_closes_4401_when_the_user_is_deactivated(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    communicator = await connected(workspace, teammate)
    user = teammate.user

    user.is_active = False
    await sync_to_async(user.save)()
    await sync_to_async(escalate)()

    assert await close_code(communicator) == 4401
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_removal_from_one_workspace_leaves_the_users_other_workspace_and_teammates_live(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    other = await sync_to_async(WorkspaceFactory)(name="Initech", slug="initech")
    in_other = await sync_to_async(MembershipFactory)(workspace=other, user=teammate.user)
    colleague = await sync_to_async(MembershipFactory)(workspace=workspace, user__username="bo@acme.test")
    removed = await connected(workspace, teammate)
    same_user_elsewhere = await connected(other, in_other)
    colleague_socket = await connected(workspace, colleague)

    await sync_to_async(teammate.delete)()
    ticket = await sync_to_async(escalate)()

    assert await close_code(removed) == 4403
    event = await receive(colleague_socket)
    assert (event["event"], event["ticket_id"]) == ("ticket.created", ticket.pk)
    assert await same_user_elsewhere.receive_nothing(timeout=0.3)  # open: nothing happened in Initech
    await sync_to_async(escalate)()  # Acme again: the colleague still receives, the removed socket does not
    assert (await receive(colleague_socket))["event"] == "ticket.created"
    assert await removed.receive_nothing(timeout=0.3)
    for communicator in (removed, same_user_elsewhere, colleague_socket):
        await communicator.disconnect()


async def test_socket_closes_at_its_periodic_recheck_when_the_announcement_was_lost(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "REVALIDATE_SECONDS", 0.2)
    communicator = await connected(workspace, teammate)

    def remove_without_signals() -> None:  # as if the broadcast after the removal had been lost
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Membership._meta.db_table} WHERE id = %s", [teammate.pk])  # noqa: S608

    await sync_to_async(remove_without_signals)()

    assert await close_code(communicator) == 4403
    await sync_to_async(escalate)()
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_workspace_admin_removing_a_teammate_in_the_admin_closes_the_teammates_socket(
    channel_layer: str, workspace: Workspace, teammate: Membership, admin_client_of: Any
) -> None:
    communicator = await connected(workspace, teammate)
    url = reverse("admin:halo_membership_delete", args=[teammate.pk])

    response = await sync_to_async(admin_client_of.post)(url, {"post": "yes"})

    assert response.status_code == 302
    assert not await Membership.objects.filter(pk=teammate.pk).aexists()
    assert await close_code(communicator) == 4403
    await communicator.disconnect()


PASSWORD = "correct horse battery staple"  # the factories' test password
NEW_PASSWORD = "a new and different staple"


def browser_of(user: Any) -> Client:
    """A browser logged in as ``user`` through the login page (a session of its own)."""
    browser = Client()
    response = browser.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return browser


async def socket_of(workspace: Workspace, browser: Client) -> WebsocketCommunicator:
    communicator, ok, _ = await connect(workspace.pk, browser.cookies["sessionid"].value)
    assert ok
    assert (await receive(communicator))["type"] == "hello"
    return communicator


async def test_logging_out_in_another_tab_closes_the_socket_of_that_session_4401(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    browser = await sync_to_async(browser_of)(teammate.user)
    communicator = await socket_of(workspace, browser)

    response = await sync_to_async(browser.post)(reverse("logout"))  # another tab of the same browser
    await sync_to_async(escalate)()

    assert response.status_code == 200
    assert await close_code(communicator) == 4401
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_logging_out_in_another_browser_leaves_this_sessions_socket_live(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    laptop = await sync_to_async(browser_of)(teammate.user)
    phone = await sync_to_async(browser_of)(teammate.user)
    communicator = await socket_of(workspace, laptop)

    await sync_to_async(phone.post)(reverse("logout"))
    ticket = await sync_to_async(escalate)()

    event = await receive(communicator)
    assert (event["event"], event["ticket_id"]) == ("ticket.created", ticket.pk)
    await communicator.disconnect()


async def test_socket_closes_4401_when_the_password_is_changed_in_another_browser(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    laptop = await sync_to_async(browser_of)(teammate.user)
    phone = await sync_to_async(browser_of)(teammate.user)
    communicator = await socket_of(workspace, laptop)

    response = await sync_to_async(phone.post)(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    await sync_to_async(escalate)()

    assert response.status_code == 302
    assert await close_code(communicator) == 4401  # announced: far sooner than the 60 s re-check
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()
    # The phone, which changed it, stays logged in and may open a socket.
    await (await socket_of(workspace, phone)).disconnect()


async def test_socket_closes_4401_when_an_admin_sets_the_users_password(
    channel_layer: str, workspace: Workspace, teammate: Membership
) -> None:
    communicator = await connected(workspace, teammate)
    user = teammate.user

    user.set_password(NEW_PASSWORD)
    await sync_to_async(user.save)()

    assert await close_code(communicator) == 4401
    await communicator.disconnect()


async def test_own_password_change_rotates_the_session_so_its_old_socket_closes_and_a_new_one_opens(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    """Django's password change page keeps the browser logged in (``update_session_auth_hash``) by moving
    its session to a new key and deleting the old one, so that a stolen copy of the old cookie stops
    working: a socket opened with the old key is such a copy as far as the server can tell."""
    browser = await sync_to_async(browser_of)(teammate.user)
    old_key = browser.cookies["sessionid"].value
    communicator = await socket_of(workspace, browser)

    response = await sync_to_async(browser.post)(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert browser.cookies["sessionid"].value != old_key
    assert await close_code(communicator) == 4401
    page = await sync_to_async(browser.get)(reverse("inbox:home"), follow=True)
    assert page.status_code == 200
    assert not any(url.startswith(reverse("login")) for url, _ in page.redirect_chain)  # still logged in
    reopened = await socket_of(workspace, browser)
    ticket = await sync_to_async(escalate)()
    assert (await receive(reopened))["ticket_id"] == ticket.pk
    await reopened.disconnect()
    await communicator.disconnect()


async def test_a_login_elsewhere_updating_last_login_announces_nothing_and_leaves_the_socket_live(
    channel_layer: str, workspace: Workspace, teammate: Membership, escalate: Any
) -> None:
    laptop = await sync_to_async(browser_of)(teammate.user)
    communicator = await socket_of(workspace, laptop)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(user_group(teammate.user_id), listener)
    last_login = (await User.objects.aget(pk=teammate.user_id)).last_login

    await sync_to_async(browser_of)(teammate.user)  # a login on another device saves last_login
    ticket = await sync_to_async(escalate)()

    assert (await User.objects.aget(pk=teammate.user_id)).last_login != last_login
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(listener), timeout=0.5)
    event = await receive(communicator)
    assert (event["event"], event["ticket_id"]) == ("ticket.created", ticket.pk)
    await layer.group_discard(user_group(teammate.user_id), listener)
    await communicator.disconnect()


async def test_socket_closes_at_its_periodic_recheck_once_its_session_expired(
    channel_layer: str, workspace: Workspace, teammate: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "REVALIDATE_SECONDS", 0.2)
    browser = await sync_to_async(browser_of)(teammate.user)
    communicator = await socket_of(workspace, browser)

    await Session.objects.filter(session_key=browser.cookies["sessionid"].value).aupdate(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert await close_code(communicator) == 4401
    await communicator.disconnect()
