"""Webhooks: the endpoints API, events recorded with the change that causes them, signed delivery against a
local receiver (the real wire format), retries, ``Retry-After``, the delivery log, redelivery and pausing."""

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from escalation.flow import ai_turn_submit, conversation_start, handoff_request, message_receive
from halo.models import Membership, OutboxMessage, WebhookDelivery, WebhookEndpoint, Workspace
from halo.outbox import MAX_ATTEMPTS, outbox_process
from halo.tasks import webhook_paused_email
from halo.webhooks.delivery import event_body, retry_after_seconds, signature_header, webhook_deliver
from halo.webhooks.events import DELIVER_TASK, WebhookEvent, webhook_event_record
from halo.webhooks.services import (
    PAUSED_EMAIL_TASK,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_pause,
    webhook_endpoint_resume,
    webhook_redeliver,
)
from inbox.models import Ticket
from inbox.services import ticket_reply, ticket_update
from tests.agents.factories import ConversationFactory
from tests.agents.standins import StandIn, stand_in_server
from tests.halo.factories import ContactFactory, MembershipFactory, UserFactory, WorkspaceFactory
from tests.support.clock import ManualClock

pytestmark = pytest.mark.django_db

HTTPS_URL = "https://bot.example.com/halo"


class Receiver:
    """Answers each delivery with the next scripted (status, headers), then 204."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []

    def __call__(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        status, headers = self.script.pop(0) if self.script else (204, {})
        return status, "", headers


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, StandIn]]:
    script = Receiver()
    with stand_in_server(script) as server:
        yield script, server


def endpoint_for(workspace: Workspace, url: str, *events: WebhookEvent) -> WebhookEndpoint:
    endpoint = webhook_endpoint_create(workspace=workspace, url=url, events=[event.value for event in events])
    workspace.refresh_from_db()
    return endpoint


def deliveries() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(task=DELIVER_TASK).order_by("id"))


def deliver(message: OutboxMessage) -> OutboxMessage:
    processed = outbox_process(message_id=message.pk, handler=webhook_deliver)
    assert processed is not None
    return processed


def valid_signature(header: str, body: bytes, secret: str) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


# --- The endpoints API ----------------------------------------------------------------------------


class TestApi:
    def test_create_returns_the_secret_once_and_the_list_never_shows_it(self, api: APIClient) -> None:
        created = api.post("/api/v1/webhooks", {"url": HTTPS_URL, "events": ["message.created"]}, format="json")

        assert created.status_code == 201, created.json()
        body = created.json()
        assert body["secret"].startswith("whsec_")
        assert {key: body[key] for key in ("url", "events", "paused")} == {
            "url": HTTPS_URL,
            "events": ["message.created"],
            "paused": False,
        }
        listed = api.get("/api/v1/webhooks")
        assert [row["id"] for row in listed.json()["results"]] == [body["id"]]
        assert body["secret"] not in listed.content.decode()
        assert "secret" not in listed.json()["results"][0]

    @pytest.mark.parametrize(
        ("payload", "field", "words"),
        [
            ({"url": HTTPS_URL, "events": ["message.deleted"]}, "events", "Unknown event: message.deleted"),
            ({"url": HTTPS_URL, "events": []}, "events", ""),
            ({"url": "http://bot.example.com/halo", "events": ["message.created"]}, "url", "https://"),
            ({"url": "https://10.1.2.3/halo", "events": ["message.created"]}, "url", "HALO_OUTBOUND_ALLOW_HOSTS"),
            ({"url": "https://169.254.169.254/latest", "events": ["ticket.created"]}, "url", "non-public"),
            ({"url": "ftp://bot.example.com", "events": ["ticket.created"]}, "url", "valid"),
            ({"url": HTTPS_URL, "events": "message.created"}, "events", ""),
            ({"url": HTTPS_URL, "events": [7]}, "events", ""),
            ({"url": HTTPS_URL, "events": ["ticket.created"] * 8}, "events", ""),
            ({"url": 17, "events": ["ticket.created"]}, "url", ""),
            ({"url": "https://" + "a" * 600 + ".com", "events": ["ticket.created"]}, "url", ""),
            ({"url": HTTPS_URL, "events": ["message.created"], "secret": "mine"}, "secret", "Unknown field"),
        ],
    )
    def test_bad_input_is_a_field_error_and_creates_nothing(
        self, api: APIClient, payload: dict[str, Any], field: str, words: str
    ) -> None:
        response = api.post("/api/v1/webhooks", payload, format="json")

        assert response.status_code == 400, response.json()
        assert response.json()["code"] == "invalid"
        assert words in " ".join(response.json()["fields"][field])
        assert not WebhookEndpoint.objects.exists()

    def test_plain_http_is_accepted_with_debug_on_or_for_a_host_the_operator_allowed(
        self, api: APIClient, settings: Any
    ) -> None:
        settings.HALO_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
        allowed = {"url": "http://127.0.0.1:9/h", "events": ["ticket.created"]}
        assert api.post("/api/v1/webhooks", allowed, format="json").status_code == 201
        settings.HALO_OUTBOUND_ALLOW_HOSTS = []
        settings.DEBUG = True
        debug = {"url": "http://bot.example.com/h", "events": ["ticket.created"]}
        assert api.post("/api/v1/webhooks", debug, format="json").status_code == 201

    def test_delete_removes_the_endpoint_and_another_workspaces_id_is_not_found(
        self, api: APIClient, workspace: Workspace
    ) -> None:
        ours = endpoint_for(workspace, HTTPS_URL, WebhookEvent.MESSAGE_CREATED)
        theirs = endpoint_for(WorkspaceFactory(), HTTPS_URL, WebhookEvent.MESSAGE_CREATED)

        assert api.delete(f"/api/v1/webhooks/{theirs.pk}").status_code == 404
        assert api.delete(f"/api/v1/webhooks/{ours.pk}").status_code == 204

        assert list(WebhookEndpoint.objects.all()) == [theirs]
        workspace.refresh_from_db()
        assert workspace.webhook_routes == []
        assert [row["id"] for row in api.get("/api/v1/webhooks").json()["results"]] == []

    def test_list_uses_a_fixed_number_of_queries(
        self, api: APIClient, workspace: Workspace, django_assert_max_num_queries: Any
    ) -> None:
        for _ in range(5):
            endpoint_for(workspace, HTTPS_URL, WebhookEvent.TICKET_CREATED)
        with django_assert_max_num_queries(3):  # the key, its last-used stamp at most, the page
            assert len(api.get("/api/v1/webhooks").json()["results"]) == 5


# --- Routes: which endpoints an event goes to ------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["create", "delete", "pause", "resume"]),
            st.lists(st.sampled_from(list(WebhookEvent)), min_size=1, max_size=3),
            st.integers(0, 5),
        ),
        max_size=8,
    )
)
def test_routes_always_list_the_active_endpoints_and_their_events(operations: list[Any]) -> None:
    with transaction.atomic():
        workspace = WorkspaceFactory()
        for operation, events, index in operations:
            endpoints = list(WebhookEndpoint.objects.filter(workspace=workspace).order_by("id"))
            if operation == "create":
                webhook_endpoint_create(workspace=workspace, url=HTTPS_URL, events=[event.value for event in events])
            elif endpoints:
                endpoint = endpoints[index % len(endpoints)]
                if operation == "delete":
                    webhook_endpoint_delete(endpoint=endpoint)
                elif operation == "pause":
                    webhook_endpoint_pause(endpoint=endpoint, now=endpoint.created_at)
                else:
                    webhook_endpoint_resume(endpoint=endpoint)
        workspace.refresh_from_db()
        expected = [
            {"id": endpoint.pk, "events": endpoint.events}
            for endpoint in WebhookEndpoint.objects.filter(workspace=workspace, paused_at__isnull=True).order_by("id")
        ]
        assert workspace.webhook_routes == expected
        transaction.set_rollback(True)


# --- Events recorded with the change -----------------------------------------------------------------


class TestEvents:
    def test_a_widget_message_records_the_users_and_the_ais_messages(
        self, workspace: Workspace, conversation: Conversation
    ) -> None:
        endpoint_for(workspace, HTTPS_URL, WebhookEvent.MESSAGE_CREATED)
        conversation = refreshed(conversation)

        result = message_receive(conversation=conversation, body="Hello there")

        events = [message.payload["event"] for message in deliveries()]
        assert [event["type"] for event in events] == ["message.created", "message.created"]
        assert [event["data"]["message"]["id"] for event in events] == [message.pk for message in result.messages]
        assert [event["data"]["message"]["author"] for event in events] == ["user", "ai"]
        assert events[0]["data"]["message"]["body"] == "Hello there"
        assert events[0]["data"]["conversation"]["id"] == conversation.pk
        assert events[0]["data"]["conversation"]["contact"]["id"] == conversation.contact_id
        assert events[0]["workspace"] == workspace.pk
        assert events[0]["id"] != events[1]["id"]

    def test_an_event_no_endpoint_wants_records_nothing(self, workspace: Workspace, conversation: Conversation) -> None:
        endpoint_for(workspace, HTTPS_URL, WebhookEvent.TICKET_CLOSED)
        message_receive(conversation=refreshed(conversation), body="Hello there")
        assert deliveries() == []

    def test_each_subscribed_endpoint_gets_the_event_under_one_id(self, workspace: Workspace) -> None:
        first = endpoint_for(workspace, HTTPS_URL, WebhookEvent.TICKET_CREATED)
        second = endpoint_for(workspace, "https://other.example.com/h", WebhookEvent.TICKET_CREATED)
        endpoint_for(workspace, "https://third.example.com/h", WebhookEvent.MESSAGE_CREATED)

        event_id = webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {"x": 1})

        rows = deliveries()
        assert [row.payload["endpoint_id"] for row in rows] == [first.pk, second.pk]
        assert {row.payload["event"]["id"] for row in rows} == {event_id}

    def test_a_rolled_back_change_records_no_event(self, workspace: Workspace, conversation: Conversation) -> None:
        endpoint_for(workspace, HTTPS_URL, WebhookEvent.MESSAGE_CREATED)
        conversation = refreshed(conversation)

        def failing_request() -> None:
            with transaction.atomic():
                message_receive(conversation=conversation, body="Hello there")
                raise RuntimeError("the request failed after the message")

        with pytest.raises(RuntimeError):
            failing_request()
        assert deliveries() == []

    def test_a_handoff_records_the_handoff_the_notice_and_the_new_ticket(
        self, workspace: Workspace, conversation: Conversation
    ) -> None:
        endpoint_for(
            workspace,
            HTTPS_URL,
            WebhookEvent.CONVERSATION_HANDED_OFF,
            WebhookEvent.TICKET_CREATED,
            WebhookEvent.MESSAGE_CREATED,
        )
        handoff = handoff_request(conversation=refreshed(conversation))

        events = [message.payload["event"] for message in deliveries()]
        assert [event["type"] for event in events] == ["ticket.created", "conversation.handed_off", "message.created"]
        assert events[0]["data"]["ticket"]["id"] == handoff.ticket.pk
        assert events[0]["data"]["ticket"]["reason"] == "manual"
        assert events[0]["data"]["conversation"] == conversation.pk
        assert events[1]["data"]["conversation"]["status"] == "handed_off"
        assert events[1]["data"]["ticket"] == handoff.ticket.pk
        assert events[2]["data"]["message"]["author"] == "system"

    def test_a_teammate_reply_and_a_close_record_their_events(
        self, workspace: Workspace, conversation: Conversation, teammate: Membership
    ) -> None:
        ticket = handoff_request(conversation=refreshed(conversation)).ticket
        endpoint_for(
            workspace,
            HTTPS_URL,
            WebhookEvent.MESSAGE_CREATED,
            WebhookEvent.TICKET_UPDATED,
            WebhookEvent.TICKET_CLOSED,
            WebhookEvent.CONVERSATION_HANDED_BACK,
        )
        ticket = Ticket.objects.get(pk=ticket.pk)
        ticket_reply(ticket=ticket, teammate=teammate.user, body="On it!")
        ticket_update(ticket=ticket, data={"assignee": teammate.user_id})
        ticket_update(ticket=Ticket.objects.get(pk=ticket.pk), data={"status": "closed"})

        events = [message.payload["event"] for message in deliveries()]
        assert [event["type"] for event in events] == [
            "message.created",
            "ticket.updated",
            "conversation.handed_back",
            "message.created",
            "ticket.closed",
        ]
        assert events[0]["data"]["message"]["author"] == "teammate"
        assert events[1]["data"]["changed"] == ["assignee"]
        assert events[1]["data"]["ticket"]["assignee"] == teammate.user_id
        assert events[2]["data"]["conversation"]["status"] == "open"
        assert events[3]["data"]["message"]["author"] == "system"  # the closing notice the widget shows
        assert events[4]["data"]["ticket"]["status"] == "closed"

    def test_an_external_bots_turn_records_its_message(self, workspace: Workspace, conversation: Conversation) -> None:
        endpoint_for(workspace, HTTPS_URL, WebhookEvent.MESSAGE_CREATED)
        ai_turn_submit(
            conversation=refreshed(conversation), reply="From the bot", confidence=80, tools=[], knowledge_sources=[]
        )
        [event] = [message.payload["event"] for message in deliveries()]
        assert (event["data"]["message"]["author"], event["data"]["message"]["body"]) == ("ai", "From the bot")

    def test_a_new_conversation_is_recorded_with_its_first_message(self, workspace: Workspace, agent: Agent) -> None:
        endpoint_for(workspace, HTTPS_URL, WebhookEvent.CONVERSATION_CREATED, WebhookEvent.MESSAGE_CREATED)
        started = conversation_start(
            workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace), body="Hi"
        )

        events = [message.payload["event"] for message in deliveries()]
        assert [event["type"] for event in events] == ["conversation.created", "message.created", "message.created"]
        assert events[0]["data"]["conversation"]["id"] == started.conversation.pk


def refreshed(conversation: Conversation) -> Conversation:
    """The conversation as a widget request loads it (with its workspace's current routes)."""
    return Conversation.objects.select_related("workspace", "contact", "agent__escalation_settings").get(
        pk=conversation.pk
    )


@pytest.fixture
def conversation(workspace: Workspace, agent: Agent) -> Conversation:
    return ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))


# --- Delivery ------------------------------------------------------------------------------------


class TestDelivery:
    def test_a_delivery_is_the_event_signed_with_the_endpoints_secret(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn]
    ) -> None:
        _, server = receiver
        endpoint = endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)
        event_id = webhook_event_record(
            workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {"ticket": {"id": 7}}
        )

        row = deliver(deliveries()[0])

        [request] = server.requests
        assert request["path"] == "/hook"
        body = json.loads(request["raw"])
        assert list(body) == ["id", "type", "created_at", "workspace", "data"]
        assert (body["id"], body["type"], body["workspace"], body["data"]) == (
            event_id,
            "ticket.created",
            workspace.pk,
            {"ticket": {"id": 7}},
        )
        assert valid_signature(request["headers"]["halo-signature"], request["raw"], endpoint.secret)
        assert not valid_signature(request["headers"]["halo-signature"], request["raw"], "whsec_other")
        assert row.state == "done"
        log = WebhookDelivery.objects.get()
        assert (log.state, log.last_status_code, log.attempts, log.event_id) == ("delivered", 204, 1, event_id)

    def test_a_failure_is_retried_with_backoff_and_the_log_keeps_the_code(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn], clock: ManualClock
    ) -> None:
        script, server = receiver
        script.script = [(500, {}), (503, {})]
        endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
        [message] = deliveries()

        first = deliver(message)
        assert (first.state, first.last_error) == ("pending", "HTTP 500")
        assert first.next_attempt_at - clock.now() == pytest.approx(timedelta(seconds=5), abs=timedelta(seconds=1))
        assert WebhookDelivery.objects.get().last_status_code == 500
        assert outbox_process(message_id=message.pk, handler=webhook_deliver) is None  # not due yet

        clock.advance_to(first.next_attempt_at)
        assert deliver(message).state == "pending"
        clock.advance(60)
        assert deliver(message).state == "done"

        log = WebhookDelivery.objects.get()
        assert (log.state, log.attempts, log.last_status_code) == ("delivered", 3, 204)
        ids = {json.loads(request["raw"])["id"] for request in server.requests}
        assert len(server.requests) == 3
        assert len(ids) == 1  # the same event id every time

    def test_a_429_is_retried_after_its_retry_after(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn], clock: ManualClock
    ) -> None:
        script, server = receiver
        script.script = [(429, {"Retry-After": "42"})]
        endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})

        row = deliver(deliveries()[0])

        assert row.next_attempt_at - clock.now() == pytest.approx(timedelta(seconds=42), abs=timedelta(seconds=1))
        assert WebhookDelivery.objects.get().last_status_code == 429

    def test_a_redirect_is_not_followed_and_counts_as_a_failure(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn]
    ) -> None:
        script, server = receiver
        script.script = [(302, {"Location": "http://169.254.169.254/"})]
        endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})

        assert deliver(deliveries()[0]).last_error == "HTTP 302"
        assert len(server.requests) == 1

    def test_a_private_address_is_refused_at_delivery(self, workspace: Workspace) -> None:
        with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"]):
            endpoint_for(workspace, "http://127.0.0.1:9/hook", WebhookEvent.TICKET_CREATED)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})

        row = deliver(deliveries()[0])  # the operator no longer allows the host

        assert row.state == "pending"
        assert row.last_error.startswith("Refused: ")

    def test_the_last_attempt_fails_the_delivery_and_redeliver_sends_the_same_event(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn]
    ) -> None:
        script, server = receiver
        script.script = [(500, {})]
        endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)
        event_id = webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
        [message] = deliveries()
        OutboxMessage.objects.filter(pk=message.pk).update(attempts=MAX_ATTEMPTS - 1)

        assert deliver(message).state == "failed"
        log = WebhookDelivery.objects.get()
        assert log.state == "failed"

        assert webhook_redeliver(deliveries=[log]) == 1
        redelivered = deliveries()[-1]
        assert deliver(redelivered).state == "done"
        log.refresh_from_db()
        assert (log.state, log.last_status_code) == ("delivered", 204)
        assert [json.loads(request["raw"])["id"] for request in server.requests] == [event_id, event_id]

    def test_a_deleted_endpoints_events_are_dropped(self, workspace: Workspace) -> None:
        endpoint = endpoint_for(workspace, HTTPS_URL, WebhookEvent.TICKET_CREATED)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
        webhook_endpoint_delete(endpoint=endpoint)
        assert deliver(deliveries()[0]).state == "done"
        assert not WebhookDelivery.objects.exists()


class TestPausing:
    def test_an_endpoint_failing_for_a_day_is_paused_and_its_admins_are_emailed(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn], clock: ManualClock
    ) -> None:
        script, server = receiver
        script.script = [(500, {})] * 3
        admin = UserFactory(email="ada@acme.test")
        MembershipFactory(user=admin, workspace=workspace, role=Membership.Role.ADMIN)
        MembershipFactory(user=UserFactory(email="sam@acme.test"), workspace=workspace)
        endpoint = endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)

        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
        deliver(deliveries()[-1])
        clock.advance(23 * 3600)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
        deliver(deliveries()[-1])
        endpoint.refresh_from_db()
        assert not endpoint.paused  # failing for 23 hours

        clock.advance(3600)
        webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
        deliver(deliveries()[-1])

        endpoint.refresh_from_db()
        workspace.refresh_from_db()
        assert endpoint.paused
        assert workspace.webhook_routes == []
        assert webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {}) is None
        [email_row] = OutboxMessage.objects.filter(task=PAUSED_EMAIL_TASK)
        webhook_paused_email(email_row.pk)
        [email] = mail.outbox
        assert email.to == ["ada@acme.test"]
        assert "paused" in email.subject
        assert f"{server.url}/hook" in email.body
        # What was still queued for the paused endpoint is logged as failed (for "redeliver"), not sent.
        requests_before = len(server.requests)
        first = deliveries()[0]
        OutboxMessage.objects.filter(pk=first.pk).update(state="pending")
        assert deliver(first).state == "failed"
        assert len(server.requests) == requests_before

        webhook_endpoint_resume(endpoint=endpoint)
        workspace.refresh_from_db()
        assert workspace.webhook_routes == [{"id": endpoint.pk, "events": ["ticket.created"]}]

    def test_a_success_resets_the_failing_day(
        self, workspace: Workspace, receiver: tuple[Receiver, StandIn], clock: ManualClock
    ) -> None:
        script, server = receiver
        script.script = [(500, {}), (200, {}), (500, {})]
        endpoint = endpoint_for(workspace, f"{server.url}/hook", WebhookEvent.TICKET_CREATED)
        for hours in (0, 20, 20):
            clock.advance(hours * 3600)
            webhook_event_record(workspace=workspace, event=WebhookEvent.TICKET_CREATED, data=lambda: {})
            deliver(deliveries()[-1])
        endpoint.refresh_from_db()
        assert not endpoint.paused
        assert endpoint.failing_since is not None


# --- Signature and Retry-After helpers -------------------------------------------------------------


@given(body=st.binary(max_size=200), timestamp=st.integers(0, 2**40))
def test_the_signature_is_the_hmac_of_the_timestamp_and_the_raw_body(body: bytes, timestamp: int) -> None:
    header = signature_header(secret="whsec_x", body=body, timestamp=timestamp)
    assert header.startswith(f"t={timestamp},v1=")
    assert valid_signature(header, body, "whsec_x")
    assert not valid_signature(header, body + b" ", "whsec_x")


def test_the_body_keeps_the_documented_key_order_whatever_the_database_returns() -> None:
    event = {"data": {"b": 1}, "workspace": 3, "type": "ticket.created", "id": "evt_1", "created_at": "2026"}
    assert event_body(event) == (
        b'{"id":"evt_1","type":"ticket.created","created_at":"2026","workspace":3,"data":{"b":1}}'
    )


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30.0), ("0", 1.0), ("100000", 900.0), ("soon", 60.0), (None, 60.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0)],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_bounded(header: str | None, seconds: float) -> None:
    assert retry_after_seconds(header) == seconds


# --- Cost on the hot paths ---------------------------------------------------------------------------


def queries_of_a_widget_message(workspace: Workspace, agent: Agent) -> int:
    conversation = refreshed(
        ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    )
    with CaptureQueriesContext(connection) as captured:
        message_receive(conversation=conversation, body="How do I reset my password?")
    return len(captured)


def queries_of_a_handoff(workspace: Workspace, agent: Agent) -> int:
    conversation = refreshed(
        ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    )
    with CaptureQueriesContext(connection) as captured:
        handoff_request(conversation=conversation)
    return len(captured)


def test_a_subscribed_event_costs_one_insert_and_no_endpoint_lookup(workspace: Workspace, agent: Agent) -> None:
    queries_of_a_widget_message(workspace, agent)  # warm the process's knowledge snapshot
    queries_of_a_handoff(workspace, agent)  # and the team's measured reply time (read once every few minutes)
    message_before, handoff_before = (
        queries_of_a_widget_message(workspace, agent),
        queries_of_a_handoff(workspace, agent),
    )
    endpoint_for(workspace, HTTPS_URL, WebhookEvent.MESSAGE_CREATED)
    endpoint_for(workspace, "https://second.example.com/h", *WebhookEvent)

    # Two events (the user's message, the AI's), each one INSERT for both endpoints.
    assert queries_of_a_widget_message(workspace, agent) == message_before + 2
    # ticket.created, conversation.handed_off and the notice's message.created.
    assert queries_of_a_handoff(workspace, agent) == handoff_before + 3
