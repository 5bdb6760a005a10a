"""Slack incoming-webhook delivery: the message, the per-webhook rate limit, 429 handling and the digest.

``slack_deliver`` delivers the row of one "new ticket" (``inbox.tasks.slack_notify``); the outbox keeps the
rows' bookkeeping (claims, attempts, retries, failures), this module builds and posts the message:

1. It takes the webhook's turn in ``SlackThrottle`` (a row per webhook, locked while it is read and moved
   on, so every worker and process shares it). The turn is held while the message is in flight and opens
   again ``SLACK_MIN_INTERVAL`` (1.1 s, a margin under Slack's 1 message/s) after the POST went out, or
   when Slack answers if that is later: one message per webhook is in flight at a time. No turn free: the
   row waits until it opens (``outbox_defer``: not counted as a failed attempt).
2. With the turn, it claims the webhook's backlog with the outbox (``outbox_claim_batch``): every row
   waiting for the same webhook, up to ``DIGEST_MAX``. One ticket is a full message; several are rolled
   into one digest message. The rows are finished together once Slack answered (``outbox_finish``), so
   each ticket is announced once. A worker killed mid-send leaves its rows claimed; when their lease ends
   they are claimed first and go out again as one message: a kill duplicates at most that one message.
3. A 429 moves the webhook's turn to ``Retry-After`` for every worker and retries the rows then. A
   400/403/404/410 (bad payload, revoked webhook, archived channel) is permanent: the rows fail at once,
   visible to admins. Other errors retry with the outbox's backoff.

Customer text (names, company, message) is escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so it can
neither form a link nor a ``<!channel>`` mention, and kept within its line (``slack_field``). The webhook URL
is a secret: it is never logged (httpx's request log line shows it redacted) and errors recorded for admins
carry the status, not the URL.
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from agents.models import Message
from halo import clock
from halo.models import OutboxMessage, Workspace
from halo.outbound import OutboundRefused, outbound_client, slack_webhook_url_refusal
from halo.outbox import PermanentFailure, RetryLater, outbox_claim_batch, outbox_defer, outbox_due, outbox_finish
from halo.params import parse_id
from inbox.models import CustomInbox, SlackThrottle, Ticket, reason_label

logger = logging.getLogger(__name__)

SLACK_MIN_INTERVAL = timedelta(seconds=1.1)
# How long a send holds the webhook's turn at most (the client's timeouts end it sooner): a worker killed
# mid-send blocks its webhook this long, then the turn opens again.
SEND_HOLD = timedelta(seconds=30)
DIGEST_MAX = 25
TIMEOUT_SECONDS = 10.0
PERMANENT_STATUSES = {400, 403, 404, 410}
QUOTE_CHARS = 300


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters, as its docs ask (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_field(text: str) -> str:
    """Customer-controlled text for one line of a message: whitespace runs (newlines, tabs, Unicode line and
    paragraph separators) collapsed to one space, so a name like ``"Eve\n*Priority:* yes"`` cannot forge a
    line of its own, then escaped (``mrkdwn_escape``)."""
    return mrkdwn_escape(" ".join(text.split()))


def webhook_url_for(channel: str) -> str:
    """The webhook of ``inbox:<id>`` / ``workspace:<id>`` now (an inbox without one falls back)."""
    kind, _, raw_id = channel.partition(":")
    row_id = parse_id(raw_id)
    if row_id is None:
        return ""
    if kind == "inbox":
        inbox = CustomInbox.objects.select_related("workspace").filter(pk=row_id).first()
        if inbox is None:
            return ""
        return inbox.slack_webhook_url or inbox.workspace.slack_webhook_url
    if kind == "workspace":
        return str(Workspace.objects.filter(pk=row_id).values_list("slack_webhook_url", flat=True).first() or "")
    return ""


def ticket_link(ticket_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('inbox:ticket', args=[ticket_id])}"


def _contact_text(ticket: Ticket) -> str:
    contact = ticket.contact
    name = contact.name or contact.email or contact.user_id or f"Visitor {contact.pk}"
    if contact.email and contact.name:
        name = f"{contact.name} ({contact.email})"
    elif not contact.email and contact.unverified_email:
        # Written in the chat by the visitor: anyone can type a VIP's address.
        name = f"{name} ({contact.unverified_email}, unverified)"
    return slack_field(name)


def _confidence_text(ticket: Ticket) -> str:
    return f"{ticket.confidence}%" if ticket.confidence is not None else "not given"


def ticket_message(ticket: Ticket, *, last_user_message: str = "") -> dict[str, Any]:
    """The Slack payload announcing one new ticket."""
    company = ticket.contact.company
    reason = reason_label(ticket.reason)
    priority = ticket.status == Ticket.Status.PRIORITY
    lines = [
        f"*<{ticket_link(ticket.pk)}|Ticket #{ticket.pk}>*{'  :rotating_light: *Priority*' if priority else ''}",
        f"*Contact:* {_contact_text(ticket)}",
        f"*Company:* {slack_field(str(company)) if company is not None else '—'}",
        f"*Reason:* {slack_field(reason)}",
        f"*AI confidence:* {_confidence_text(ticket)}",
        f"*Priority:* {'yes' if priority else 'no'}",
    ]
    if last_user_message:
        quote = " ".join(last_user_message.split())[:QUOTE_CHARS]
        lines.append(f"> {mrkdwn_escape(quote)}")
    fallback = f"New ticket #{ticket.pk} from {_contact_text(ticket)}: {slack_field(reason)}"
    return {"text": fallback, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def digest_message(tickets: list[Ticket]) -> dict[str, Any]:
    """One Slack payload for a backlog of new tickets (sent when the rate limit held several back)."""
    lines = [f"*{len(tickets)} new tickets*"]
    for ticket in tickets:
        flag = " :rotating_light:" if ticket.status == Ticket.Status.PRIORITY else ""
        lines.append(
            f"• <{ticket_link(ticket.pk)}|#{ticket.pk}>{flag} {_contact_text(ticket)} — "
            f"{slack_field(reason_label(ticket.reason))} "
            f"(AI confidence {_confidence_text(ticket)})"
        )
    return {
        "text": f"{len(tickets)} new tickets",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


class SlackUnavailable(Exception):
    """Slack could not take the message now (network error, 5xx): retried with the outbox's backoff."""


# A webhook URL is a secret (S4): httpx logs every request's URL at INFO, so those of webhooks are redacted.
_WEBHOOK_URLS: set[str] = set()


def _redacted(value: Any) -> Any:
    text = str(value)
    if text in _WEBHOOK_URLS:
        parts = urlsplit(text)
        return f"{parts.scheme}://{parts.netloc}/…(webhook redacted)"
    return value


class _RedactWebhookUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and _WEBHOOK_URLS:
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactWebhookUrls())


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, min(float(response.headers.get("Retry-After", "")), 900.0))
    except ValueError:
        return 30.0


# Slack's documented webhook error codes: the only remote text an admin sees in an error (see slack_post).
SLACK_ERROR_CODES = frozenset(
    {
        "invalid_payload",
        "invalid_token",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "too_many_attachments",
        "user_not_found",
        "invalid_blocks",
        "invalid_blocks_format",
    }
)


def _status_text(response: httpx.Response) -> str:
    """``HTTP 404 no_service``: the status and, if the body is one of Slack's error codes, that code. Any other
    body is logged for operators, never stored in the error admins read (it may be any server's answer)."""
    body = response.text.strip()
    if body in SLACK_ERROR_CODES:
        return f"HTTP {response.status_code} {body}"
    if body:
        logger.warning("slack: HTTP %s with body %r", response.status_code, body[:200])
    return f"HTTP {response.status_code}"


def slack_post(*, url: str, payload: dict[str, Any], before_send: Callable[[], None] | None = None) -> None:
    """POST one message; raises ``RetryLater`` (429), ``PermanentFailure`` or ``SlackUnavailable``.
    ``before_send`` runs once the client is ready, immediately before the request goes out. The request goes
    through ``halo.outbound`` (a webhook URL Halo may not call fails for good). No error message carries the
    URL (it is a secret; httpx's own messages would)."""
    refusal = slack_webhook_url_refusal(url)
    if refusal is not None:
        raise PermanentFailure(f"The Slack webhook URL is not allowed: {refusal}")
    _WEBHOOK_URLS.add(url)
    try:
        with outbound_client(timeout=TIMEOUT_SECONDS) as client:
            request = client.build_request("POST", url, json=payload)
            if before_send is not None:
                before_send()
            response = client.send(request)
    except OutboundRefused as refused:
        raise PermanentFailure(f"The Slack webhook URL is not allowed: {refused.reason}.") from None
    except httpx.HTTPError as error:
        raise SlackUnavailable(f"Slack could not be reached: {type(error).__name__}") from None
    if response.status_code == 429:
        raise RetryLater("Slack asked to slow down (429)", delay=_retry_after(response))
    if response.status_code in PERMANENT_STATUSES:
        raise PermanentFailure(f"Slack refused the message: {_status_text(response)}")
    if response.status_code >= 300:
        raise SlackUnavailable(f"Slack answered {_status_text(response)}")


# --- The shared limiter ------------------------------------------------------------------------------


def webhook_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def slack_slot_reserve(*, key: str) -> float:
    """Take the webhook's turn: 0 when taken now, else the seconds until it is free. The turn is held for
    ``SEND_HOLD`` (a send's longest run), so no other worker calls the webhook while this send is in flight;
    ``slack_slot_release`` gives it back as soon as Slack answers."""
    with transaction.atomic():
        SlackThrottle.objects.get_or_create(key=key)
        throttle = SlackThrottle.objects.select_for_update().get(key=key)
        now = clock.now()
        if throttle.next_send_at > now:
            return (throttle.next_send_at - now).total_seconds()
        throttle.next_send_at = now + SEND_HOLD
        throttle.save(update_fields=["next_send_at"])
    return 0.0


def slack_slot_release(*, key: str, sent_at: datetime | None) -> None:
    """After Slack answered (or the send failed before reaching it): the next turn opens
    ``SLACK_MIN_INTERVAL`` after the moment the POST went out, and never before now."""
    opens = clock.now()
    if sent_at is not None:
        opens = max(opens, sent_at + SLACK_MIN_INTERVAL)
    SlackThrottle.objects.filter(key=key).update(next_send_at=opens)


def slack_slot_hold(*, key: str, seconds: float) -> None:
    """After a 429: nobody calls this webhook again before ``Retry-After``."""
    SlackThrottle.objects.filter(key=key).update(next_send_at=clock.now() + timedelta(seconds=seconds))


# --- Delivery ----------------------------------------------------------------------------------------


def _slack_payload(tickets: list[Ticket]) -> dict[str, Any] | None:
    if len(tickets) > 1:
        return digest_message(tickets)
    last = (
        Message.objects.filter(conversation__tickets=tickets[0], author=Message.Author.USER)
        .order_by("-id")
        .values_list("body", flat=True)
        .first()
    )
    return ticket_message(tickets[0], last_user_message=last or "")


def first_reply_due_message(tickets: list[Ticket], *, now: datetime) -> dict[str, Any]:
    """The Slack payload warning that tickets' first replies are about to be late (or are late)."""
    lines = [
        f"*:alarm_clock: {len(tickets)} ticket{'s' if len(tickets) != 1 else ''} waiting for a first reply*"
        if len(tickets) > 1
        else "*:alarm_clock: A ticket is waiting for its first reply*"
    ]
    for ticket in tickets:
        due = ticket.first_reply_due_at
        minutes = round((due - now).total_seconds() / 60) if due is not None else 0
        when = f"due in {minutes} min" if minutes > 0 else "overdue" if minutes < 0 else "due now"
        assignee = ticket.assignee.get_full_name() or ticket.assignee.get_username() if ticket.assignee else None
        lines.append(
            f"• <{ticket_link(ticket.pk)}|#{ticket.pk}> {_contact_text(ticket)} — *{when}*"
            f"{f' (assigned to {slack_field(assignee)})' if assignee else ' (unassigned)'}"
        )
    return {
        "text": f"First reply due: {', '.join(f'#{ticket.pk}' for ticket in tickets)}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def _first_reply_payload(tickets: list[Ticket]) -> dict[str, Any] | None:
    waiting = [ticket for ticket in tickets if ticket.first_replied_at is None]
    return first_reply_due_message(waiting, now=clock.now()) if waiting else None


def first_reply_slack_deliver(*, message_id: int) -> None:
    """Warn in Slack about the ticket of outbox row ``message_id`` (with the others waiting for the same
    webhook), skipping tickets answered since the warning was recorded."""
    slack_deliver(message_id=message_id, payload_for=_first_reply_payload)


def slack_deliver(
    *, message_id: int, payload_for: Callable[[list[Ticket]], dict[str, Any] | None] = _slack_payload
) -> None:
    """Announce the ticket of outbox row ``message_id`` in Slack, with every other row waiting for the same
    webhook (one message, or a digest of up to ``DIGEST_MAX``). The outbox keeps the rows' bookkeeping.
    ``payload_for`` builds the message from the tickets (None: nothing to send)."""
    message = outbox_due(message_id=message_id)
    if message is None:  # announced in another delivery's digest, failed, in flight or not due yet
        return
    channel = str(message.payload.get("channel", ""))
    url = webhook_url_for(channel)

    def claim() -> list[OutboxMessage]:
        return outbox_claim_batch(
            task=message.task, workspace_id=message.workspace_id, payload_match={"channel": channel}, limit=DIGEST_MAX
        )

    if not url:
        logger.info("slack: no webhook for %s any more; nothing sent for outbox #%s", channel, message.pk)
        outbox_finish(messages=claim())
        return
    key = webhook_key(url)
    wait = slack_slot_reserve(key=key)
    if wait > 0:
        # While a send is in flight its turn ends when Slack answers, sooner than the hold says: look again
        # after one send interval at most.
        outbox_defer(message=message, delay=min(wait, SLACK_MIN_INTERVAL.total_seconds()) + 0.05)
        return
    batch = claim()
    sent_at: list[datetime] = []
    try:
        ticket_ids = [int(row.payload["ticket_id"]) for row in batch]
        tickets = list(
            Ticket.objects.filter(pk__in=ticket_ids).select_related("contact__company", "assignee").order_by("id")
        )
        payload = payload_for(tickets) if tickets else None
        if payload is not None:
            slack_post(url=url, payload=payload, before_send=lambda: sent_at.append(clock.now()))
    except RetryLater as retry:
        slack_slot_hold(key=key, seconds=retry.delay)
        outbox_finish(messages=batch, error=retry)
        return
    except Exception as error:
        outbox_finish(messages=batch, error=error)
        slack_slot_release(key=key, sent_at=sent_at[0] if sent_at else None)
        return
    # Done before the turn is given back: a worker that dies between Slack's answer and this line is the one
    # window in which a message is sent twice (Slack takes no idempotency key), and it holds one message.
    outbox_finish(messages=batch)
    slack_slot_release(key=key, sent_at=sent_at[0] if sent_at else None)
