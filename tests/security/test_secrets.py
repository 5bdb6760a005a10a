"""S4: secrets are write-only and never logged.

One run through the flows that touch every secret (server API calls with the right key and with a forged
one, widget identity right and wrong, a conversation token, a handoff, every admin list and change page,
every inbox page), with every logger captured at DEBUG. No API key (raw or its hash), identity secret,
conversation token (raw or its hash), Slack webhook URL or OpenAI key appears in a log line, an API
response or a page. (API keys stored hashed: ``tests/halo/test_services.py::
test_api_key_is_stored_hashed_and_never_in_clear``; a failing webhook's URL kept out of logs and outbox
errors: ``tests/inbox/test_notifications.py::test_webhook_url_is_never_logged``.)
"""

import hashlib
import hmac
import logging

import pytest
from django.contrib import admin
from django.test import Client
from rest_framework.test import APIClient

from agents.models import Agent, hash_conversation_token
from halo.models import ApiKey
from inbox.models import CustomInbox
from tests.halo.factories import UserFactory
from tests.security.conftest import Tenant

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/wOrKsPaCeSeCrEtToKeN"
INBOX_SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/iNbOxSeCrEtToKeN"
OPENAI_KEY = "sk-openaiSECRETkey0123456789"


@pytest.fixture
def secrets_of(ours: Tenant) -> list[str]:
    workspace = ours.workspace
    workspace.slack_webhook_url = SLACK_URL
    workspace.save(update_fields=["slack_webhook_url"])
    CustomInbox.objects.filter(pk=ours.custom_inbox.pk).update(slack_webhook_url=INBOX_SLACK_URL)
    Agent.objects.filter(pk=ours.agent.pk).update(openai_api_key=OPENAI_KEY)
    key_secret = ours.api_key.rsplit("_", 1)[1]
    return [
        ours.api_key,
        key_secret,
        ApiKey.hash_secret(key_secret),
        workspace.identity_secret,
        ours.conversation_token,
        hash_conversation_token(ours.conversation_token),
        SLACK_URL,
        "wOrKsPaCeSeCrEtToKeN",
        INBOX_SLACK_URL,
        "iNbOxSeCrEtToKeN",
        OPENAI_KEY,
    ]


def test_no_secret_is_logged_returned_or_shown(
    ours: Tenant, secrets_of: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        # Server API: every GET route of ours, and a forged key that shares the real key's prefix.
        for path in (
            "/api/v1/agents",
            f"/api/v1/agents/{ours.agent.pk}",
            f"/api/v1/agents/{ours.agent.pk}/escalation-settings",
            f"/api/v1/conversations/{ours.conversation.pk}",
            "/api/v1/tickets",
            f"/api/v1/tickets/{ours.ticket.pk}",
            "/api/v1/segments",
            "/api/v1/knowledge/articles",
        ):
            seen.append(ours.api.get(path).content.decode())
        seen.append(ours.api.patch(f"/api/v1/agents/{ours.agent.pk}", {"name": "Ada"}, format="json").content.decode())
        forged = ours.api_key.rsplit("_", 1)[0] + "_" + "0" * 64
        seen.append(APIClient().get("/api/v1/agents", HTTP_AUTHORIZATION=f"Bearer {forged}").content.decode())

        # Widget: identity right and wrong, the conversation token, a new handoff.
        user_id = ours.contact.user_id
        right = hmac.new(ours.workspace.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
        widget = APIClient()
        for user_hash in (right, right[:-1] + "0"):
            seen.append(
                widget.get(
                    "/api/widget/v1/config",
                    {"app_id": ours.workspace.app_id, "user_id": user_id, "user_hash": user_hash},
                ).content.decode()
            )
        started = widget.post(
            "/api/widget/v1/conversations",
            {"app_id": ours.workspace.app_id, "body": "help", "user": {"user_id": user_id, "user_hash": right}},
            format="json",
        )
        seen.append(started.content.decode().replace(started.json()["token"], "<the new conversation's token>"))
        auth = {"HTTP_AUTHORIZATION": f"Bearer {ours.conversation_token}"}
        seen.append(
            widget.get(f"/api/widget/v1/conversations/{ours.conversation.pk}/messages", **auth).content.decode()
        )
        seen.append(
            widget.post(f"/api/widget/v1/conversations/{ours.conversation.pk}/handoff", **auth).content.decode()
        )

        # Admin (a superuser sees the most) and inbox pages.
        superuser = Client()
        superuser.force_login(UserFactory(is_staff=True, is_superuser=True))
        for model in admin.site._registry:
            info = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            seen.append(superuser.get(info).content.decode())
            for pk in model._default_manager.values_list("pk", flat=True)[:20]:
                seen.append(superuser.get(f"{info}{pk}/change/").content.decode())
        staff = ours.staff_client()
        for page in ("/inbox/", f"/inbox/tickets/{ours.ticket.pk}/", f"/inbox/inbox-{ours.custom_inbox.pk}/"):
            seen.append(staff.get(page, follow=True).content.decode())

    everything = "\n".join([caplog.text, *seen])
    assert len(seen) > 50
    leaked = [secret for secret in secrets_of if secret in everything]
    assert leaked == []


def test_write_only_fields_keep_their_value_when_an_admin_form_is_saved_blank(
    ours: Tenant, secrets_of: list[str]
) -> None:
    client = ours.admin_client()
    page = client.get(f"/admin/inbox/custominbox/{ours.custom_inbox.pk}/change/")
    assert page.status_code == 200
    assert INBOX_SLACK_URL not in page.content.decode()

    response = client.post(
        f"/admin/inbox/custominbox/{ours.custom_inbox.pk}/change/",
        {"workspace": ours.workspace.pk, "name": "Renamed", "slack_webhook_url": ""},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    ours.custom_inbox.refresh_from_db()
    assert (ours.custom_inbox.name, ours.custom_inbox.slack_webhook_url) == ("Renamed", INBOX_SLACK_URL)
