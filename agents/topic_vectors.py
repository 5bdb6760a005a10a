"""Human-only topics by meaning: which problem a message is about, read from its sentence vector.

The word patterns of ``agents.topics`` are precise but catch only the phrasings they list: "there were
logins to my account at 3am from an IP I don't know" is an account-security problem without one of their
words. This model reads the message's vector from the bundled embedding model (the one knowledge search
already computes for the question, so it costs no extra pass) and gives the chance of each class:
``account security``, ``billing dispute``, ``legal or privacy request`` or none. It is a multinomial
logistic regression over the 384 numbers of the vector, fitted by ``bench/topics_fit.py`` on
``bench/data/human-only-topics.json`` plus the project's question sets as "none", and stored in
``agents/data/topic_model.json`` with one threshold per class, chosen by cross-validation so that at most
one message in 400 that needs no person is taken for that class (the "none" examples are mostly near
misses written to sit next to the classes, so ordinary traffic meets fewer).

A how-to question is never a human-only topic by meaning ("how do I change my password?" sits next to
"someone changed my password"): the help center answers those, and the word patterns still catch a
dispute phrased as a question.

A persisting failure is not a class: whether a failure needs a person depends on what the customer already
tried, which one message's meaning does not tell. The word patterns read that ("still", "tried
everything", "everyone in the office"); the model's second part only says whether a message reports that
something does not work ("every click takes 10 seconds", "my drafts are gone"), for a conversation whose
failure the patterns have no words for. It is a binary logistic regression over the same vector, fitted on
``failure report`` examples against the rest, with a threshold that lets at most one message in 100 that
reports no failure through: it counts only beside words that say the problem persists.

Pure: numpy and the standard library; the vector comes from the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).resolve().parent / "data" / "topic_model.json"
NONE = "none"
_HOW_TO = re.compile(
    r"^\W*(?:how|where|what|when|which|is there|are there|do you|does|is it|can i|can we|could i|should i"
    r"|(?:will|would) (?!you\b)|(?:(?:a |one )?(?:quick |small |short )?question (?:about|on|regarding|re)))\b",
    re.I,
)


# Fewer words than this name a subject ("question about our invoices") rather than tell what happened; the
# word patterns read the short ones that do ("I was charged twice").
MIN_WORDS = 5


def asks_how(text: str) -> bool:
    """A question the help center answers: it opens with "how", "where", "can I", "is there", "will my"…
    ("will you delete my data?" asks us to act), or announces one ("quick question about our payments")."""
    return bool(_HOW_TO.search(text))


@dataclass(frozen=True)
class TopicModel:
    embedding_model: str  # the sentence model whose vectors it reads
    classes: tuple[str, ...]
    weights: np.ndarray  # one row per class, one column per dimension
    bias: np.ndarray  # classes
    thresholds: dict[str, float]  # a class is named when its chance reaches this
    failure_weights: np.ndarray  # dimensions: the message reports a failure
    failure_bias: float
    failure_threshold: float

    def chances(self, vector: np.ndarray) -> dict[str, float]:
        logits = self.weights @ vector + self.bias
        exp = np.exp(logits - logits.max())
        return dict(zip(self.classes, (exp / exp.sum()).tolist(), strict=True))

    def topic(self, vector: np.ndarray) -> tuple[str, float] | None:
        """The class the message is about and its chance, or None (none, or no class sure enough)."""
        chances = self.chances(vector)
        best = max(chances, key=chances.__getitem__)
        if best == NONE or chances[best] < self.thresholds[best]:
            return None
        return best, chances[best]

    def failure_chance(self, vector: np.ndarray) -> float:
        return float(1 / (1 + np.exp(-(self.failure_weights @ vector + self.failure_bias))))


@lru_cache(maxsize=1)
def topic_model() -> TopicModel:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    return TopicModel(
        embedding_model=data["embedding_model"],
        classes=tuple(data["classes"]),
        weights=np.asarray(data["weights"], dtype=np.float32),
        bias=np.asarray(data["bias"], dtype=np.float32),
        thresholds={name: float(value) for name, value in data["thresholds"].items()},
        failure_weights=np.asarray(data["failure"]["weights"], dtype=np.float32),
        failure_bias=float(data["failure"]["bias"]),
        failure_threshold=float(data["failure"]["threshold"]),
    )


def topic_by_meaning(text: str, vector: np.ndarray | None, *, embedding_model: str) -> tuple[str, float] | None:
    """The human-only topic of the message ``text`` from its vector (``embedding_model`` made it) and its chance,
    or None: none, a how-to question, a message too short to tell a problem, or no vector of the model this
    was fitted on."""
    model = topic_model()
    if vector is None or embedding_model != model.embedding_model or vector.shape != model.weights.shape[1:]:
        return None
    return None if asks_how(text) or len(text.split()) < MIN_WORDS else model.topic(vector)


def failure_by_meaning(vectors: np.ndarray, *, embedding_model: str) -> float | None:
    """The highest chance that one of the messages (their vectors, one row each, made by ``embedding_model``)
    reports a failure, when it reaches the threshold; None otherwise or without vectors of the model this
    was fitted on."""
    model = topic_model()
    if embedding_model != model.embedding_model or vectors.ndim != 2 or vectors.shape[1:] != model.weights.shape[1:]:
        return None
    chance = max((model.failure_chance(vector) for vector in vectors), default=0.0)
    return chance if chance >= model.failure_threshold else None
