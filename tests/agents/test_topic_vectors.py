"""Human-only topics by meaning (``agents/topic_vectors.py``): the shipped model and the responder that reads
it beside the word patterns."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from agents.knowledge.embeddings import MODEL_ID, MiniLM, local_embedder
from agents.models import Agent
from agents.responders import HUMAN_ONLY_REPLY, BuiltinResponder, ConversationContext
from agents.services import knowledge_article_create
from agents.tasks import knowledge_embed_task
from agents.topic_vectors import MODEL_FILE, TopicModel, asks_how, failure_by_meaning, topic_by_meaning, topic_model
from agents.topics import DEFAULT_HUMAN_ONLY_TOPICS, human_only_topic, reports_failure_in_words
from bench import topics_fit
from halo.models import OutboxMessage
from tests.agents.factories import AgentFactory

ROOT = Path(__file__).resolve().parents[2]
# Problems phrased without any of the word patterns' words; none of them is among the model's examples.
BY_MEANING_ONLY = [
    ("there were logins to my account at 3am from an IP I don't know", "account security"),
    ("I've been charged $80 for a plan I downgraded weeks ago", "billing dispute"),
    (
        "as a california resident I'm requesting deletion of my personal information under the CCPA",
        "legal or privacy request",
    ),
]
# Failures told in words the patterns do not have; none of them is among the model's examples. (The model
# does not catch every one: its cross-validated recall is in docs/answers.md.)
FAILURES_BY_MEANING_ONLY = [
    "every click takes ten seconds before anything happens",
    "half of my channels are no longer listed in the left sidebar",
]
# Messages on the same features that report no failure. (Thanks are not asked: "thanks, that fixed it" reads
# like a failure report to the model, so the responder leaves small talk out.)
NOT_FAILURES = [
    "how do I see my drafts?",
    "can I reorder the channels in the left sidebar?",
    "it would be nice to have a dark theme on the phone app",
]
# Questions on the same subjects that the help center answers.
HOW_TO = [
    "can I get notified when someone logs into my account?",
    "how long do you keep deleted messages?",
    "how do I see what we paid last year?",
    "is there a way to stop people from seeing my email?",
    "how do I remove an old phone from my account?",
]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    loaded = local_embedder()
    assert loaded is not None, "the model package (requirements-model.txt) is part of the test install"
    return loaded


def test_the_shipped_model_reads_the_bundled_models_vectors() -> None:
    shipped = topic_model()
    assert shipped.embedding_model == MODEL_ID
    assert shipped.classes[0] == "none"
    assert set(shipped.classes[1:]) <= set(DEFAULT_HUMAN_ONLY_TOPICS)
    assert shipped.weights.shape == (len(shipped.classes), 384)
    assert all(0.5 <= threshold <= 1.0 for threshold in shipped.thresholds.values())


def test_its_examples_are_not_the_questions_it_is_measured_on() -> None:
    examples = json.loads((ROOT / "bench" / "data" / "human-only-topics.json").read_text(encoding="utf-8"))
    written = {text.casefold() for name, texts in examples.items() if name != "about" for text in texts}
    assert not {text.casefold() for text, _category in BY_MEANING_ONLY} & written
    assert not {text.casefold() for text in FAILURES_BY_MEANING_ONLY + NOT_FAILURES} & written
    assert not {text.casefold() for text in HOW_TO} & written


@pytest.mark.parametrize(("text", "category"), BY_MEANING_ONLY)
def test_a_problem_without_the_patterns_words_is_recognised_by_meaning(model: MiniLM, text: str, category: str) -> None:
    assert human_only_topic(text, DEFAULT_HUMAN_ONLY_TOPICS) is None
    found = topic_by_meaning(text, model.embed([text], query=True)[0], embedding_model=MODEL_ID)
    assert found is not None
    assert found[0] == category


@pytest.mark.parametrize("text", HOW_TO)
def test_how_to_questions_on_the_same_subjects_are_not(model: MiniLM, text: str) -> None:
    assert topic_by_meaning(text, model.embed([text], query=True)[0], embedding_model=MODEL_ID) is None


@pytest.mark.parametrize("text", ["question about our invoices", "billing question", "my account security"])
def test_a_message_too_short_to_tell_a_problem_names_no_topic(model: MiniLM, text: str) -> None:
    assert topic_by_meaning(text, model.embed([text], query=True)[0], embedding_model=MODEL_ID) is None


@pytest.mark.parametrize("text", FAILURES_BY_MEANING_ONLY)
def test_a_failure_without_the_patterns_words_is_recognised_by_meaning(model: MiniLM, text: str) -> None:
    assert not reports_failure_in_words(text)
    assert failure_by_meaning(model.embed([text], query=True), embedding_model=MODEL_ID) is not None


@pytest.mark.parametrize("text", NOT_FAILURES)
def test_questions_and_wishes_on_the_same_features_are_not_failures(model: MiniLM, text: str) -> None:
    assert failure_by_meaning(model.embed([text], query=True), embedding_model=MODEL_ID) is None


def test_a_vector_of_another_model_or_none_is_not_read() -> None:
    vector = np.ones(384, dtype=np.float32) / np.sqrt(384)
    assert topic_by_meaning("someone hacked me", vector, embedding_model="remote:abc:text-embedding-3-small") is None
    assert topic_by_meaning("someone hacked me", None, embedding_model=MODEL_ID) is None
    assert topic_by_meaning("someone hacked me", vector[:100], embedding_model=MODEL_ID) is None
    assert failure_by_meaning(vector[None, :], embedding_model="remote:abc:text-embedding-3-small") is None
    assert failure_by_meaning(vector[None, :100], embedding_model=MODEL_ID) is None


def test_a_class_is_named_only_at_its_threshold() -> None:
    toy = TopicModel(
        embedding_model="toy",
        classes=("none", "billing dispute"),
        weights=np.array([[0.0, 0.0], [4.0, 0.0]], dtype=np.float32),
        bias=np.zeros(2, dtype=np.float32),
        thresholds={"billing dispute": 0.9},
        failure_weights=np.array([0.0, 3.0], dtype=np.float32),
        failure_bias=0.0,
        failure_threshold=0.8,
    )
    sure, unsure, other = np.array([1.0, 0.0]), np.array([0.5, 0.0]), np.array([-1.0, 0.0])
    assert toy.topic(sure) == ("billing dispute", pytest.approx(1 / (1 + np.exp(-4.0))))
    assert toy.topic(unsure) is None  # likelier than none (0.88) but under its threshold
    assert toy.topic(other) is None
    assert sum(toy.chances(unsure).values()) == pytest.approx(1.0)
    assert toy.failure_chance(np.array([0.0, 1.0])) == pytest.approx(1 / (1 + np.exp(-3.0)))


@pytest.mark.parametrize(
    ("text", "how"),
    [
        ("How do I change my password?", True),
        ("  where is the billing page", True),
        ("can I get a copy of my invoice", True),
        ("someone changed my password", False),
        ("I want to know how this charge happened", False),
        ("will my messages be deleted?", True),
        ("will you delete my data?", False),
        ("quick question about our payments", True),
    ],
)
def test_how_to_questions_are_told_apart(text: str, how: bool) -> None:
    assert asks_how(text) is how


def _agent_with_embedded_article(*, title: str, body: str) -> Agent:
    """An agent whose workspace has one article, embedded as the worker would: search reads by meaning."""
    agent: Agent = AgentFactory()
    knowledge_article_create(workspace=agent.workspace, title=title, body=body, url="https://help.example.com/a")
    for message_id in OutboxMessage.objects.filter(state="pending").values_list("pk", flat=True):
        knowledge_embed_task(message_id)
    return agent


@pytest.mark.django_db
def test_the_responder_hands_off_a_problem_found_by_meaning_only_where_the_admin_switched_it_on(model: MiniLM) -> None:
    agent = _agent_with_embedded_article(
        title="Plans and billing", body="We bill monthly or yearly. Downgrade any time under Settings > Billing."
    )
    text = "I've been charged $80 for a plan I downgraded weeks ago"

    def respond() -> str:
        context = ConversationContext(
            workspace=agent.workspace, agent=agent, conversation_id=1, history=(("user", text),), user_message=text
        )
        result = BuiltinResponder().respond(context=context)
        assert result.reply != HUMAN_ONLY_REPLY or result.escalate_reason
        return result.escalate_reason

    reason = respond()
    assert reason.startswith("The user's message is on a human-only topic: billing dispute (by meaning, 0.")
    agent.human_only_topics = ["account security"]
    assert respond() == ""


@pytest.mark.django_db
def test_the_responder_hands_off_a_failure_without_the_patterns_words_once_the_customer_says_it_persists(
    model: MiniLM,
) -> None:
    agent = _agent_with_embedded_article(
        title="Channels in the left sidebar",
        body="The left sidebar lists the channels you subscribe to. Pin a channel to keep it at the top.",
    )
    first = FAILURES_BY_MEANING_ONLY[1]

    def respond(*messages: str) -> str:
        history = tuple(turn for message in messages for turn in (("user", message), ("ai", "…")))[:-1]
        context = ConversationContext(
            workspace=agent.workspace, agent=agent, conversation_id=1, history=history, user_message=messages[-1]
        )
        return BuiltinResponder().respond(context=context).escalate_reason

    persists = "I logged out and in again and it's the same"
    assert respond(first) == ""  # a first report: the help center may know the fix
    assert respond(first, persists).startswith(
        "The user's message is on a human-only topic: outage or bug that persists (a failure by meaning, 0."
    )
    assert respond("can I reorder the channels in the left sidebar?", persists) == ""  # nothing failed
    assert respond(first, "thanks again, found it") == ""
    # Small talk is not read for a failure. (The topic model by meaning may still name this message itself.)
    assert "outage or bug that persists" not in respond("thanks, that sorted it out", persists)
    agent.human_only_topics = ["account security", "billing dispute"]
    assert respond(first, persists) == ""


def test_the_model_is_pure() -> None:
    program = textwrap.dedent(
        """
        import sys

        class BlockOthers:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"django", "escalation", "inbox", "segments", "halo"}:
                    raise ImportError(name + " is blocked in this test")
                return None

        sys.meta_path.insert(0, BlockOthers())
        from agents.topic_vectors import topic_model
        print(len(topic_model().classes))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == str(len(topic_model().classes)), result.stderr


def test_the_shipped_model_was_fitted_on_the_examples_as_they_are() -> None:
    """Editing the examples (or the question sets they draw on) without refitting fails here."""
    texts, labels, failures = topics_fit.examples()
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert data["examples_sha256"] == topics_fit.examples_digest(texts, labels, failures)
    assert data["classes"] == list(topics_fit.CLASSES)
