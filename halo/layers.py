"""The embedded default's channel layer: the in-memory layer, made safe to send to from other threads.

Channels' ``InMemoryChannelLayer`` keeps one ``asyncio.Queue`` per channel. A send from a thread that runs
its own event loop — the embedded Celery worker calling ``async_to_sync(group_send)`` — puts the message
on the queue but cannot wake the server's loop that waits on it (asyncio is not thread-safe), so a live
event could sit unseen until something else woke the loop (measured: until the next timeout, seconds
later). This layer remembers which loop waits on each channel and hands such sends to that loop.
Production uses channels_redis, which has no such issue.
"""

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._receiving_loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def receive(self, channel: str) -> Any:
        loop = asyncio.get_running_loop()
        self._receiving_loops[channel] = loop
        try:
            return await super().receive(channel)
        finally:
            if self._receiving_loops.get(channel) is loop:
                del self._receiving_loops[channel]

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        loop = self._receiving_loops.get(channel)
        if loop is not None and loop is not asyncio.get_running_loop() and loop.is_running():
            # Run the put on the receiver's loop, so its waiting ``get`` is woken there.
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(super().send(channel, message), loop))
            return
        await super().send(channel, message)
