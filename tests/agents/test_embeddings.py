"""Knowledge search by meaning: the numpy runtime of all-MiniLM-L6-v2, its checksum, the embedding job, and
search that blends words and meaning, falling back to words for passages not embedded yet.

The reference values below come from sentence-transformers (with PyTorch) and Hugging Face's ``tokenizers``
on the same model files: the runtime must reproduce them.
"""

from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.knowledge import knowledge_lookup, knowledge_search
from agents.knowledge.embeddings import (
    MiniLM,
    ModelUnavailable,
    _column_blocks,
    _product,
    local_embedder,
    model_directory,
)
from agents.knowledge.index import EMBED_TASK
from agents.knowledge.search import SearchMode
from agents.models import Agent, KnowledgePassage
from agents.responders import NO_ANSWER_REPLY, BuiltinResponder, ConversationContext, TurnResult
from agents.services import knowledge_article_create, knowledge_article_delete
from agents.tasks import knowledge_embed_task
from halo.models import OutboxMessage, Workspace

pytestmark = pytest.mark.django_db

HOTKEYS = "list of hotkeys?"
HOTKEYS_IDS = [101, 2862, 1997, 2980, 14839, 2015, 1029, 102]
HOTKEYS_HEAD = [-0.02745, -0.09553, -0.071, 0.009, -0.02407, 0.06791]
MIXED = "Keyboard shortcuts — Navigation\nPress **?** to see every shortcut. Crème brûlée, naïve 日本"
MIXED_IDS = [101, 9019, 2460, 12690, 2015, 1517, 9163, 2811, 1008, 1008, 1029, 1008, 1008, 2000, 2156, 2296]
MIXED_HEAD = [0.03051, -0.03634, 0.02382, -0.02053, -0.04533, 0.0338]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    loaded = local_embedder()
    assert loaded is not None, "the model package (requirements-model.txt) is part of the test install"
    return loaded


def test_word_pieces_are_berts(model: MiniLM) -> None:
    assert model.tokenizer.encode(HOTKEYS, max_tokens=128) == HOTKEYS_IDS
    assert model.tokenizer.encode(MIXED, max_tokens=128)[: len(MIXED_IDS)] == MIXED_IDS
    assert len(model.tokenizer.encode("word " * 500, max_tokens=16)) == 16


def test_vectors_are_sentence_transformers(model: MiniLM) -> None:
    vectors = model.embed([HOTKEYS, MIXED])

    assert np.allclose(vectors[0][:6], HOTKEYS_HEAD, atol=2e-4)
    assert np.allclose(vectors[1][:6], MIXED_HEAD, atol=2e-4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # A batch pads its shorter texts: padding must not change a vector.
    assert np.allclose(model.embed([HOTKEYS])[0], vectors[0], atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 3),
    rows=st.integers(1, 40),
    inputs=st.integers(1, 64),
    outputs=st.integers(1, 700),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_blocked_product_is_the_plain_product(batch: int, rows: int, inputs: int, outputs: int, seed: int) -> None:
    generator = np.random.default_rng(seed)
    x = generator.standard_normal((batch, rows, inputs), dtype=np.float32)
    weights = generator.standard_normal((inputs, outputs), dtype=np.float32)

    blocked, plain = _product(x, _column_blocks(weights)), x @ weights

    # The same dot products; only the order of the additions may differ, so at most float32 rounding apart.
    rounding = inputs * np.finfo(np.float32).eps * (np.abs(x) @ np.abs(weights))
    assert blocked.shape == plain.shape
    assert np.all(np.abs(blocked - plain) <= rounding)


def test_the_models_vectors_are_the_same_with_the_blocked_products(model: MiniLM) -> None:
    plain_layers = [
        {**layer, "qkv_w": (np.hstack(layer["qkv_w"]),), "up_w": (np.hstack(layer["up_w"]),)} for layer in model.layers
    ]
    blocked = model.embed([HOTKEYS, MIXED])
    blocked_layers, model.layers = model.layers, plain_layers
    try:
        plain = model.embed([HOTKEYS, MIXED])
    finally:
        model.layers = blocked_layers

    assert np.allclose(blocked, plain, rtol=0, atol=1e-6)


def test_other_model_files_are_refused(tmp_path: Path) -> None:
    source = model_directory()
    (tmp_path / "model.safetensors").symlink_to(source / "model.safetensors")
    (tmp_path / "vocab.txt").write_text((source / "vocab.txt").read_text().replace("[UNK]", "[UNKNOWN]"))

    with pytest.raises(ModelUnavailable, match=r"vocab\.txt"):
        MiniLM(tmp_path)
    with pytest.raises(ModelUnavailable, match="missing"):
        MiniLM(tmp_path / "nowhere")


def _embed_pending() -> int:
    """Run the embedding jobs the saves queued, as a worker does."""
    jobs = list(OutboxMessage.objects.filter(task=EMBED_TASK, state="pending").values_list("pk", flat=True))
    for message_id in jobs:
        knowledge_embed_task(message_id)
    return len(jobs)


def _articles(workspace: Workspace) -> None:
    knowledge_article_create(
        workspace=workspace,
        title="Keyboard shortcuts",
        body="Press ? to see every shortcut. Press Esc to close the compose box.",
        url="https://help.example.com/keys",
    )
    knowledge_article_create(
        workspace=workspace,
        title="Change your profile picture",
        body="Upload a photo under Settings > Profile. It is shown next to your messages.",
        url="https://help.example.com/photo",
    )


def test_a_save_queues_the_embedding_job_and_the_job_embeds(model: MiniLM, workspace: Workspace) -> None:
    _articles(workspace)
    assert not KnowledgePassage.objects.filter(embedding__isnull=False).exists()

    assert _embed_pending() == 2

    assert OutboxMessage.objects.filter(task=EMBED_TASK).exclude(state="done").count() == 0
    passages = KnowledgePassage.objects.filter(workspace=workspace)
    assert passages.filter(embedding__isnull=True).count() == 0
    assert set(passages.values_list("embedding_model", flat=True)) == {"all-MiniLM-L6-v2"}
    stored = np.frombuffer(passages.get(kind="title", article__title="Keyboard shortcuts").embedding, dtype="<f4")
    assert np.allclose(stored, model.embed(["Keyboard shortcuts"])[0], atol=1e-6)


def test_meaning_finds_what_no_word_matches(model: MiniLM, workspace: Workspace) -> None:
    _articles(workspace)
    assert knowledge_search(workspace=workspace, text="hotkeys") == []  # words alone: nothing

    _embed_pending()
    result = knowledge_lookup(workspace=workspace, text="hotkeys")

    assert result.mode == SearchMode.SEMANTIC
    assert result.hits[0].title == "Keyboard shortcuts"
    assert result.hits[0].lexical == 0.0
    assert (result.hits[0].semantic or 0) > 0.3
    assert knowledge_search(workspace=workspace, text="how do I change my avatar")[0].title == (
        "Change your profile picture"
    )


def test_passages_not_embedded_yet_are_found_by_their_words(model: MiniLM, workspace: Workspace) -> None:
    _articles(workspace)
    _embed_pending()
    knowledge_article_create(workspace=workspace, title="Zapier", body="Connect Zapier with your API key.")

    result = knowledge_lookup(workspace=workspace, text="zapier api key")

    assert result.mode == SearchMode.SEMANTIC
    assert (result.hits[0].title, result.hits[0].semantic) == ("Zapier", None)


def test_the_job_of_a_deleted_article_does_nothing(model: MiniLM, workspace: Workspace) -> None:
    _articles(workspace)
    knowledge_article_delete(article=KnowledgePassage.objects.first().article)  # type: ignore[union-attr]

    assert _embed_pending() == 2
    assert OutboxMessage.objects.filter(task=EMBED_TASK, state="done").count() == 2


@override_settings(HALO_EMBEDDINGS="off")
def test_with_embeddings_off_nothing_is_queued_and_search_uses_words(workspace: Workspace) -> None:
    _articles(workspace)

    assert not OutboxMessage.objects.filter(task=EMBED_TASK).exists()
    result = knowledge_lookup(workspace=workspace, text="keyboard shortcut list")
    assert (result.mode, result.hits[0].title) == (SearchMode.LEXICAL, "Keyboard shortcuts")


def test_without_the_model_package_search_uses_words(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from agents.knowledge import embeddings

    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "no_such_model_package")
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setattr(embeddings, "_failed", False)

    assert embeddings.embeddings_enabled() is False
    _articles(workspace)
    assert not OutboxMessage.objects.filter(task=EMBED_TASK).exists()
    assert embeddings.local_embedder() is None
    assert "search is lexical only" in caplog.text
    result = knowledge_lookup(workspace=workspace, text="keyboard shortcut list")
    assert (result.mode, result.hits[0].title) == (SearchMode.LEXICAL, "Keyboard shortcuts")


def test_with_vectors_answerable_questions_are_confident_and_off_topic_ones_are_not(
    model: MiniLM, workspace: Workspace, agent: Agent
) -> None:
    _articles(workspace)
    knowledge_article_create(
        workspace=workspace,
        title="Reset your password",
        body="Click Forgot password on the login page and follow the link we email you.",
        url="https://help.example.com/password",
    )
    _embed_pending()

    def ask(text: str) -> TurnResult:
        context = ConversationContext(
            workspace=workspace, agent=agent, conversation_id=1, history=(("user", text),), user_message=text
        )
        return BuiltinResponder().respond(context=context)

    # Above the default escalation threshold (50): answered from the right article, no handoff.
    for question, title in (
        ("list of hotkeys?", "Keyboard shortcuts"),
        ("I forgot my password", "Reset your password"),
    ):
        answered = ask(question)
        assert [source.title for source in answered.cited_sources] == [title]
        assert (answered.confidence or 0) >= 50
    # Off-topic: the no-answer reply, with a confidence low enough to hand off.
    for question in ("which wine pairs with salmon?", "how do I make a pivot table in excel"):
        refused = ask(question)
        assert refused.reply == NO_ANSWER_REPLY
        assert refused.confidence is not None
        assert refused.confidence < 20
