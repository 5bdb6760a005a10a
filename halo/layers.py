"""The embedded default's channel layer: the in-memory layer, made safe to send to from other threads.

Channels' ``InMemoryChannelLayer`` keeps one ``asyncio.Queue`` per channel. A send from a thread that runs
its own event loop — the embedded Celery worker calling ``async_to_sync(group_send)`` — puts the message
on the queue but cannot wake the server's loop that waits on it (asyncio is not thread-safe), so a live
event could sit unseen until something else woke the loop. This layer remembers which loop waits on each
channel and hands such sends to that loop.
Production uses channels_redis's pub/sub layer through ``RedisChannelLayer``, which sends once more on a
fresh connection when a send fails on a pooled connection that Redis closed (a restart, a failover, an idle
timeout): without it the first broadcast after Redis came back failed, and the pause after a failure
(below) dropped the ones behind it, so a teammate's reply never reached the widget live.

``send_event_on_commit`` is how a service announces a change to a group of sockets: after the current
transaction commits (at once outside one), so a socket never sees a change that was rolled back, and
best-effort (a failed send is logged; every consumer has its own way to catch up). ``group_send_sync`` is
the synchronous send underneath it. With channels_redis it runs the send on one long-lived event loop
per process, so the layer's Redis connection is reused: ``async_to_sync`` starts a new loop per call, and
channels_redis opens a new connection per loop.
"""

import asyncio
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError

from halo.pause import FailurePause

# A backstop: the layer's socket timeouts (settings.REDIS_TIMEOUTS, 1 s) end a send to a silent Redis first.
SEND_TIMEOUT_SECONDS = 2.0
# After a failed send this process leaves the layer alone for a few seconds: a Redis that is down or does
# not answer would otherwise cost every request that broadcasts its timeout. Broadcasts are at most once
# anyway: inbox sockets replay gaps from the event log, the widget catches up with ``?after=``.
SEND_PAUSE_SECONDS = 5.0
_send_pause = FailurePause()

logger = logging.getLogger(__name__)

_sender_lock = threading.Lock()
_sender: tuple[int, asyncio.AbstractEventLoop] | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    """This process's sending loop, started on first use (after a fork, the child starts its own)."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


def group_send_sync(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` from synchronous code; raises what the layer raises (the caller logs),
    or ``ConnectionError`` at once while a recent failure pauses sends (``SEND_PAUSE_SECONDS``)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):  # the embedded default and tests: the caller's own loop
        async_to_sync(layer.group_send)(group, message)
        return
    if _send_pause.active(layer):
        raise ConnectionError("channel layer: a send failed moments ago; not trying again yet")
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    try:
        future.result(timeout=SEND_TIMEOUT_SECONDS)
    except BaseException:
        future.cancel()
        _send_pause.start(layer, SEND_PAUSE_SECONDS)
        raise


def send_event_on_commit(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` once the current transaction commits; a failure is logged, not raised
    (the caller's change is committed already, and each socket catches up on its own)."""

    def send() -> None:
        try:
            group_send_sync(group, message)
        except Exception:  # the layer is down or paused
            logger.warning("channel layer: send to %s failed", group, exc_info=True)

    transaction.on_commit(send)


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


# What a send on a connection that Redis closed raises (redis-py's own, or the socket's). Not a timeout: a
# Redis that does not answer would cost each broadcast a second timeout (the silent-Redis case).
_DEAD_CONNECTION_ERRORS = (RedisConnectionError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class RedisChannelLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    """channels_redis's pub/sub layer, whose sends are tried once more on a fresh connection.

    A publish takes a pooled connection; after Redis restarted, every pooled connection is dead and the first
    publish on one fails with "Connection closed by server". The retry drops the pool's idle connections
    (never the one a subscription holds: receiving recovers on its own) and publishes once more, so a
    broadcast is lost only if Redis is still unreachable. Once, not in a loop: a Redis that is down costs
    one more connection attempt (bounded by the socket timeouts), then the caller's pause applies.
    """

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._once_more_on_a_fresh_connection("send", channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._once_more_on_a_fresh_connection("group_send", group, message)

    async def _once_more_on_a_fresh_connection(self, name: str, target: str, message: dict[str, Any]) -> None:
        layer = self._get_layer()
        try:
            await getattr(layer, name)(target, message)
        except _DEAD_CONNECTION_ERRORS:
            logger.info("channel layer: %s to %s failed; trying once more on a fresh connection", name, target)
            for shard in layer._shards:
                client = shard._redis
                if client is not None:
                    await client.connection_pool.disconnect(inuse_connections=False)
            await getattr(layer, name)(target, message)
