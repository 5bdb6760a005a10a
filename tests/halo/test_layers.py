"""The embedded channel layer delivers a send made from another thread's event loop (the embedded worker);
``group_send_sync`` keeps one sending loop per process for a network layer (B2)."""

import asyncio
import threading
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from halo import layers
from halo.layers import EmbeddedChannelLayer, group_send_sync
from tests.support.clock import ManualClock
from tests.support.processes import wait_until


async def test_group_send_from_a_worker_thread_reaches_a_waiting_receiver_promptly():
    layer = EmbeddedChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("inbox.1", channel)

    def worker_thread() -> None:
        # Sends once the receiver waits on its own loop: the case where only a hand-over wakes it.
        wait_until(lambda: channel in layer._receiving_loops, timeout=5, what="the receiver", interval=0.01)
        async_to_sync(layer.group_send)("inbox.1", {"type": "ticket.created", "id": 7})

    threading.Thread(target=worker_thread).start()
    started = time.monotonic()
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert message == {"type": "ticket.created", "id": 7}
    assert time.monotonic() - started < 3  # the plain in-memory layer only wakes at the timeout


async def test_it_is_still_an_in_memory_layer_for_same_loop_use():
    layer = EmbeddedChannelLayer()
    channel = await layer.new_channel()

    await layer.send(channel, {"type": "hello"})

    assert isinstance(layer, InMemoryChannelLayer)
    assert await layer.receive(channel) == {"type": "hello"}


class RecordingLayer:
    """A network layer's shape (channels_redis): records the loop each send runs on."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.attempts = 0
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.attempts += 1
        if self.error is not None:
            raise self.error
        self.loops.append(asyncio.get_running_loop())
        self.sent.append((group, message))


def test_sync_sends_to_a_network_layer_reuse_one_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = RecordingLayer()
    monkeypatch.setattr("halo.layers.get_channel_layer", lambda: layer)

    group_send_sync("inbox.workspace.1", {"type": "inbox.event", "n": 1})
    group_send_sync("inbox.workspace.1", {"type": "inbox.event", "n": 2})

    assert [message["n"] for _, message in layer.sent] == [1, 2]
    assert layer.loops[0] is layer.loops[1]  # channels_redis keeps its connection per loop: it is reused


def test_a_failing_sync_send_raises_for_the_caller_to_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("halo.layers.get_channel_layer", lambda: RecordingLayer(error=ConnectionError("down")))

    with pytest.raises(ConnectionError):
        group_send_sync("inbox.workspace.1", {"type": "inbox.event"})


def test_after_a_failed_send_the_layer_is_left_alone_for_a_few_seconds(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    """A Redis that is down or silent costs one request its timeout, not every request of the next seconds."""
    layer = RecordingLayer(error=ConnectionError("down"))
    monkeypatch.setattr("halo.layers.get_channel_layer", lambda: layer)

    with pytest.raises(ConnectionError):
        group_send_sync("inbox.workspace.1", {"type": "inbox.event"})
    layer.error = None  # back, but this process does not know yet
    with pytest.raises(ConnectionError, match="moments ago"):
        group_send_sync("inbox.workspace.1", {"type": "inbox.event", "n": 1})
    assert layer.attempts == 1  # the paused send did not even try

    clock.advance(layers.SEND_PAUSE_SECONDS)
    group_send_sync("inbox.workspace.1", {"type": "inbox.event", "n": 2})
    assert [message["n"] for _, message in layer.sent] == [2]


def test_a_pause_for_one_layer_does_not_stop_another(monkeypatch: pytest.MonkeyPatch) -> None:
    failing, working = RecordingLayer(error=ConnectionError("down")), RecordingLayer()
    monkeypatch.setattr("halo.layers.get_channel_layer", lambda: failing)
    with pytest.raises(ConnectionError):
        group_send_sync("inbox.workspace.1", {"type": "inbox.event"})

    monkeypatch.setattr("halo.layers.get_channel_layer", lambda: working)
    group_send_sync("inbox.workspace.1", {"type": "inbox.event", "n": 1})
    assert len(working.sent) == 1
