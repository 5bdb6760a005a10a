"""The embedded channel layer delivers a send made from another thread's event loop (the embedded worker)."""

import asyncio
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from halo.layers import EmbeddedChannelLayer


async def test_group_send_from_a_worker_thread_reaches_a_waiting_receiver_promptly():
    layer = EmbeddedChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("inbox.1", channel)

    def worker_thread() -> None:
        time.sleep(0.2)  # the receiver is already waiting
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
