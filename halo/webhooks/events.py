"""Webhook events: their names, and ``webhook_event_record``, called in the transaction of the change.

Which endpoints want an event is read from ``Workspace.webhook_routes`` — the workspace row the request has
already loaded — so an event that no endpoint subscribes to costs no query, and one that some do costs a
single INSERT (one outbox row per endpoint). Callers pass the event's data as a function: it is built only
when an endpoint wants it. The event (id, type, time, data) is fixed when recorded: every attempt and every
redelivery sends the same body under the same id, so a receiver de-duplicates on ``id``.
"""

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from halo import clock
from halo.models import Workspace
from halo.outbox import outbox_enqueue_many

DELIVER_TASK = "halo.tasks.webhook_deliver"


class WebhookEvent(StrEnum):
    CONVERSATION_CREATED = "conversation.created"
    MESSAGE_CREATED = "message.created"
    CONVERSATION_HANDED_OFF = "conversation.handed_off"
    CONVERSATION_HANDED_BACK = "conversation.handed_back"
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    TICKET_CLOSED = "ticket.closed"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def event_time(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def webhook_endpoints_for(workspace: Workspace, event: WebhookEvent) -> list[int]:
    """The ids of the workspace's active endpoints subscribed to ``event`` (read from the loaded row)."""
    routes = workspace.webhook_routes if isinstance(workspace.webhook_routes, list) else []
    return [int(route["id"]) for route in routes if event.value in route.get("events", ())]


def webhook_event_record(
    *,
    workspace: Workspace,
    event: WebhookEvent,
    data: Callable[[], Mapping[str, Any]],
    at: datetime | None = None,
) -> str | None:
    """Record ``event`` for every endpoint of ``workspace`` that subscribes to it, in the caller's transaction;
    returns the event id, or None when no endpoint wants it (``data`` is then never called)."""
    endpoint_ids = webhook_endpoints_for(workspace, event)
    if not endpoint_ids:
        return None
    body = {
        "id": new_event_id(),
        "type": event.value,
        "created_at": event_time(at or clock.now()),
        "workspace": workspace.pk,
        # Dates and decimals as JSON text, once, so every delivery sends the same values.
        "data": json.loads(json.dumps(dict(data()), cls=DjangoJSONEncoder)),
    }
    outbox_enqueue_many(
        workspace=workspace,
        task=DELIVER_TASK,
        payloads=[{"endpoint_id": endpoint_id, "event": body} for endpoint_id in endpoint_ids],
    )
    return str(body["id"])
