"""Delivering webhook events: the outbox handler of ``halo.tasks.webhook_deliver``, and the paused-endpoint email.

One outbox row is one event for one endpoint. ``webhook_deliver`` runs under the outbox's claim (two workers
never send one row at once; a worker that dies mid-request gives it back when its lease ends, and the event
goes out again with the same id: at least once). Each attempt:

1. reads the endpoint (deleted: nothing to do; paused: the event is logged as failed, for "redeliver");
2. logs the attempt (``WebhookDelivery``), then POSTs the event's body through the outbound client (no
   redirects, no private addresses unless allowed), signed with a fresh timestamp:
   ``Halo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>``;
3. any 2xx delivers it; a 429 is retried after its ``Retry-After`` (at most 15 minutes); anything else — a
   3xx, 4xx, 5xx, a timeout, a refused address — is retried with the outbox's backoff, until its last
   attempt (then it is failed in the log, where an admin can redeliver it). An endpoint whose attempts have
   all failed for ``PAUSE_AFTER`` (a day) is paused and its workspace's admins are emailed.

The response body is never stored or logged (it is any server's text); the log keeps the status code.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from halo import clock
from halo.models import OutboxMessage, WebhookEndpoint, Workspace
from halo.outbound import OutboundRefused, outbound_client
from halo.outbox import MAX_ATTEMPTS, PermanentFailure, RetryLater, outbox_backoff
from halo.selectors import webhook_paused_recipients
from halo.webhooks.services import (
    webhook_delivery_failed,
    webhook_delivery_refused,
    webhook_delivery_start,
    webhook_delivery_succeeded,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Halo-Signature"
TIMEOUT_SECONDS = 10.0
# Retry-After is honoured up to this (the Redis broker's visibility timeout is far above it).
RETRY_AFTER_MAX_SECONDS = 900.0
ENVELOPE_KEYS = ("id", "type", "created_at", "workspace", "data")


def event_body(event: Mapping[str, Any]) -> bytes:
    """The raw body of a delivery: the event's envelope in its documented key order, compact UTF-8 JSON."""
    return json.dumps({key: event[key] for key in ENVELOPE_KEYS}, ensure_ascii=False, separators=(",", ":")).encode()


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under secret>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_after_seconds(value: str | None) -> float:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now, within [1, 900]; 60 if absent
    or unreadable."""
    seconds: float
    try:
        seconds = float(value or "")
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value or "") - clock.now()).total_seconds()
        except (TypeError, ValueError):
            seconds = 60.0
    return max(1.0, min(seconds, RETRY_AFTER_MAX_SECONDS))


def webhook_deliver(message: OutboxMessage) -> None:
    """Outbox handler: one attempt to deliver ``payload.event`` to ``payload.endpoint_id``."""
    endpoint = WebhookEndpoint.objects.filter(pk=int(message.payload["endpoint_id"])).first()
    event: dict[str, Any] = message.payload["event"]
    if endpoint is None:
        return  # deleted since: nobody to deliver to
    if endpoint.paused:
        webhook_delivery_refused(endpoint=endpoint, event=event, reason="The endpoint is paused.")
        raise PermanentFailure("The endpoint is paused.")
    now = clock.now()
    delivery = webhook_delivery_start(endpoint=endpoint, event=event, outbox_message_id=message.pk, now=now)
    body = event_body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Halo-Webhooks/1",
        SIGNATURE_HEADER: signature_header(secret=endpoint.secret, body=body, timestamp=int(now.timestamp())),
    }
    status_code: int | None = None
    retry_after: float | None = None
    try:
        with outbound_client(timeout=TIMEOUT_SECONDS) as client:
            response = client.post(endpoint.url, content=body, headers=headers)
        status_code = response.status_code
        if 200 <= status_code < 300:
            webhook_delivery_succeeded(delivery=delivery, status_code=status_code, now=clock.now())
            return
        error = f"HTTP {status_code}"
        if status_code == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            error = f"HTTP 429, retry after {retry_after:.0f} s"
    except OutboundRefused as refused:
        error = f"Refused: {refused.reason}"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: the endpoint could not be reached"
    final = message.attempts >= MAX_ATTEMPTS
    webhook_delivery_failed(
        delivery=delivery, endpoint=endpoint, status_code=status_code, error=error, final=final, now=clock.now()
    )
    raise RetryLater(error, delay=retry_after if retry_after is not None else outbox_backoff(attempts=message.attempts))


def webhook_paused_email_send(message: OutboxMessage) -> None:
    """Outbox handler: email the workspace's admins that an endpoint was paused (nothing if it was resumed
    or deleted since)."""
    endpoint = WebhookEndpoint.objects.filter(pk=int(message.payload["endpoint_id"])).first()
    if endpoint is None or not endpoint.paused:
        return
    recipients = webhook_paused_recipients(workspace_id=endpoint.workspace_id)
    if not recipients:
        return
    workspace = Workspace.objects.get(pk=endpoint.workspace_id)
    context = {
        "workspace": workspace,
        "endpoint": endpoint,
        "link": f"{settings.SITE_URL}{reverse('admin:halo_webhookendpoint_change', args=[endpoint.pk])}",
    }
    email = EmailMultiAlternatives(
        subject=f"[{' '.join(workspace.name.split())[:100]}] Webhook endpoint paused after failing for a day",
        body=render_to_string("halo/email/webhook_paused.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": f"<halo-outbox-{message.pk}@halo.invalid>"},
    )
    email.attach_alternative(render_to_string("halo/email/webhook_paused.html", context), "text/html")
    email.send(fail_silently=False)
