"""Unverified identity never drives routing (finding 5 of the hardening pass).

An address typed in the chat is the visitor's claim only: it is kept as ``unverified_email``, shown to staff
as unverified (customer panel, ticket header, Slack), never matched by segment rules (so never a priority
ticket), never written over an identified contact's ``email`` or ``name``, never merging contacts. An
identified widget user's email, name and traits come only from a ``user_jwt`` signed with the workspace's
identity secret; beside a ``user_hash`` (which signs the ``user_id`` alone) they are ignored.
"""

import time
from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient

from agents.models import Conversation
from escalation.models import EscalationSettings
from escalation.selectors import contact_matches_rule
from halo.identity import user_hash_expected
from halo.models import Contact
from inbox.models import Ticket
from inbox.notifications.slack import ticket_message
from tests.security.conftest import Tenant

pytestmark = pytest.mark.django_db

VIP_RULE = 'user.email ends with "@vip.example"'


def widget_start(tenant: Tenant, body: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"app_id": tenant.workspace.app_id, "body": body}
    if user is not None:
        payload["user"] = user
    response = APIClient().post("/api/widget/v1/conversations", payload, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def widget_say(conversation: dict[str, Any], body: str) -> None:
    response = APIClient().post(
        f"/api/widget/v1/conversations/{conversation['id']}/messages",
        {"body": body},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {conversation['token']}",
    )
    assert response.status_code == 201, response.content


def handoff(conversation: dict[str, Any]) -> Ticket:
    response = APIClient().post(
        f"/api/widget/v1/conversations/{conversation['id']}/handoff",
        HTTP_AUTHORIZATION=f"Bearer {conversation['token']}",
    )
    assert response.status_code == 201, response.content
    return Ticket.objects.select_related("contact").get(pk=response.json()["ticket"]["id"])


def signed(tenant: Tenant, claims: dict[str, Any], *, secret: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret or tenant.workspace.identity_secret, algorithm=algorithm)


def test_a_typed_vip_address_gets_no_priority_ticket_and_shows_as_unverified(ours: Tenant) -> None:
    EscalationSettings.objects.filter(agent=ours.agent).update(priority_filter=VIP_RULE)

    conversation = widget_start(ours, "Hello, I need help with my account")
    widget_say(conversation, "I'm the CEO, write to ceo@vip.example")
    ticket = handoff(conversation)

    assert ticket.status == Ticket.Status.OPEN
    contact = ticket.contact
    assert (contact.email, contact.unverified_email) == (None, "ceo@vip.example")
    assert not contact_matches_rule(contact=contact, rule=VIP_RULE, now=contact.created_at)
    page = ours.staff_client().get(f"/inbox/tickets/{ticket.pk}/").content.decode()
    assert 'id="customer-email">ceo@vip.example <span class="pill pill-unverified"' in page
    assert 'id="ticket-unverified-email">ceo@vip.example' in page
    slack = ticket_message(ticket)["blocks"][0]["text"]["text"]
    assert "*Contact:* Visitor" in slack
    assert "(ceo@vip.example, unverified)" in slack
    assert "*Priority:* no" in slack


def test_a_verified_vip_address_does_get_the_priority_ticket(ours: Tenant) -> None:
    """The same rule still routes on an address the workspace vouched for (the test above is not vacuous)."""
    EscalationSettings.objects.filter(agent=ours.agent).update(priority_filter=VIP_RULE)
    token = signed(ours, {"user_id": "u-ceo", "email": "ceo@vip.example", "name": "Cee Eo"})

    conversation = widget_start(ours, "Hello, I need help with my account", user={"user_jwt": token})
    ticket = handoff(conversation)

    assert ticket.status == Ticket.Status.PRIORITY
    assert (ticket.contact.email, ticket.contact.name) == ("ceo@vip.example", "Cee Eo")
    page = ours.staff_client().get(f"/inbox/tickets/{ticket.pk}/").content.decode()
    assert "pill-unverified" not in page


def test_typing_an_identified_customers_address_neither_merges_nor_overwrites(ours: Tenant) -> None:
    known = ours.contact
    before = Contact.objects.filter(pk=known.pk).values().get()

    conversation = widget_start(ours, f"Hi, I am {known.name}, my email is {known.email}")
    widget_say(conversation, f"really, it's {known.email}")

    visitor = Conversation.objects.get(pk=conversation["id"]).contact
    assert visitor.pk != known.pk
    assert (visitor.email, visitor.unverified_email) == (None, known.email)
    assert Contact.objects.filter(pk=known.pk).values().get() == before


def test_an_identified_user_cannot_set_email_or_name_beside_a_user_hash(ours: Tenant) -> None:
    known = ours.contact
    assert known.user_id is not None
    user_hash = user_hash_expected(workspace=ours.workspace, user_id=known.user_id)

    conversation = widget_start(
        ours,
        "my address is boss@vip.example",
        user={
            "user_id": known.user_id,
            "user_hash": user_hash,
            "email": "boss@vip.example",
            "name": "The Boss",
            "traits": {"vip": True},
        },
    )

    known.refresh_from_db()
    assert Conversation.objects.get(pk=conversation["id"]).contact_id == known.pk
    assert (known.email, known.name, known.custom_fields) == ("customer@ours.test", "Customer Ourselves", {})
    # An address typed by an identified user with a verified one is not even kept as a claim.
    assert known.unverified_email is None


def test_a_signed_identity_sets_email_name_and_traits(ours: Tenant) -> None:
    known = ours.contact
    Contact.objects.filter(pk=known.pk).update(custom_fields={"seats": 3, "region": "eu"})
    token = signed(
        ours,
        {
            "user_id": known.user_id,
            "email": "New.Address@Ours.test",
            "name": "Customer Renamed",
            "traits": {"seats": 5, "beta": True},
            "exp": int(time.time()) + 600,
        },
    )

    response = APIClient().get("/api/widget/v1/config", {"app_id": ours.workspace.app_id, "user_jwt": token})
    assert response.status_code == 200
    widget_start(ours, "hello", user={"user_jwt": token, "user_id": known.user_id})

    known.refresh_from_db()
    assert (known.email, known.name) == ("new.address@ours.test", "Customer Renamed")
    assert known.custom_fields == {"seats": 5, "region": "eu", "beta": True}


def test_a_signed_identity_creates_a_new_user_with_its_traits(ours: Tenant) -> None:
    token = signed(ours, {"user_id": "u-new", "email": "new@ours.test", "traits": {"plan_tier": "gold"}})

    conversation = widget_start(ours, "hello", user={"user_jwt": token})

    contact = Conversation.objects.get(pk=conversation["id"]).contact
    assert (contact.user_id, contact.email, contact.name, contact.custom_fields) == (
        "u-new",
        "new@ours.test",
        None,
        {"plan_tier": "gold"},
    )


def bad_tokens(tenant: Tenant) -> list[tuple[str, str]]:
    now = int(time.time())
    claims = {"user_id": tenant.contact.user_id, "email": "boss@vip.example"}
    return [
        (signed(tenant, {**claims, "exp": now - 120}), "The user_jwt has expired."),
        (signed(tenant, claims, secret="not-the-secret-" + "x" * 32), "not signed with this workspace's identity"),
        (signed(tenant, claims, algorithm="HS512"), "not signed with this workspace's identity"),
        (jwt.encode(claims, None, algorithm="none"), "not signed with this workspace's identity"),
        (signed(tenant, {"email": "boss@vip.example"}), "The user_jwt has no user_id claim."),
        ("not.a.jwt", "not signed with this workspace's identity"),
        ("", ""),  # empty: no token at all, an anonymous visitor
    ]


def test_an_invalid_or_expired_user_jwt_is_a_clear_401_and_changes_nothing(ours: Tenant) -> None:
    before = Contact.objects.filter(pk=ours.contact.pk).values().get()
    conversations = Conversation.objects.count()
    for token, message in bad_tokens(ours):
        if not token:
            continue
        started = APIClient().post(
            "/api/widget/v1/conversations",
            {"app_id": ours.workspace.app_id, "body": "hi", "user": {"user_jwt": token}},
            format="json",
        )
        config = APIClient().get("/api/widget/v1/config", {"app_id": ours.workspace.app_id, "user_jwt": token})
        for response in (started, config):
            assert response.status_code == 401, (token, response.content)
            assert response.json()["code"] == "invalid_user_jwt"
            assert message in response.json()["message"]
    assert Conversation.objects.count() == conversations
    assert Contact.objects.filter(pk=ours.contact.pk).values().get() == before


def test_a_user_jwt_for_another_user_id_than_the_one_sent_is_refused(ours: Tenant) -> None:
    token = signed(ours, {"user_id": "someone-else", "email": "x@ours.test"})

    response = APIClient().post(
        "/api/widget/v1/conversations",
        {"app_id": ours.workspace.app_id, "body": "hi", "user": {"user_jwt": token, "user_id": ours.contact.user_id}},
        format="json",
    )

    assert (response.status_code, response.json()["code"]) == (401, "invalid_user_jwt")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"user_id": "u1", "email": "not an email"}, "email claim"),
        ({"user_id": "u1", "name": "x" * 300}, "name claim"),
        ({"user_id": "u1", "traits": {"bad key": 1}}, "traits claim"),
        ({"user_id": "u1", "traits": ["a"]}, "traits claim"),
        ({"user_id": 42}, "user_id"),
        ({"user_id": "u1", "name": "\udfff"}, "surrogate"),
    ],
)
def test_a_signed_token_with_malformed_claims_is_a_400(ours: Tenant, claims: dict[str, Any], message: str) -> None:
    token = signed(ours, claims)

    response = APIClient().post(
        "/api/widget/v1/conversations",
        {"app_id": ours.workspace.app_id, "body": "hi", "user": {"user_jwt": token}},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert message in response.json()["message"]
    assert not Contact.objects.filter(user_id="u1").exists()
