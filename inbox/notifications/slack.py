"""Slack incoming-webhook delivery: the message, the per-webhook rate limit, 429 handling and the digest.

``slack_deliver`` is the outbox handler of one "new ticket" row (``inbox.tasks.slack_notify``):

1. It reserves the webhook's next send slot in ``SlackThrottle`` (a row per webhook, locked while it is
   read and moved on, so every worker and process shares it): at most one message per
   ``SLACK_MIN_INTERVAL`` (1.1 s, a margin under Slack's 1 message/s), counted from the moment each
   message is actually sent (the slot is pushed back again right before the POST). No slot free: the row is retried
   when the slot opens; that wait is not counted as a failed attempt.
2. With a slot, it also claims the backlog: every other pending row of the same webhook (up to
   ``DIGEST_MAX``). One ticket is a full message; several are rolled into one digest message. Claimed
   rows are marked done with the send, so each ticket is announced exactly once.
3. A 429 moves the webhook's slot to ``Retry-After`` for every worker, gives the backlog back and retries
   then. A 400/403/404/410 (bad payload, revoked webhook, archived channel) is permanent: the rows fail
   at once, visible to admins. Other errors retry with the outbox's backoff.

Customer text (names, company, message) is escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so it can
neither form a link nor a ``<!channel>`` mention. The webhook URL is a secret: it is never logged (httpx's
request log line shows it redacted) and errors recorded for admins carry the status, not the URL.
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone

from agents.models import Message
from halo.models import OutboxMessage, Workspace
from halo.outbox import LEASE, PermanentFailure, RetryLater
from inbox.models import CustomInbox, SlackThrottle, Ticket, reason_label
from inbox.notifications import SLACK_TASK

logger = logging.getLogger(__name__)

SLACK_MIN_INTERVAL = timedelta(seconds=1.1)
DIGEST_MAX = 25
TIMEOUT_SECONDS = 10.0
PERMANENT_STATUSES = {400, 403, 404, 410}
QUOTE_CHARS = 300


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters, as its docs ask (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_url_for(channel: str) -> str:
    """The webhook of ``inbox:<id>`` / ``workspace:<id>`` now (an inbox without one falls back)."""
    kind, _, raw_id = channel.partition(":")
    if not raw_id.isdigit():
        return ""
    if kind == "inbox":
        inbox = CustomInbox.objects.select_related("workspace").filter(pk=int(raw_id)).first()
        if inbox is None:
            return ""
        return inbox.slack_webhook_url or inbox.workspace.slack_webhook_url
    if kind == "workspace":
        return str(Workspace.objects.filter(pk=int(raw_id)).values_list("slack_webhook_url", flat=True).first() or "")
    return ""


def ticket_link(ticket_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('inbox:ticket', args=[ticket_id])}"


def _contact_text(ticket: Ticket) -> str:
    contact = ticket.contact
    name = contact.name or contact.email or contact.user_id or f"Visitor {contact.pk}"
    if contact.email and contact.name:
        name = f"{contact.name} ({contact.email})"
    return mrkdwn_escape(name)


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
        f"*Company:* {mrkdwn_escape(str(company)) if company is not None else '—'}",
        f"*Reason:* {mrkdwn_escape(reason)}",
        f"*AI confidence:* {_confidence_text(ticket)}",
        f"*Priority:* {'yes' if priority else 'no'}",
    ]
    if last_user_message:
        quote = " ".join(last_user_message.split())[:QUOTE_CHARS]
        lines.append(f"> {mrkdwn_escape(quote)}")
    fallback = f"New ticket #{ticket.pk} from {_contact_text(ticket)}: {mrkdwn_escape(reason)}"
    return {"text": fallback, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def digest_message(tickets: list[Ticket]) -> dict[str, Any]:
    """One Slack payload for a backlog of new tickets (sent when the rate limit held several back)."""
    lines = [f"*{len(tickets)} new tickets*"]
    for ticket in tickets:
        flag = " :rotating_light:" if ticket.status == Ticket.Status.PRIORITY else ""
        lines.append(
            f"• <{ticket_link(ticket.pk)}|#{ticket.pk}>{flag} {_contact_text(ticket)} — "
            f"{mrkdwn_escape(reason_label(ticket.reason))} "
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


def slack_post(
    *,
    url: str,
    payload: dict[str, Any],
    transport: httpx.BaseTransport | None = None,
    before_send: Callable[[], None] | None = None,
) -> None:
    """POST one message; raises ``RetryLater`` (429), ``PermanentFailure`` or ``SlackUnavailable``.
    ``before_send`` runs once the client is ready, immediately before the request goes out. No error
    message carries the URL (it is a secret; httpx's own messages would)."""
    _WEBHOOK_URLS.add(url)
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            request = client.build_request("POST", url, json=payload)
            if before_send is not None:
                before_send()
            response = client.send(request)
    except httpx.HTTPError as error:
        raise SlackUnavailable(f"Slack could not be reached: {type(error).__name__}") from None
    if response.status_code == 429:
        raise RetryLater("Slack asked to slow down (429)", delay=_retry_after(response))
    if response.status_code in PERMANENT_STATUSES:
        raise PermanentFailure(f"Slack refused the message: HTTP {response.status_code} {response.text[:200]}")
    if response.status_code >= 300:
        raise SlackUnavailable(f"Slack answered HTTP {response.status_code} {response.text[:200]}")


# --- The shared limiter ------------------------------------------------------------------------------


def webhook_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def slack_slot_reserve(*, key: str) -> float:
    """Take the webhook's send slot: 0 when taken now, else the seconds until it opens."""
    with transaction.atomic():
        SlackThrottle.objects.get_or_create(key=key)
        throttle = SlackThrottle.objects.select_for_update().get(key=key)
        now = timezone.now()
        if throttle.next_send_at > now:
            return (throttle.next_send_at - now).total_seconds()
        throttle.next_send_at = now + SLACK_MIN_INTERVAL
        throttle.save(update_fields=["next_send_at"])
    return 0.0


def slack_slot_restart(*, key: str) -> None:
    """Right before the POST: the next slot opens ``SLACK_MIN_INTERVAL`` after *this* send, not after the
    reservation. Building a digest takes longer than a single message, so without this a quick sender that
    reserved the next slot could reach Slack less than a second after a slow one (and get a 429)."""
    SlackThrottle.objects.filter(key=key).update(
        next_send_at=Greatest(F("next_send_at"), Value(timezone.now() + SLACK_MIN_INTERVAL))
    )


def slack_slot_hold(*, key: str, seconds: float) -> None:
    """After a 429: nobody calls this webhook again before ``Retry-After``."""
    SlackThrottle.objects.filter(key=key).update(next_send_at=timezone.now() + timedelta(seconds=seconds))


# --- The backlog -------------------------------------------------------------------------------------


def _claim_backlog(message: OutboxMessage, channel: str) -> list[OutboxMessage]:
    now = timezone.now()
    with transaction.atomic():
        pending = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(task=SLACK_TASK, state=OutboxMessage.State.PENDING, payload__channel=channel)
            .exclude(pk=message.pk)
            .order_by("id")
        )
        ids = list(pending.values_list("pk", flat=True)[: DIGEST_MAX - 1])
        OutboxMessage.objects.filter(pk__in=ids, state=OutboxMessage.State.PENDING).update(
            state=OutboxMessage.State.RUNNING, lease_expires_at=now + LEASE, attempts=F("attempts") + 1
        )
    return list(OutboxMessage.objects.filter(pk__in=ids, state=OutboxMessage.State.RUNNING).order_by("id"))


def _release(claimed: list[OutboxMessage], *, delay: float, error: str) -> None:
    OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(
        state=OutboxMessage.State.PENDING,
        lease_expires_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        attempts=F("attempts") - 1,
        last_error=error[:2000],
    )


def _finish(claimed: list[OutboxMessage], *, error: str = "") -> None:
    now = timezone.now()
    rows = OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed])
    if error:
        rows.update(state=OutboxMessage.State.FAILED, lease_expires_at=None, last_error=error[:2000])
    else:
        rows.update(state=OutboxMessage.State.DONE, lease_expires_at=None, done_at=now)


def _not_an_attempt(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=F("attempts") - 1)
    message.attempts -= 1


def slack_deliver(message: OutboxMessage, *, transport: httpx.BaseTransport | None = None) -> None:
    """Outbox handler: announce the row's ticket (and any backlog of the same webhook) in Slack."""
    channel = str(message.payload.get("channel", ""))
    url = webhook_url_for(channel)
    if not url:
        logger.info("slack: no webhook for %s any more; nothing sent for outbox #%s", channel, message.pk)
        return
    key = webhook_key(url)
    wait = slack_slot_reserve(key=key)
    if wait > 0:
        _not_an_attempt(message)
        raise RetryLater("Waiting for the webhook's rate limit (1 message/s).", delay=wait + 0.05)
    claimed = _claim_backlog(message, channel)
    ticket_ids = [int(row.payload["ticket_id"]) for row in [message, *claimed]]
    tickets = list(Ticket.objects.filter(pk__in=ticket_ids).select_related("contact__company").order_by("id"))
    if not tickets:
        _finish(claimed)
        return
    if len(tickets) == 1:
        last = (
            Message.objects.filter(conversation__tickets=tickets[0], author=Message.Author.USER)
            .order_by("-id")
            .values_list("body", flat=True)
            .first()
        )
        payload = ticket_message(tickets[0], last_user_message=last or "")
    else:
        payload = digest_message(tickets)
    try:
        slack_post(url=url, payload=payload, transport=transport, before_send=lambda: slack_slot_restart(key=key))
    except RetryLater as retry:
        slack_slot_hold(key=key, seconds=retry.delay)
        _release(claimed, delay=retry.delay, error=str(retry))
        raise
    except PermanentFailure as failure:
        _finish(claimed, error=str(failure))
        raise
    except Exception as error:
        _release(claimed, delay=5, error=f"{type(error).__name__}: {error}")
        raise
    _finish(claimed)
