"""An open ``/ws/inbox/`` socket closes when its user's access ends, and receives nothing caused after that:
a membership removed (4403), the user deactivated (4401), or, if that announcement was lost, at the
socket's next periodic re-check. Each test runs on the embedded in-memory layer and, with ``REDIS_URL``,
on the production Redis layer (pub/sub), through ``WebsocketCommunicator``.
"""

import os
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.urls import reverse

from halo.models import Membership, Workspace
from inbox import consumers
from tests.halo.factories import MembershipFactory, WorkspaceFactory
from tests.inbox.test_consumers import connect, receive, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["memory", "redis"])
def channel_layer(request: pytest.FixtureRequest, settings: Any) -> str:
    """The embedded default's in-memory layer, or the production Redis layer of ``halo.settings``."""
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
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
