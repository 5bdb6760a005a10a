"""Confidence that is a probability: the chance that an answer from a search's best hit is right.

A logistic model over features of the search (below), fitted by ``bench/answers_fit.py`` on a calibration
set of questions written for it (answerable and not, over two help centers; kept apart from the questions
retrieval was tuned on and from the held-out ones) and pasted here. A turn's confidence is this probability
times 100, so an escalation threshold of 50 means "escalate when an answer is more likely wrong than right".
Searching by words only (no vectors) gives other evidence, so it has its own coefficients. ``choices``
models the chance that the right article is among the three offered when the reply asks "Did you mean…?".

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


# Fitted by `bench/answers_fit.py fit` on the 244 calibration questions (bench/data/zulip-calibration.json,
# over Zulip's help center, and bench/data/demo-calibration.json, over the demo one): L2-regularised logistic
# regressions on standardised features, folded back to raw features here. Their cross-validated calibration
# is in docs/answers.md. Refit after any change to retrieval: the features' scale moves with it.
SEMANTIC_ANSWER = Model(
    intercept=-2.5743,
    weights={"score": 0.1625, "margin": 17.4449, "cosine": 3.4345, "unknown": -1.3873, "terms": -0.2031},
)
SEMANTIC_CHOICES = Model(
    intercept=-3.1982,
    weights={
        "score": 2.6790,
        "margin": 15.4771,
        "cosine": 4.8573,
        "lexical": 1.0500,
        "coverage": 0.3576,
        "unknown": -1.4360,
        "lexical_agrees": 0.1780,
        "terms": -0.6736,
    },
)
LEXICAL_ANSWER = Model(
    intercept=-5.8069,
    weights={"score": 3.5267, "margin": 11.6277, "coverage": 0.7651, "unknown": 1.8975, "terms": 1.2530},
)
LEXICAL_CHOICES = Model(
    intercept=-5.1974,
    weights={"score": 4.1864, "margin": 10.0970, "coverage": 0.2522, "unknown": 0.6119, "terms": 1.6026},
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
    model = SEMANTIC_ANSWER if result.mode == SearchMode.SEMANTIC else LEXICAL_ANSWER
    return model.probability(values)


def choices_probability(result: KnowledgeResult) -> float:
    """The chance that one of the first three hits answers the question (0 without a hit)."""
    values = features(result)
    if values is None:
        return 0.0
    model = SEMANTIC_CHOICES if result.mode == SearchMode.SEMANTIC else LEXICAL_CHOICES
    return model.probability(values)
