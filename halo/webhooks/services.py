"""Writes of webhooks: endpoints, their routing table on the workspace, the delivery log, pausing.

This module is the only writer of ``WebhookEndpoint``, ``WebhookDelivery`` and ``Workspace.webhook_routes``.
Every change of an endpoint locks its workspace's row and rebuilds ``webhook_routes`` from the table in the
same transaction, so the routes always equal the workspace's active endpoints (two concurrent changes are
applied one after the other, never lost).

A URL is refused when saved (a field error) unless it is ``https://`` — plain ``http://`` only with
``DEBUG`` on or for a host the operator allowed in ``HALO_OUTBOUND_ALLOW_HOSTS`` (an internal service, a
local stand-in) — and passes the outbound client's check (no loopback, private or link-local address
unless allowed). The connect-time check of ``halo.outbound`` is what holds at delivery.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from halo.models import Membership, WebhookDelivery, WebhookEndpoint, Workspace
from halo.outbound import allowed_hosts, outbound_url_refusal
from halo.outbox import outbox_enqueue
from halo.webhooks.events import DELIVER_TASK, WebhookEvent

MAX_ENDPOINTS_PER_WORKSPACE = 10
URL_MAX_LENGTH = 500
# An endpoint whose deliveries have all failed for this long is paused and the workspace's admins told.
PAUSE_AFTER = timedelta(days=1)
PAUSED_EMAIL_TASK = "halo.tasks.webhook_paused_email"


def webhook_url_refusal(url: str) -> str | None:
    """Why ``url`` cannot be a webhook endpoint (None: it can)."""
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
    except (ValidationError, ValueError):
        return "Enter a valid http or https URL."
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" and not settings.DEBUG and host not in allowed_hosts():
        return "A webhook URL must start with https://."
    return outbound_url_refusal(url)


def webhook_events_check(events: object) -> list[str]:
    """The subscribed event names, de-duplicated in order; a ``ValidationError`` for an unknown or empty list."""
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError({"events": ["Choose at least one event."]})
    unknown = [str(name) for name in events if name not in WebhookEvent._value2member_map_]
    if unknown:
        raise ValidationError(
            {
                "events": [
                    f"Unknown event: {', '.join(unknown)[:200]}. "
                    f"Choose from: {', '.join(event.value for event in WebhookEvent)}."
                ]
            }
        )
    return list(dict.fromkeys(str(name) for name in events))


def _routes_rebuild(workspace_id: int) -> list[dict[str, object]]:
    """Rebuild the workspace's routing table from its active endpoints. Call with the workspace row locked."""
    routes: list[dict[str, object]] = [
        {"id": endpoint_id, "events": events}
        for endpoint_id, events in WebhookEndpoint.objects.filter(workspace_id=workspace_id, paused_at__isnull=True)
        .order_by("id")
        .values_list("id", "events")
    ]
    Workspace.objects.filter(pk=workspace_id).update(webhook_routes=routes)
    return routes


def _workspace_lock(workspace_id: int) -> None:
    Workspace.objects.select_for_update().filter(pk=workspace_id).values_list("pk", flat=True).first()


def webhook_endpoint_create(*, workspace: Workspace, url: str, events: Sequence[str]) -> WebhookEndpoint:
    """A new endpoint of ``workspace`` for ``events``; its ``secret`` is on the returned instance (show it
    once)."""
    url = url.strip() if isinstance(url, str) else ""
    errors: dict[str, list[str]] = {}
    if not url:
        errors["url"] = ["This field is required."]
    elif len(url) > URL_MAX_LENGTH:
        errors["url"] = [f"At most {URL_MAX_LENGTH} characters."]
    elif (refusal := webhook_url_refusal(url)) is not None:
        errors["url"] = [refusal]
    try:
        names = webhook_events_check(list(events) if isinstance(events, list | tuple) else events)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _workspace_lock(workspace.pk)
        if WebhookEndpoint.objects.filter(workspace=workspace).count() >= MAX_ENDPOINTS_PER_WORKSPACE:
            raise ValidationError({"url": [f"A workspace has at most {MAX_ENDPOINTS_PER_WORKSPACE} endpoints."]})
        endpoint = WebhookEndpoint.objects.create(workspace=workspace, url=url, events=names)
        workspace.webhook_routes = _routes_rebuild(workspace.pk)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log; events still queued for it are dropped when they run."""
    with transaction.atomic():
        _workspace_lock(endpoint.workspace_id)
        endpoint.delete()
        _routes_rebuild(endpoint.workspace_id)


def webhook_endpoint_resume(*, endpoint: WebhookEndpoint) -> None:
    """An admin resumes a paused endpoint: events are recorded for it again (those of the pause are not;
    the conversation feed and "redeliver" catch up)."""
    with transaction.atomic():
        _workspace_lock(endpoint.workspace_id)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=None, failing_since=None)
        endpoint.paused_at = endpoint.failing_since = None
        _routes_rebuild(endpoint.workspace_id)


def webhook_endpoint_pause(*, endpoint: WebhookEndpoint, now: datetime) -> bool:
    """Pause the endpoint (no more events are recorded for it) and email the workspace's admins, once;
    False if it was already paused."""
    with transaction.atomic():
        _workspace_lock(endpoint.workspace_id)
        paused = WebhookEndpoint.objects.filter(pk=endpoint.pk, paused_at__isnull=True).update(paused_at=now)
        if not paused:
            return False
        endpoint.paused_at = now
        _routes_rebuild(endpoint.workspace_id)
        admins = Membership.objects.filter(workspace_id=endpoint.workspace_id, role=Membership.Role.ADMIN)
        if admins.exists():
            outbox_enqueue(
                workspace=Workspace(pk=endpoint.workspace_id),
                task=PAUSED_EMAIL_TASK,
                payload={"endpoint_id": endpoint.pk},
            )
    return True


# --- The delivery log (written by the delivering worker) ------------------------------------------------


def webhook_delivery_start(
    *, endpoint: WebhookEndpoint, event: dict[str, object], outbox_message_id: int, now: datetime
) -> WebhookDelivery:
    """The log row of ``event`` to ``endpoint``, created at its first attempt; one more attempt counted."""
    event_id = str(event["id"])
    defaults = {
        "workspace_id": endpoint.workspace_id,
        "event_type": str(event["type"])[:64],
        "event": event,
        "created_at": now,
    }
    delivery, _ = WebhookDelivery.objects.get_or_create(endpoint=endpoint, event_id=event_id, defaults=defaults)
    delivery.attempts += 1
    delivery.state = WebhookDelivery.State.PENDING
    delivery.last_attempt_at = now
    delivery.outbox_message_id = outbox_message_id
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=delivery.attempts, state=delivery.state, last_attempt_at=now, outbox_message_id=outbox_message_id
    )
    return delivery


def webhook_delivery_succeeded(*, delivery: WebhookDelivery, status_code: int, now: datetime) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.DELIVERED, last_status_code=status_code, last_error="", delivered_at=now
    )
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=False).update(failing_since=None)


def webhook_delivery_failed(
    *,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    status_code: int | None,
    error: str,
    final: bool,
    now: datetime,
) -> bool:
    """Log a failed attempt; the endpoint has been failing since its first failure after a success, and is
    paused once that is ``PAUSE_AFTER`` ago. Returns whether this failure paused it."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.FAILED if final else WebhookDelivery.State.RETRYING,
        last_status_code=status_code,
        last_error=error[:500],
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    failing_since = WebhookEndpoint.objects.filter(pk=endpoint.pk).values_list("failing_since", flat=True).first()
    if failing_since is not None and now - failing_since >= PAUSE_AFTER:
        return webhook_endpoint_pause(endpoint=endpoint, now=now)
    return False


def webhook_delivery_refused(*, endpoint: WebhookEndpoint, event: dict[str, object], reason: str) -> None:
    """An event that will not be sent (its endpoint is paused) is logged as failed, so it can be redelivered."""
    delivery, _ = WebhookDelivery.objects.get_or_create(
        endpoint=endpoint,
        event_id=str(event["id"]),
        defaults={"workspace_id": endpoint.workspace_id, "event_type": str(event["type"])[:64], "event": event},
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.FAILED, last_error=reason[:500])


def webhook_redeliver(*, deliveries: Iterable[WebhookDelivery]) -> int:
    """An admin's "redeliver": each delivery's event is sent again, with the same id and body, through a new
    outbox row (fresh attempts). Returns how many were queued."""
    count = 0
    with transaction.atomic():
        for delivery in deliveries:
            message = outbox_enqueue(
                workspace=Workspace(pk=delivery.workspace_id),
                task=DELIVER_TASK,
                payload={"endpoint_id": delivery.endpoint_id, "event": delivery.event},
            )
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                state=WebhookDelivery.State.PENDING, outbox_message_id=message.pk
            )
            count += 1
    return count
