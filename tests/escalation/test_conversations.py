"""The right moment, end to end: the labelled whole conversations (``data/conversations.json``) played
through the widget API over the Zulip help center, with the default settings, by ``bench/conversations.py``.
Prints the handoff precision, recall and exact-turn figures and every conversation handed off at the wrong
moment.

The jobs the article saves queue are run first, as a worker does: the passages' vectors are what the
default install searches by, and the human-only topics by meaning read the question's vector. The jobs read
the passages' vectors from the help center's pack (``bench/vector_pack.py``) instead of spending two minutes
of one core computing them again; the pack's own tests below check that it holds what the model computes,
for every passage. Questions are embedded by the model, as in production. Words only (no model installed),
the same set gives lower recall; ``docs/answers.md`` has both."""

import json

import numpy as np
import pytest
from rest_framework.test import APIClient

from agents.knowledge.embeddings import MiniLM, local_embedder
from agents.services import agent_create
from bench.conversations import (
    TARGET_EXACT_TURN,
    TARGET_PRECISION,
    TARGET_RECALL,
    ZULIP,
    ZULIP_ARTICLES,
    conversations_load,
    conversations_play,
    conversations_score,
    help_center_load,
    report_lines,
)
from bench.vector_pack import ZULIP_PACK, embedding_through, help_center_texts, pack_load, text_digest
from halo.models import Workspace
from halo.services import api_key_create
from tests.halo.factories import WorkspaceFactory

REBUILD = (
    "rebuild it: .venv/bin/python bench/vector_pack.py"
    " --articles bench/data/zulip-help/articles.json --out bench/data/zulip-help/vectors.npz"
)


@pytest.fixture(scope="module")
def zulip_articles() -> list[dict[str, str]]:
    articles: list[dict[str, str]] = json.loads(ZULIP_ARTICLES.read_text(encoding="utf-8"))["articles"]
    return articles


@pytest.fixture(scope="module")
def zulip_pack() -> dict[str, np.ndarray]:
    return pack_load(ZULIP_PACK)


def test_the_vector_pack_holds_every_passage_of_the_help_center(
    zulip_articles: list[dict[str, str]], zulip_pack: dict[str, np.ndarray]
) -> None:
    missing = [text for text in help_center_texts(zulip_articles) if text_digest(text) not in zulip_pack]
    assert not missing, f"{len(missing)} passages are not in the pack, e.g. {missing[0][:80]!r}; {REBUILD}"


def test_the_vector_pack_holds_what_the_model_computes(
    zulip_articles: list[dict[str, str]], zulip_pack: dict[str, np.ndarray]
) -> None:
    model = local_embedder()
    assert model is not None, "the embedding model is not installed (requirements-model.txt)"
    texts = help_center_texts(zulip_articles)
    sample = texts[:: len(texts) // 12][:12]  # titles and passages from across the help center
    computed = model.embed(sample)
    packed = np.stack([zulip_pack[text_digest(text)] for text in sample])
    assert np.abs(computed - packed).max() < 1e-4, REBUILD


def test_the_set_covers_every_kind_of_conversation() -> None:
    conversations = conversations_load()
    assert len(conversations) >= 60
    kinds = {conversation.kind for conversation in conversations}
    assert {"answerable", "request", "near_miss", "human_only", "bug", "offer_accepted", "chatter"} <= kinds
    requests = [c for c in conversations if c.kind == "request"]
    assert {c.handoff_after for c in requests} >= {1, 2, 3}
    assert all(c.handoff_after is None for c in conversations if c.kind in ("answerable", "near_miss", "chatter"))


@pytest.mark.django_db(transaction=False)
def test_conversations_hand_off_at_the_right_moment(
    zulip_articles: list[dict[str, str]],
    zulip_pack: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MiniLM, "embed", embedding_through(zulip_pack, MiniLM.embed))
    workspace: Workspace = WorkspaceFactory(name=ZULIP)  # customers ask for the company by name
    agent_create(workspace=workspace, name="Ada")
    api_key = api_key_create(workspace=workspace)[1]
    client = APIClient()
    assert help_center_load(client=client, api_key=api_key, articles=zulip_articles) == len(zulip_articles)

    played = conversations_play(
        client=client, app_id=workspace.app_id, api_key=api_key, conversations=conversations_load()
    )
    score = conversations_score(played)

    print()
    print("\n".join(report_lines(score, played)))
    assert score.precision >= TARGET_PRECISION
    assert score.recall >= TARGET_RECALL
    assert score.exact_turn >= TARGET_EXACT_TURN
