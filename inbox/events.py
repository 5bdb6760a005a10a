"""Live inbox events: their names, the socket group of a workspace, recording, broadcast and replay.

Every change a teammate should see without a reload (a ticket created, merged or updated, a new message or
note, a summary ready) is recorded by ``inbox_event_record`` as an ``InboxEvent`` row **in the transaction
of the change**, numbered from the workspace's ``InboxCounter``: the counter row is upserted (and so locked until
commit), which makes the numbers gap-free and their commit order equal to their number order.
After commit the event is sent to the workspace's group (``workspace_group``) through the channel layer
of the process that made the change: with ``REDIS_URL`` set that is the Redis layer, so an event caused in
a Celery worker or in another web process reaches every socket (this is how R5 holds — by a
``group_send`` from the causing process, not by a relay of the table). The table is the safety net: a
socket that reconnects, or that sees a gap in the numbers, sends the last number it applied and gets
what it missed from ``inbox_events_since`` — or ``None`` ("resync": reload the page) when more than
``REPLAY_LIMIT`` events were missed or they were pruned (``inbox_events_prune``, kept ``RETENTION``).

A broadcast is best-effort by design (a channel layer that is down loses it); the row is not.
Payloads hold ids, statuses and display names only: the browser renders them with ``textContent`` and
fetches server-rendered (escaped) HTML for anything richer.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from halo.compiled import CompiledRead
from halo.inserts import insert
from halo.layers import send_event_on_commit
from halo.prepared import prepared_cursor
from inbox.models import InboxCounter, InboxEvent

TICKET_CREATED = "ticket.created"
TICKET_MERGED = "ticket.merged"
TICKET_UPDATED = "ticket.updated"
MESSAGE_NEW = "message.new"
NOTE_NEW = "note.new"
SUMMARY_READY = "summary.ready"
EVENT_TYPES = (TICKET_CREATED, TICKET_MERGED, TICKET_UPDATED, MESSAGE_NEW, NOTE_NEW, SUMMARY_READY)

# A socket that missed more than this many events reloads instead of replaying them.
REPLAY_LIMIT = 500
RETENTION = timedelta(days=2)
# The channel layer's message type; the consumer's handler is ``inbox_event``. The message carries the
# socket frame already encoded (``text``).
CHANNEL_MESSAGE_TYPE = "inbox.event"
# Sent to ``user_group`` when a user's membership is removed, the user deactivated, their password changed
# or one of their sessions logged out; the consumer's handler is ``inbox_access_changed`` (it re-checks and
# closes the socket). A logout names the ended session (``ended_session``, a ``session_digest``).
ACCESS_CHANGED_MESSAGE_TYPE = "inbox.access_changed"


def workspace_group(workspace_id: int) -> str:
    return f"inbox.workspace.{workspace_id}"


def user_group(user_id: int) -> str:
    """Every inbox socket of a user, whatever its workspace: told when the user's access may have ended."""
    return f"inbox.user.{user_id}"


def _next_seq(workspace_id: int) -> int:
    """Take the workspace's next number in one statement (an upsert, on PostgreSQL and SQLite >= 3.35);
    the counter row stays locked until the caller's commit, which orders concurrent events. Prepared on
    PostgreSQL (``halo.prepared``): every event runs it."""
    table = connection.ops.quote_name(InboxCounter._meta.db_table)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, last_seq) VALUES (%s, 1) "  # noqa: S608 (the table name is ours)  # nosec B608
            f"ON CONFLICT (workspace_id) DO UPDATE SET last_seq = {table}.last_seq + 1 RETURNING last_seq",
            [workspace_id],
        )
        row = cursor.fetchone()
    return int(row[0])


def inbox_event_record(
    *, workspace_id: int, type: str, ticket_id: int | None = None, data: dict[str, Any] | None = None
) -> InboxEvent:
    """Record an event with the change that causes it (call it inside that transaction); sent after commit."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown inbox event type: {type}")
    with transaction.atomic(savepoint=False):
        seq = _next_seq(workspace_id)
        event = insert(
            InboxEvent(workspace_id=workspace_id, seq=seq, type=type, ticket_id=ticket_id, payload=data or {})
        )
    # Encoded once here, not once per socket: every socket of the workspace sends these exact bytes.
    send_event_on_commit(
        workspace_group(workspace_id), {"type": CHANNEL_MESSAGE_TYPE, "text": json.dumps(event_message(event))}
    )
    return event


def event_message(event: InboxEvent) -> dict[str, Any]:
    """What a socket receives for an event (live or replayed)."""
    return {
        "type": "event",
        "seq": event.seq,
        "event": event.type,
        "ticket_id": event.ticket_id,
        "data": event.payload,
        "at": event.created_at.isoformat().replace("+00:00", "Z"),
    }


def session_digest(session_key: str) -> str:
    """How an announcement names a session: a digest, never the key itself (a credential)."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def inbox_access_changed(*, user_id: int, ended_session_key: str | None = None) -> None:
    """After commit, tell the user's open inbox sockets to re-check their access (a membership removed,
    the user deactivated, the password changed): those that lost it close, so they receive nothing caused
    after the change. ``ended_session_key``: a session that is logging out (Django announces a logout
    before it deletes the session, so a re-check could still find it): the sockets opened with it close
    without re-checking. Best-effort like every broadcast; the sockets also re-check on their own
    (``consumers.REVALIDATE_SECONDS``)."""
    message = {"type": ACCESS_CHANGED_MESSAGE_TYPE}
    if ended_session_key:
        message["ended_session"] = session_digest(ended_session_key)
    send_event_on_commit(user_group(user_id), message)


# Read on every page of the staff inbox: compiled once per connection (``halo.compiled``; 0 is no workspace's id).
# A primary key: no ORDER BY, no LIMIT needed.
_COUNTER = CompiledRead(lambda workspace_id: InboxCounter.objects.filter(workspace_id=workspace_id).only("last_seq"), 0)


def inbox_last_seq(*, workspace_id: int) -> int:
    """The workspace's latest event number (0 before the first); a page renders it for its socket."""
    counter = _COUNTER.first(workspace_id)
    return counter.last_seq if counter is not None else 0


def inbox_events_since(*, workspace_id: int, after_seq: int) -> list[InboxEvent] | None:
    """The events numbered above ``after_seq``, in order; None when the client must resync (reload)."""
    last = inbox_last_seq(workspace_id=workspace_id)
    if after_seq > last or last - after_seq > REPLAY_LIMIT:
        return None
    if after_seq == last:
        return []
    events = list(InboxEvent.objects.filter(workspace_id=workspace_id, seq__gt=after_seq).order_by("seq"))
    if not events or events[0].seq != after_seq + 1:  # pruned: some of what it missed is gone
        return None
    return events


def inbox_events_prune(*, now: datetime | None = None) -> int:
    """Delete events older than ``RETENTION`` (the counter keeps numbering; old clients resync)."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = InboxEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
