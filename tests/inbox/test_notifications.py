"""Notifications: Slack against a local stand-in that enforces 1 message/s and answers 429 + Retry-After;
email against a real local SMTP server (aiosmtpd). Delivery goes through the outbox as in production.

Time is the test's ``clock`` (``halo.clock``, which the stand-in reads too): a wait for the webhook's next
turn, a ``Retry-After`` or a backoff is a step of the clock, not a sleep.
"""

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from escalation.models import EscalationSettings
from halo import clock as halo_clock
from halo.models import OutboxMessage, Workspace
from halo.outbox import LEASE, outbox_process, outbox_sweep
from inbox.models import Ticket
from inbox.notifications import EMAIL_TASK, SLACK_TASK
from inbox.notifications import slack as slack_notifier
from inbox.notifications.emails import assignment_email_deliver
from inbox.notifications.slack import DIGEST_MAX, SEND_HOLD, mrkdwn_escape, slack_deliver
from inbox.services import ticket_update
from tests.halo.factories import CompanyFactory, MembershipFactory
from tests.inbox.factories import CustomInboxFactory
from tests.inbox.slack_stand_in import SlackStandIn, slack_stand_in_running
from tests.support.clock import ManualClock
from tests.support.processes import free_port, wait_until

pytestmark = pytest.mark.django_db


# --- A Slack incoming-webhook stand-in (shared with bench/notifications.py) ---------------------------


@pytest.fixture
def slack(clock: ManualClock) -> Iterator[SlackStandIn]:
    with slack_stand_in_running() as stand_in:
        yield stand_in


@pytest.fixture
def slack_workspace(workspace: Workspace, slack: SlackStandIn) -> Workspace:
    workspace.slack_webhook_url = slack.url
    workspace.save()
    return workspace


def slack_rows() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(task=SLACK_TASK).order_by("id"))


def deliver_due() -> None:
    """What the workers do with the Slack tasks queued now: deliver every row that is due."""
    now = halo_clock.now()
    for message in OutboxMessage.objects.filter(task=SLACK_TASK, state="pending", next_attempt_at__lte=now).order_by(
        "id"
    ):
        slack_deliver(message_id=message.pk)


def deliver_all(clock: ManualClock, *, rounds: int = 50) -> None:
    """Deliver, then move the clock to the next row's turn (the rate limit, a Retry-After, a backoff), until
    no Slack row waits."""
    for _ in range(rounds):
        deliver_due()
        waiting = OutboxMessage.objects.filter(task=SLACK_TASK, state="pending").order_by("next_attempt_at").first()
        if waiting is None:
            return
        clock.advance_to(waiting.next_attempt_at)
    raise AssertionError(f"Slack rows still pending after {rounds} rounds")


# --- Slack -------------------------------------------------------------------------------------------


def test_new_ticket_is_announced_in_slack_with_its_context(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    company = CompanyFactory(workspace=slack_workspace, name="Acme Corp")
    ticket = escalate(name="Jane Roe", email="jane@example.com", company=company, body="Refund please")
    Ticket.objects.filter(pk=ticket.pk).update(confidence=42, status="priority")
    [row] = slack_rows()
    assert row.payload == {"ticket_id": ticket.pk, "channel": f"workspace:{slack_workspace.pk}"}

    deliver_all(clock)

    [text] = slack.texts()
    assert f"/inbox/tickets/{ticket.pk}/|Ticket #{ticket.pk}>" in text
    assert "*Contact:* Jane Roe (jane@example.com)" in text
    assert "*Company:* Acme Corp" in text
    assert "*Reason:* the customer asked for a human" in text
    assert "*AI confidence:* 42%" in text
    assert "*Priority:* yes" in text
    assert "> Refund please" in text
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("done", 1)


def test_customer_text_is_escaped_for_slack(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    escalate(name="<!channel> & <https://evil.example|click me>", body="<@U123> hi & bye")
    deliver_all(clock)

    [text] = slack.texts()
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click me&gt;" in text
    assert "&lt;@U123&gt; hi &amp; bye" in text
    assert mrkdwn_escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_webhook_url_is_never_logged(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    secret = slack.url.rsplit("/", 1)[1]
    slack.forced = [(500, {}, "oops")]
    escalate()
    with caplog.at_level(logging.DEBUG):
        deliver_all(clock)
    assert len(slack.accepted) == 1
    assert secret not in caplog.text
    assert "webhook redacted" in caplog.text
    assert all(secret not in row.last_error for row in OutboxMessage.objects.all())


def test_merges_and_workspaces_without_a_webhook_send_nothing(workspace: Workspace, escalate) -> None:
    ticket = escalate()
    escalate(contact=ticket.contact)
    assert slack_rows() == []


def test_a_webhook_removed_before_delivery_finishes_its_rows_without_sending(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    escalate()
    escalate()
    slack_workspace.slack_webhook_url = ""
    slack_workspace.save()

    deliver_all(clock)

    assert slack.requests == 0
    assert [row.state for row in slack_rows()] == ["done", "done"]


def test_custom_inbox_webhook_takes_precedence(
    workspace: Workspace, slack: SlackStandIn, escalate, agent, clock: ManualClock
) -> None:
    billing = CustomInboxFactory(workspace=workspace, name="Billing", slack_webhook_url=slack.url + "/billing")
    workspace.slack_webhook_url = "http://127.0.0.1:9/unused"
    workspace.save()
    EscalationSettings.objects.filter(agent=agent).update(routing_type="inbox", default_inbox=billing)

    escalate(name="Routed Person")
    [row] = slack_rows()
    assert row.payload["channel"] == f"inbox:{billing.pk}"
    deliver_all(clock)
    assert "Routed Person" in slack.texts()[0]


def test_one_message_per_second_and_the_backlog_rolls_into_a_digest(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    tickets = [escalate(name="Customer 0")]
    started = clock.monotonic()
    deliver_due()  # the first one goes out alone, at once
    tickets += [escalate(name=f"Customer {n}") for n in range(1, 6)]  # these arrive within the same second

    deliver_all(clock)

    assert slack.rejected_429 == 0  # the shared limiter kept us under 1 message/s
    assert len(slack.accepted) == 2
    assert clock.monotonic() - started >= 1.0
    single, digest = slack.texts()
    assert "Customer 0" in single
    assert digest.startswith("*5 new tickets*")
    for ticket in tickets[1:]:
        assert f"|#{ticket.pk}>" in digest
    rows = slack_rows()
    assert {row.state for row in rows} == {"done"}
    assert all(row.attempts <= 1 for row in rows)  # waiting for the limiter is not a failed attempt


def test_429_retry_after_is_respected_by_every_worker(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    slack.forced = [(429, {"Retry-After": "2"}, "rate_limited")]
    escalate(name="First")
    escalate(name="Second")

    deliver_due()

    rows = slack_rows()
    assert [row.state for row in rows] == ["pending", "pending"]
    assert rows[0].next_attempt_at >= clock.now() + timedelta(seconds=1.5)
    assert "429" in rows[0].last_error
    clock.advance(1.5)
    deliver_due()
    OutboxMessage.objects.update(next_attempt_at=clock.now())  # a task arriving early must wait as well
    deliver_due()
    assert slack.requests == 1  # nobody calls before Retry-After

    clock.advance(0.6)
    deliver_all(clock)
    assert slack.requests == 2
    assert "*2 new tickets*" in slack.texts()[0]


def test_revoked_webhook_fails_permanently_and_visibly(
    slack_workspace: Workspace, slack: SlackStandIn, escalate
) -> None:
    slack.forced = [(404, {}, "no_service")]
    escalate()
    escalate()

    deliver_due()

    rows = slack_rows()
    assert [row.state for row in rows] == ["failed", "failed"]
    assert all("404" in row.last_error for row in rows)
    assert slack.accepted == []


def test_server_error_is_retried_with_backoff(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    slack.forced = [(500, {}, "oops")]
    escalate()
    deliver_due()
    [row] = slack_rows()
    assert row.state == "pending"
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=4)
    assert "500" in row.last_error

    deliver_all(clock)
    assert len(slack.accepted) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("done", 2)


class WorkerKilled(BaseException):
    """A worker process dying mid-delivery (not an ``Exception``: nothing can record it)."""


def test_worker_killed_mid_delivery_delivers_exactly_once_after_restart(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R2."""
    escalate()
    [row] = slack_rows()

    def dies(**_: Any) -> None:
        raise WorkerKilled

    with monkeypatch.context() as dying:
        dying.setattr(slack_notifier, "slack_post", dies)
        with pytest.raises(WorkerKilled):
            slack_deliver(message_id=row.pk)
    row.refresh_from_db()
    assert row.state == "running"  # claimed by the dead worker
    slack_deliver(message_id=row.pk)  # its lease still holds
    assert slack.requests == 0

    clock.advance((LEASE + timedelta(seconds=1)).total_seconds())  # the lease runs out
    assert outbox_sweep(stale_after=timedelta(0)) >= 1  # the restarted worker's sweep finds it (and the summary)
    slack_deliver(message_id=row.pk)
    slack_deliver(message_id=row.pk)  # a duplicate task is a no-op

    assert len(slack.accepted) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("done", 2)


def test_a_worker_killed_mid_digest_duplicates_at_most_that_one_message(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow Slack: while a digest is in flight (longer than the 1.1 s send interval) every other worker's
    task for the webhook waits, so a worker killed mid-send has one message in flight; after the restart
    that message goes out again as one (Slack may have posted it: the one duplicate), then the rest."""
    tickets = [escalate(name=f"Customer {n}") for n in range(DIGEST_MAX + 5)]
    in_flight: list[dict[str, Any]] = []

    def slow_slack_then_killed(*, url: str, payload: dict[str, Any], before_send: Any = None, **_: Any) -> None:
        if before_send is not None:
            before_send()
        in_flight.append(payload)
        clock.advance(3)  # Slack has not answered yet ...
        for row in slack_rows():  # ... while the other workers run the webhook's other tasks
            slack_deliver(message_id=row.pk)
        raise WorkerKilled

    with monkeypatch.context() as dying:
        dying.setattr(slack_notifier, "slack_post", slow_slack_then_killed)
        with pytest.raises(WorkerKilled):
            slack_deliver(message_id=slack_rows()[0].pk)
    assert len(in_flight) == 1  # no second message while the first was in flight
    assert slack.requests == 0
    [dead_digest] = [block["text"]["text"] for block in in_flight[0]["blocks"]]

    clock.advance((LEASE + SEND_HOLD).total_seconds())  # the dead worker's lease and turn run out
    outbox_sweep(stale_after=timedelta(0))
    deliver_all(clock)

    resent, rest = slack.texts()
    assert resent == dead_digest  # the batch in flight, sent again whole
    announced = slack.ticket_ids()
    assert sorted(announced) == sorted(t.pk for t in tickets)  # after the restart: none lost, none twice
    assert f"*{DIGEST_MAX} new tickets*" in resent
    assert rest.startswith("*5 new tickets*")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_escalations_with_concurrent_workers_lose_and_duplicate_nothing(
    slack_workspace: Workspace, slack: SlackStandIn, escalate, clock: ManualClock
) -> None:
    """A small B6: 40 new tickets, 3 worker threads, a stand-in that allows 1 message/s; the clock runs
    about five times faster than real time."""
    if connection.vendor != "postgresql":
        pytest.skip("worker threads need PostgreSQL (the SQLite test database is in memory, locked per table)")
    tickets = [escalate() for _ in range(40)]
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                try:
                    deliver_due()
                except Exception:  # a deadlock victim or the like: the row stays due, try again
                    stop.wait(0.02)
                stop.wait(0.01)
        finally:
            connection.close()

    def drained() -> bool:
        clock.advance(0.25)
        return not OutboxMessage.objects.filter(task=SLACK_TASK).exclude(state="done").exists()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_until(drained, timeout=60, what="every Slack row to be delivered")
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert sorted(slack.ticket_ids()) == sorted(t.pk for t in tickets)  # none lost, none twice
    assert slack.requests <= 1.1 * len(slack.accepted) + 1  # no retry storm


# --- Email -------------------------------------------------------------------------------------------


class Mailbox:
    def __init__(self, refuse: bool = False) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://halo.example.com"
    yield mailbox
    controller.stop()


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def email_rows() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(task=EMAIL_TASK).order_by("id"))


def test_assignee_is_emailed_through_smtp(smtp: Mailbox, workspace: Workspace, escalate, agent) -> None:
    kim = MembershipFactory(workspace=workspace, user__username="kim@acme.test", user__first_name="Kim").user
    EscalationSettings.objects.filter(agent=agent).update(default_assignee=kim)
    ticket = escalate(name='<b>Bobby</b> "Tables"', body="Help")
    [row] = email_rows()

    outbox_process(message_id=row.pk, handler=assignment_email_deliver)

    [message] = smtp.messages
    assert smtp.envelopes[0].rcpt_tos == ["kim@acme.test"]
    assert message["Subject"] == f'[Acme] Ticket #{ticket.pk} from <b>Bobby</b> "Tables" is yours'
    assert message["Message-ID"] == f"<halo-outbox-{row.pk}@halo.invalid>"
    body = parts(message)
    assert f"https://halo.example.com/inbox/tickets/{ticket.pk}/" in body["text/plain"]
    assert "the customer asked for a human" in body["text/plain"]
    assert "&lt;b&gt;Bobby&lt;/b&gt; &quot;Tables&quot;" in body["text/html"]
    assert "<b>Bobby</b>" not in body["text/html"]
    row.refresh_from_db()
    assert row.state == "done"


def test_reassigned_before_delivery_sends_nothing(smtp: Mailbox, workspace: Workspace, escalate) -> None:
    kim = MembershipFactory(workspace=workspace, user__username="kim@acme.test").user
    lee = MembershipFactory(workspace=workspace, user__username="lee@acme.test").user
    ticket = escalate()
    ticket_update(ticket=ticket, data={"assignee": kim})
    ticket_update(ticket=ticket, data={"assignee": lee})

    for row in email_rows():
        outbox_process(message_id=row.pk, handler=assignment_email_deliver)

    assert [m["To"] for m in smtp.messages] == ["lee@acme.test"]


def test_unreachable_smtp_server_is_retried(smtp: Mailbox, workspace: Workspace, escalate, settings: Any) -> None:
    kim = MembershipFactory(workspace=workspace, user__username="kim@acme.test").user
    ticket = escalate()
    ticket_update(ticket=ticket, data={"assignee": kim})
    settings.EMAIL_PORT = free_port()  # nothing listens there
    [row] = email_rows()

    outbox_process(message_id=row.pk, handler=assignment_email_deliver)

    row.refresh_from_db()
    assert row.state == "pending"
    assert "ConnectionRefusedError" in row.last_error


def test_refused_recipient_fails_permanently(smtp: Mailbox, workspace: Workspace, escalate) -> None:
    smtp.refuse = True
    kim = MembershipFactory(workspace=workspace, user__username="kim@acme.test").user
    ticket = escalate()
    ticket_update(ticket=ticket, data={"assignee": kim})
    [row] = email_rows()

    outbox_process(message_id=row.pk, handler=assignment_email_deliver)

    row.refresh_from_db()
    assert row.state == "failed"
    assert "refused the recipient" in row.last_error
