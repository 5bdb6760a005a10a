"""Confidence that is a probability: the chance that an answer from a search's best hit is right.

Logistic models over features of the search (below), fitted by ``bench/answers_fit.py`` on a calibration set
of questions written for it (answerable and not, over two help centers; kept apart from the questions
retrieval was tuned on and from the held-out ones) and pasted here. A turn's confidence is this probability
times 100, so an escalation threshold of 50 means "escalate when an answer is more likely wrong than right".
``choices`` models the chance that the right article is among the three offered when the reply asks "Did
you mean…?".

With vectors, each chance is a product of two models: that the help center answers the question at all
(from how well the best hit matches and how many of the question's words the help center never uses), times
that the first hit (or one of the first three) is the right article when it does (from the margin over the
runner-up). Two questions show why: an off-topic one can have a clear winner among weak hits, and an
answerable one a small margin between near-duplicate articles; one model over all the evidence had to rank
both by the margin, the product ranks the first by how little matches and the second by how well. Searching
by words only (no vectors) gives other evidence, so it has its own single models.

The features, for the best hit: its score; its margin over the runner-up; its cosine and lexical scores;
the share of the question's stems found in it; the share of the question's stems the help center never
uses; whether the words alone and the meaning alone rank it first; and the number of stems (log).
"""

import math
from dataclasses import dataclass

from agents.knowledge.search import KnowledgeResult, SearchMode

FEATURES = ("score", "margin", "cosine", "lexical", "coverage", "unknown", "lexical_agrees", "semantic_agrees", "terms")


@dataclass(frozen=True)
class Model:
    intercept: float
    weights: dict[str, float]

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(weight * values[name] for name, weight in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Product:
    """The chance that the help center answers the question, times the chance that the hit is right if it does."""

    answerable: Model
    right_if_answerable: Model

    def probability(self, values: dict[str, float]) -> float:
        return self.answerable.probability(values) * self.right_if_answerable.probability(values)


# Fitted by `bench/answers_fit.py fit` on the 244 calibration questions (bench/data/zulip-calibration.json,
# over Zulip's help center, and bench/data/demo-calibration.json, over the demo one): L2-regularised logistic
# regressions on standardised features, folded back to raw features here. ANSWERABLE is fitted on every
# calibration question (label: it has an answer), the two others on the answerable ones only (label: the
# first hit, or one of the first three, is an expected article). Each model's features are the subset of its
# kind of evidence with the best cross-validated log-loss; their cross-validated calibration, through the
# responder's choice of reply, is in docs/answers.md. Refit after any change to retrieval: the features'
# scale moves with it.
SEMANTIC_ANSWERABLE = Model(intercept=-4.0187, weights={"score": 12.4729, "unknown": -2.5468})
SEMANTIC_FIRST_RIGHT = Model(intercept=-0.5576, weights={"margin": 17.6380})
SEMANTIC_ONE_OF_THREE_RIGHT = Model(intercept=0.9326, weights={"margin": 17.5169})
SEMANTIC_ANSWER = Product(answerable=SEMANTIC_ANSWERABLE, right_if_answerable=SEMANTIC_FIRST_RIGHT)
SEMANTIC_CHOICES = Product(answerable=SEMANTIC_ANSWERABLE, right_if_answerable=SEMANTIC_ONE_OF_THREE_RIGHT)
# Words only: one model per chance, fitted on every calibration question searched without vectors.
LEXICAL_ANSWER = Model(
    intercept=-5.8063,
    weights={"score": 3.5269, "margin": 11.6228, "coverage": 0.7649, "unknown": 1.8971, "terms": 1.2529},
)
LEXICAL_CHOICES = Model(
    intercept=-5.1967,
    weights={"score": 4.1865, "margin": 10.0927, "coverage": 0.2519, "unknown": 0.6115, "terms": 1.6024},
)


def features(result: KnowledgeResult) -> dict[str, float] | None:
    """The evidence of ``result`` for its best hit; None when it has no hit."""
    if not result.hits:
        return None
    best = result.hits[0]
    return {
        "score": best.score,
        "margin": best.score - result.runner_up,
        "cosine": best.semantic if best.semantic is not None else 0.0,
        "lexical": best.lexical,
        "coverage": result.coverage,
        "unknown": result.unknown_share,
        "lexical_agrees": 1.0 if result.lexical_top == best.article_id else 0.0,
        "semantic_agrees": 1.0 if result.semantic_top == best.article_id else 0.0,
        "terms": math.log1p(len(result.stems)),
    }


def answer_probability(result: KnowledgeResult) -> float:
    """The chance that the best hit answers the question (0 without a hit)."""
    values = features(result)
    if values is None:
        return 0.0
    model: Model | Product = SEMANTIC_ANSWER if result.mode == SearchMode.SEMANTIC else LEXICAL_ANSWER
    return model.probability(values)


def choices_probability(result: KnowledgeResult) -> float:
    """The chance that one of the first three hits answers the question (0 without a hit)."""
    values = features(result)
    if values is None:
        return 0.0
    model: Model | Product = SEMANTIC_CHOICES if result.mode == SearchMode.SEMANTIC else LEXICAL_CHOICES
    return model.probability(values)
