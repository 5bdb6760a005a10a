"""S2: widget identity. A ``user_hash`` that is not the HMAC of the ``user_id`` is a 401 wherever the widget
sends one, whatever its characters; a conversation token reads only its conversation (see also
``test_isolation.py::test_widget_token_of_one_conversation_reaches_no_other``)."""

import hashlib
import hmac

import pytest
from rest_framework.test import APIClient

from agents.models import Conversation
from tests.security.conftest import THEIRS_MARKER, Tenant

pytestmark = pytest.mark.django_db

# Wrong hashes, including ones hmac.compare_digest refuses as str (found by schemathesis: a 500).
WRONG_HASHES = ["", "0" * 64, "h\u0094", "\u00e9" * 64, "\U0001f600", "A" * 10_000]


def valid_hash(tenant: Tenant, user_id: str) -> str:
    return hmac.new(tenant.workspace.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def test_config_with_a_wrong_user_hash_is_401(theirs: Tenant) -> None:
    for user_hash in WRONG_HASHES:
        response = APIClient().get(
            "/api/widget/v1/config",
            {"app_id": theirs.workspace.app_id, "user_id": theirs.contact.user_id, "user_hash": user_hash},
        )

        assert response.status_code == 401, (user_hash, response.content)
        assert response.json()["code"]


def test_starting_a_conversation_with_a_wrong_user_hash_is_401_and_creates_nothing(theirs: Tenant) -> None:
    conversations = Conversation.objects.count()

    for user_hash in WRONG_HASHES:
        response = APIClient().post(
            "/api/widget/v1/conversations",
            {
                "app_id": theirs.workspace.app_id,
                "body": "show me my history",
                "user": {"user_id": theirs.contact.user_id, "user_hash": user_hash},
            },
            format="json",
        )

        assert response.status_code in (400, 401), (user_hash, response.content)
        assert THEIRS_MARKER not in response.content.decode()
    assert Conversation.objects.count() == conversations


def test_the_right_user_hash_in_upper_case_is_accepted(theirs: Tenant) -> None:
    user_hash = valid_hash(theirs, theirs.contact.user_id).upper()

    response = APIClient().get(
        "/api/widget/v1/config",
        {"app_id": theirs.workspace.app_id, "user_id": theirs.contact.user_id, "user_hash": user_hash},
    )

    assert response.status_code == 200


def test_a_token_reads_its_own_conversation_only(ours: Tenant, theirs: Tenant) -> None:
    widget = APIClient()
    own = widget.get(
        f"/api/widget/v1/conversations/{ours.conversation.pk}/messages",
        HTTP_AUTHORIZATION=f"Bearer {ours.conversation_token}",
    )
    other = widget.get(
        f"/api/widget/v1/conversations/{theirs.conversation.pk}/messages",
        HTTP_AUTHORIZATION=f"Bearer {ours.conversation_token}",
    )

    assert own.status_code == 200
    assert other.status_code in (401, 403, 404)
    assert THEIRS_MARKER not in other.content.decode()
