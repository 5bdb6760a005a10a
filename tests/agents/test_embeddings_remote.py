"""Knowledge search by meaning through a workspace's OpenAI-compatible ``/v1/embeddings`` endpoint.

The stand-in speaks the embeddings wire format (``{"model", "input": [...]}`` → ``{"data": [{"index",
"embedding"}]}``) with a toy model of its own: a text's vector counts the concepts its words belong to, so
"hotkeys" lands beside "keyboard shortcut" although they share no word — what only the endpoint's vectors
can explain.
"""

import logging
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from agents.knowledge import knowledge_lookup, knowledge_settings_save
from agents.knowledge.index import EMBED_TASK
from agents.knowledge.search import SearchMode
from agents.models import KnowledgePassage, KnowledgeSettings
from agents.services import knowledge_article_create
from agents.tasks import knowledge_embed_task
from halo.models import OutboxMessage, Workspace
from tests.agents.standins import stand_in_server

pytestmark = pytest.mark.django_db

API_KEY = "sk-embeddings-secret-0123456789"
CONCEPTS = {
    "keyboard": 0,
    "shortcut": 0,
    "hotkey": 0,
    "press": 0,
    "profile": 1,
    "picture": 1,
    "avatar": 1,
    "photo": 1,
    "invoice": 2,
    "billing": 2,
}


def toy_vector(text: str) -> list[float]:
    vector = [0.0] * 4
    for word in text.lower().replace("?", " ").split():
        vector[CONCEPTS.get(word.rstrip("s"), 3)] += 1.0
    return vector


def embeddings_reply(request: dict[str, Any]) -> tuple[int, Any]:
    if request["path"] != "/v1/embeddings" or request["headers"].get("authorization") != f"Bearer {API_KEY}":
        return 401, {"error": {"message": "bad key"}}
    inputs = request["json"]["input"]
    data = [{"object": "embedding", "index": i, "embedding": toy_vector(t)} for i, t in enumerate(inputs)]
    return 200, {"object": "list", "data": list(reversed(data)), "model": request["json"]["model"]}


def _embed_pending() -> int:
    jobs = list(OutboxMessage.objects.filter(task=EMBED_TASK, state="pending").values_list("pk", flat=True))
    for message_id in jobs:
        knowledge_embed_task(message_id)
    return len(jobs)


def _use_endpoint(workspace: Workspace, url: str, **fields: Any) -> KnowledgeSettings:
    return knowledge_settings_save(
        settings=KnowledgeSettings(
            workspace=workspace,
            embeddings=KnowledgeSettings.Embeddings.OPENAI,
            embeddings_base_url=f"{url}/v1",
            embeddings_model="toy-embed",
            embeddings_api_key=API_KEY,
            **fields,
        )
    )


def _articles(workspace: Workspace) -> None:
    knowledge_article_create(workspace=workspace, title="Keyboard shortcuts", body="Press ? to see every shortcut.")
    knowledge_article_create(workspace=workspace, title="Change your profile picture", body="Upload a photo.")


def test_passages_and_questions_are_embedded_by_the_workspaces_endpoint(workspace: Workspace) -> None:
    with stand_in_server(embeddings_reply) as endpoint:
        _use_endpoint(workspace, endpoint.url)
        _articles(workspace)
        assert _embed_pending() == 2

        result = knowledge_lookup(workspace=workspace, text="hotkeys")

    assert {p.embedding_model for p in KnowledgePassage.objects.all()} == {
        KnowledgePassage.objects.first().embedding_model  # type: ignore[union-attr]
    }
    assert KnowledgePassage.objects.filter(embedding__isnull=True).count() == 0
    assert result.mode == SearchMode.SEMANTIC
    assert [hit.title for hit in result.hits][:1] == ["Keyboard shortcuts"]
    assert result.hits[0].lexical == 0.0  # no word of the question is in the article: the vectors found it
    question = endpoint.requests[-1]["json"]
    assert question == {"model": "toy-embed", "input": ["hotkeys"]}


def test_an_endpoint_that_fails_leaves_search_to_words_and_the_job_to_retry(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    with stand_in_server(embeddings_reply) as endpoint:
        _use_endpoint(workspace, endpoint.url)
        _articles(workspace)
        _embed_pending()
    # The endpoint is gone now (its server stopped): the question cannot be embedded.
    with caplog.at_level(logging.WARNING):
        result = knowledge_lookup(workspace=workspace, text="keyboard shortcut list")
        knowledge_article_create(workspace=workspace, title="Invoices", body="Download an invoice from Billing.")
        _embed_pending()

    assert (result.mode, result.hits[0].title) == (SearchMode.LEXICAL, "Keyboard shortcuts")
    retry = OutboxMessage.objects.get(task=EMBED_TASK, state="pending")
    assert retry.attempts == 1  # tried, failed, due again later
    assert API_KEY not in caplog.text


def test_switching_models_never_compares_vectors_of_two_models(workspace: Workspace) -> None:
    with stand_in_server(embeddings_reply) as endpoint:
        _use_endpoint(workspace, endpoint.url)
        _articles(workspace)
        _embed_pending()
        first_model = set(KnowledgePassage.objects.values_list("embedding_model", flat=True))

        settings = KnowledgeSettings.objects.get(workspace=workspace)
        settings.embeddings_model = "toy-embed-2"
        knowledge_settings_save(settings=settings)
        # Until the queued jobs run, the old vectors are not used: words answer.
        before = knowledge_lookup(workspace=workspace, text="keyboard shortcut")
        assert _embed_pending() == 2
        after = knowledge_lookup(workspace=workspace, text="hotkeys")

    assert before.mode == SearchMode.LEXICAL
    second_model = set(KnowledgePassage.objects.values_list("embedding_model", flat=True))
    assert len(first_model) == len(second_model) == 1
    assert first_model != second_model
    assert after.mode == SearchMode.SEMANTIC
    assert endpoint.requests[-1]["json"]["model"] == "toy-embed-2"


def test_turning_embeddings_off_searches_by_words_at_once(workspace: Workspace) -> None:
    with stand_in_server(embeddings_reply) as endpoint:
        _use_endpoint(workspace, endpoint.url)
        _articles(workspace)
        _embed_pending()
        calls = len(endpoint.requests)
        settings = KnowledgeSettings.objects.get(workspace=workspace)
        settings.embeddings = KnowledgeSettings.Embeddings.OFF
        knowledge_settings_save(settings=settings)

        result = knowledge_lookup(workspace=workspace, text="keyboard shortcut")

    assert result.mode == SearchMode.LEXICAL
    assert len(endpoint.requests) == calls
    assert not OutboxMessage.objects.filter(task=EMBED_TASK, state="pending").exists()


def test_an_internal_endpoint_is_refused_unless_the_operator_allows_it(workspace: Workspace) -> None:
    with stand_in_server(embeddings_reply, allow=False) as internal, pytest.raises(ValidationError) as refused:
        _use_endpoint(workspace, internal.url)

    assert "embeddings_base_url" in refused.value.message_dict
    assert not KnowledgeSettings.objects.filter(workspace=workspace).exists()
    assert internal.requests == []


def test_an_endpoint_needs_its_url_and_model(workspace: Workspace) -> None:
    with pytest.raises(ValidationError) as refused:
        knowledge_settings_save(
            settings=KnowledgeSettings(workspace=workspace, embeddings=KnowledgeSettings.Embeddings.OPENAI)
        )

    assert set(refused.value.message_dict) == {"embeddings_base_url", "embeddings_model"}


def test_the_admin_keeps_the_key_write_only(workspace: Workspace, admin_client_of: Client) -> None:
    client = admin_client_of
    with stand_in_server(embeddings_reply) as endpoint:
        form = {
            "workspace": workspace.pk,
            "embeddings": "openai",
            "embeddings_base_url": f"{endpoint.url}/v1",
            "embeddings_model": "toy-embed",
            "embeddings_api_key": API_KEY,
        }
        created = client.post("/admin/agents/knowledgesettings/add/", form)
        page = client.get(f"/admin/agents/knowledgesettings/{workspace.pk}/change/")
        kept = client.post(
            f"/admin/agents/knowledgesettings/{workspace.pk}/change/", {**form, "embeddings_api_key": ""}
        )

    assert created.status_code == kept.status_code == 302
    assert API_KEY not in page.content.decode()
    assert KnowledgeSettings.objects.get(workspace=workspace).embeddings_api_key == API_KEY
