"""A local SMTP server for email tests: aiosmtpd speaking real SMTP on a free loopback port, keeping what it
accepted. ``smtp_server(settings)`` points Django's SMTP backend at it for one test."""

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self) -> list[list[str]]:
        """Each accepted email's envelope recipients, in order."""
        return [list(envelope.rcpt_tos) for envelope in self.envelopes]


def email_parts(message: EmailMessage) -> dict[str, str]:
    """An email's text parts by content type, decoded."""
    parts: dict[str, str] = {}
    for part in message.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            parts[part.get_content_type()] = payload.decode()
    return parts


@contextmanager
def smtp_server(settings: Any, *, site_url: str = "https://halo.example.com") -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = site_url
    try:
        yield mailbox
    finally:
        controller.stop()
