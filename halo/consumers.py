"""The socket answer to a path no route matches (an unknown path, or an id out of range for ``<id:>``)."""

from channels.generic.websocket import AsyncWebsocketConsumer

# Like an HTTP 404, in the application's range of close codes (4000-4999).
CLOSE_NOT_FOUND = 4404


class NotFoundConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Closes the handshake with 4404. Without it Channels' router raises for an unmatched path, and the
    server answers the handshake with a 500."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
