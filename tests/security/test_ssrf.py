"""Server-side request forgery through every integration (security bar S7), as an attacker tries it.

An internal service runs on loopback (a real HTTP server holding a secret) and is not named in
``HALO_OUTBOUND_ALLOW_HOSTS``. A workspace's web-search URL, OpenAI-compatible base URL and Slack webhook
point at it (stored directly, as if saved before the check existed, or through a DNS name that changed):
nothing reaches it, the widget user and the admin see nothing of it. The admin and the API refuse such URLs
when saved, with a field error. With the allow-list naming it, each integration does reach it (so the refusals
above are the guard's, not a broken stand-in).
"""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from agents.models import Agent
from agents.responders import UNAVAILABLE_REPLY, ConversationContext, OpenAIResponder
from agents.websearch import SearxngWebSearch, web_search_provider_for
from escalation.flow import OFFER, handoff_request
from escalation.services import escalation_settings_ensure
from halo.models import OutboxMessage, Workspace
from inbox.models import CustomInbox
from inbox.notifications import SLACK_TASK
from inbox.notifications.slack import slack_deliver
from inbox.summaries import LLMSummarizer, SummaryFacts
from tests.agents.factories import AgentFactory, ConversationFactory, MessageFactory
from tests.agents.standins import StandIn, chat_completion, stand_in_server, tool_call
from tests.halo.factories import ContactFactory
from tests.halo.test_outbound import HOSTILE_URLS
from tests.inbox.factories import CustomInboxFactory

pytestmark = pytest.mark.django_db

SECRET = "internal-secret-7f3a"


def internal_reply(request: dict[str, Any]) -> tuple[int, Any]:
    """Whatever is asked, the internal service answers with its secret, in every shape an integration reads."""
    if request["path"].endswith("/search"):
        return 200, {"results": [{"title": SECRET, "url": "https://x.example/" + SECRET, "content": SECRET}]}
    if request["path"].endswith("/chat/completions"):
        return 200, chat_completion({"content": f'{{"reply": "{SECRET}", "confidence": 99}}'})
    return 200, {"secret": SECRET}


@pytest.fixture
def internal() -> Iterator[StandIn]:
    with stand_in_server(internal_reply, allow=False) as server:
        yield server


def loopback_spellings(url: str) -> list[str]:
    """The internal server's URL with its host spelt the ways an attacker would."""
    port = url.rsplit(":", 1)[1]
    return [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost", "127.1", "0x7f000001", "0.0.0.0")]  # noqa: S104


def context(workspace: Workspace, agent: Agent, text: str) -> ConversationContext:
    return ConversationContext(
        workspace=workspace, agent=agent, conversation_id=0, history=(("user", text),), user_message=text
    )


# --- Each integration, at connect time ----------------------------------------------------------------


def test_web_search_never_reaches_an_internal_address(internal: StandIn) -> None:
    for url in loopback_spellings(internal.url):
        assert SearxngWebSearch(base_url=url, timeout=2).search(query="anything") == []
    assert internal.requests == []

    with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"]):
        [found] = SearxngWebSearch(base_url=internal.url, timeout=2).search(query="anything")
    assert found.title == SECRET  # allowed by the operator: reached


def test_openai_responder_never_reaches_an_internal_address(workspace: Workspace, internal: StandIn) -> None:
    for url in loopback_spellings(internal.url):
        agent = AgentFactory(workspace=workspace, responder="openai", openai_model="m", openai_base_url=f"{url}/v1")
        result = OpenAIResponder(agent=agent).respond(context=context(workspace, agent, "hello"))
        assert (result.reply, result.confidence) == (UNAVAILABLE_REPLY, 0)
    assert internal.requests == []

    with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"]):
        result = OpenAIResponder(agent=agent).respond(context=context(workspace, agent, "hello"))  # 0.0.0.0
        assert result.reply == UNAVAILABLE_REPLY  # 0.0.0.0 is not the allowed address
        agent.openai_base_url = f"{internal.url}/v1"
        assert OpenAIResponder(agent=agent).respond(context=context(workspace, agent, "hello")).reply == SECRET


def test_the_models_web_search_tool_never_reaches_an_internal_address(workspace: Workspace, internal: StandIn) -> None:
    def model(request: dict[str, Any]) -> tuple[int, Any]:
        if request["json"]["messages"][-1]["role"] == "user":
            call = tool_call("c1", "web_search", {"query": "metadata"})
            return 200, chat_completion({"content": None, "tool_calls": [call]}, finish_reason="tool_calls")
        return 200, chat_completion({"content": '{"reply": "done", "confidence": 50}'})

    # An allowed model (on another loopback address) asks for a web search on the internal URL.
    with stand_in_server(model, host="127.0.0.2") as llm:
        agent = AgentFactory(
            workspace=workspace,
            responder="openai",
            openai_model="m",
            openai_base_url=f"{llm.url}/v1",
            web_search_enabled=True,
            web_search_provider="searxng",
            web_search_url=internal.url,
        )
        result = OpenAIResponder(agent=agent).respond(context=context(workspace, agent, "hi"))
    assert result.tools[0].name == "web_search"
    assert result.tools[0].result == []
    assert SECRET not in str(llm.requests)
    assert internal.requests == []


def test_widget_user_sees_nothing_of_an_internal_model_url(
    widget: APIClient, workspace: Workspace, internal: StandIn
) -> None:
    agent = AgentFactory(
        workspace=workspace, responder="openai", openai_model="m", openai_base_url=f"{internal.url}/v1"
    )
    escalation_settings_ensure(agent=agent)
    response = widget.post(
        "/api/widget/v1/conversations", {"app_id": workspace.app_id, "body": "What is the secret?"}, format="json"
    )
    assert response.status_code == 201
    assert SECRET not in response.content.decode()
    # The unavailable model's reply (confidence 0, held back by the gates), with the offer of a teammate.
    assert [m["body"] for m in response.json()["messages"] if m["author"] == "ai"] == [f"{UNAVAILABLE_REPLY} {OFFER}"]
    assert internal.requests == []


def test_llm_summarizer_never_reaches_an_internal_address(internal: StandIn) -> None:
    facts = SummaryFacts(
        ticket_id=1, reason="manual", confidence=None, escalation_count=1, transcript=(("user", "hi"),),
        searches=(), source_titles=(),
    )  # fmt: skip
    for url in loopback_spellings(internal.url):
        agent = Agent(responder="openai", openai_model="m", openai_base_url=url)
        summary = LLMSummarizer(agent=agent).summarize(facts)
        assert SECRET not in summary
        assert summary.startswith('The customer needed: "hi"')  # the builtin fallback
    assert internal.requests == []


def test_slack_never_posts_to_an_internal_address_and_admins_see_no_remote_body(
    workspace: Workspace, internal: StandIn, escalate_one: Any
) -> None:
    for url in [*loopback_spellings(internal.url), "http://169.254.169.254/latest/meta-data/"]:
        workspace.slack_webhook_url = f"{url}/services/T0/B0/x"
        workspace.save(update_fields=["slack_webhook_url"])
        escalate_one()
    rows = list(OutboxMessage.objects.filter(task=SLACK_TASK))
    assert len(rows) == 6
    for row in rows:
        slack_deliver(message_id=row.pk)
        row.refresh_from_db()
        assert row.state == "failed"  # permanent: retrying cannot make the URL acceptable
        assert row.last_error.startswith("The Slack webhook URL is not allowed")
        assert SECRET not in row.last_error
    assert internal.requests == []


def test_slack_error_bodies_stay_out_of_the_error_admins_read(
    workspace: Workspace, escalate_one: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with stand_in_server(lambda request: (404, f"<html>{SECRET}</html>")) as allowed_relay:
        workspace.slack_webhook_url = f"{allowed_relay.url}/services/T0/B0/x"
        workspace.save(update_fields=["slack_webhook_url"])
        escalate_one()
        [row] = OutboxMessage.objects.filter(task=SLACK_TASK)
        slack_deliver(message_id=row.pk)
    row.refresh_from_db()
    assert (row.state, row.last_error) == ("failed", "Slack refused the message: HTTP 404")
    assert SECRET in caplog.text  # for operators, in the process log


def test_a_dns_name_that_turns_internal_after_saving_is_refused_when_used(
    api: APIClient, workspace: Workspace, internal: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding through the API: the check at save time sees a public address, the later search loopback."""
    port = int(internal.url.rsplit(":", 1)[1])
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "searx.rebind.example":  # public to the first lookup, loopback to every later one
            lookups.append(host)
            address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    agent = AgentFactory(workspace=workspace)
    response = api.patch(
        f"/api/v1/agents/{agent.pk}",
        {
            "web_search_enabled": True,
            "web_search_provider": "searxng",
            "web_search_url": f"http://searx.rebind.example:{port}",
        },
        format="json",
    )
    assert response.status_code == 200
    agent.refresh_from_db()
    for _ in range(2):
        assert web_search_provider_for(agent).search(query="metadata") == []
    assert internal.requests == []
    assert len(lookups) == 3  # once when saved, once per search


# --- When saved ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["openai_base_url", "web_search_url"])
def test_the_api_refuses_internal_urls_with_a_field_error(api: APIClient, workspace: Workspace, field: str) -> None:
    agent = AgentFactory(workspace=workspace)
    for url in HOSTILE_URLS:
        response = api.patch(f"/api/v1/agents/{agent.pk}", {field: url}, format="json")
        assert response.status_code == 400, url
        body = response.json()
        assert body["code"] == "invalid"
        # Spellings like 127.1 or 0x7f000001 already fail Django's URL validator; the rest fail the outbound check.
        [message] = body["fields"][field]
        assert "Halo may not call this address" in message or message == "Enter a valid URL.", url
    agent.refresh_from_db()
    assert getattr(agent, field) == ""


def _agent_form(agent: Agent, **changes: str) -> dict[str, str]:
    return {
        "workspace": str(agent.workspace_id),
        "name": agent.name,
        "greeting": agent.greeting,
        "responder": "builtin",
        "openai_base_url": "",
        "openai_model": "",
        "openai_api_key": "",
        "web_search_provider": "none",
        "web_search_url": "",
        "human_only_topics": "[]",
        **changes,
    }


@pytest.mark.parametrize("field", ["openai_base_url", "web_search_url"])
def test_the_admin_refuses_internal_agent_urls_with_a_field_error(
    admin_client_of: Client, workspace: Workspace, field: str
) -> None:
    agent = AgentFactory(workspace=workspace)
    for url in ["http://169.254.169.254/latest/meta-data/", "http://localhost:11434/v1", "http://[::1]:8080"]:
        response = admin_client_of.post(f"/admin/agents/agent/{agent.pk}/change/", _agent_form(agent, **{field: url}))
        assert response.status_code == 200  # the form again, with the error
        errors = response.context["adminform"].form.errors
        assert "Halo may not call this address" in errors[field][0]
    agent.refresh_from_db()
    assert getattr(agent, field) == ""


def _workspace_form(workspace: Workspace, **changes: str) -> dict[str, str]:
    return {
        "name": workspace.name,
        "slug": workspace.slug,
        "timezone": workspace.timezone,
        "allowed_origins": "[]",
        **changes,
    }


SLACK_REFUSED = [
    "http://127.0.0.1:9000/services/x",
    "https://169.254.169.254/services/x",
    "https://hooks.slack.com.evil.example/services/x",
    "http://hooks.slack.com/services/T0/B0/x",
    "https://[::1]/services/x",
]


def test_the_admin_refuses_non_slack_webhooks_for_workspaces_and_inboxes(
    admin_client_of: Client, workspace: Workspace
) -> None:
    inbox = CustomInboxFactory(workspace=workspace, name="Billing")
    for url in SLACK_REFUSED:
        response = admin_client_of.post(
            f"/admin/halo/workspace/{workspace.pk}/change/", _workspace_form(workspace, new_slack_webhook_url=url)
        )
        assert response.status_code == 200
        assert "hooks.slack.com" in response.context["adminform"].form.errors["new_slack_webhook_url"][0]
        response = admin_client_of.post(
            f"/admin/inbox/custominbox/{inbox.pk}/change/",
            {"workspace": workspace.pk, "name": "Billing", "new_slack_webhook_url": url},
        )
        assert response.status_code == 200
        assert "new_slack_webhook_url" in response.context["adminform"].form.errors
    workspace.refresh_from_db()
    assert workspace.slack_webhook_url == ""
    assert CustomInbox.objects.get(pk=inbox.pk).slack_webhook_url == ""

    good = "https://hooks.slack.com/services/T0/B0/abc"
    response = admin_client_of.post(
        f"/admin/halo/workspace/{workspace.pk}/change/", _workspace_form(workspace, new_slack_webhook_url=good)
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.slack_webhook_url == good


@pytest.fixture
def escalate_one(workspace: Workspace) -> Any:
    """Open one ticket through the real handoff (its Slack row is what production writes)."""
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)

    def make() -> None:
        contact = ContactFactory(workspace=workspace)
        conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
        MessageFactory(conversation=conversation, author="user", body="help")
        handoff_request(conversation=conversation)

    return make
