"""Fit the human-only topic model by meaning (``agents/topic_vectors.py``) and write ``agents/data/topic_model.json``.

    .venv/bin/python bench/topics_fit.py            # fit, print the cross-validated figures, write the model
    .venv/bin/python bench/topics_fit.py --check    # print the figures only

Examples, by class: ``bench/data/human-only-topics.json``; "none" also gets every question of the
calibration sets (``bench/data/zulip-calibration.json``, ``bench/data/demo-calibration.json``: how-to
questions and off-topic ones), every message of the request-for-a-human sets that is not a request (near
misses that mention people) and the user messages of the labelled conversations that never hand off
(``tests/escalation/data/``). The held-out question sets (``bench/data/zulip-heldout.json``,
``bench/data/demo-questions.json``) stay out, to measure on.

Each text is embedded with the bundled model (all-MiniLM-L6-v2, as a question). The model is a multinomial
logistic regression with an L2 penalty, classes weighted so each counts as much as "none", fitted by
gradient descent (deterministic). Each class's threshold is the lowest chance (at least 0.5) at which, in
5-fold cross-validation, at most one "none" message in 400 is named that class; a how-to question counts
as none, as in the product. The figures printed are cross-validated: per class, precision and recall at
its threshold, and the messages it names wrongly.

The failure part is a binary logistic regression over the same vectors: the ``failure report`` examples
against every other example of the file and of the question sets (a "none" message that tells a failure in
the patterns' words, such as "I can't log in to my account", is left out of it, and so are the labelled
conversations, whose first messages may report a failure the help center answers). For the multinomial
model a failure report is "none". Its threshold is the lowest chance (at least 0.5) at which, in
cross-validation, at most one message in 100 that reports no failure is taken for one.
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents.topic_vectors import MIN_WORDS, asks_how  # noqa: E402
from agents.topics import reports_failure_in_words  # noqa: E402

EXAMPLES = ROOT / "bench" / "data" / "human-only-topics.json"
NONE_SOURCES = (
    ROOT / "bench" / "data" / "zulip-calibration.json",
    ROOT / "bench" / "data" / "demo-calibration.json",
)
HUMAN_REQUESTS = ROOT / "tests" / "escalation" / "data" / "human_requests.txt"
CONVERSATIONS = ROOT / "tests" / "escalation" / "data" / "conversations.json"
OUTPUT = ROOT / "agents" / "data" / "topic_model.json"
CLASSES = ("none", "account security", "billing dispute", "legal or privacy request")
FAILURE = "failure report"
# A message that reports no failure may be taken for one at most this often: it counts only beside words
# that say a problem persists.
MAX_FAILURE_FALSE_RATE = 1 / 100
# A message that needs no person may be taken for a human-only topic at most this often, per class. The
# "none" examples are mostly near misses written to sit next to the classes (refund policies, 2FA questions,
# thanks for a refund), so this rate overstates what ordinary traffic meets.
MAX_FALSE_RATE = 1 / 400
PENALTY = 1e-3  # 1e-4 gave the same cross-validated figures with sharper (less smooth) chances
STEPS = 3000
LEARNING_RATE = 2.0
FOLDS = 5


def examples() -> tuple[list[str], np.ndarray, np.ndarray]:
    """The texts, their class (an index of ``CLASSES``) and whether each reports a failure (1 or 0; -1: not
    an example of the failure part)."""
    data = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[int] = []
    failures: list[int] = []
    for index, name in enumerate(CLASSES):
        for text in data[name]:
            texts.append(text)
            labels.append(index)
            failures.append(-1 if index == 0 and reports_failure_in_words(text) else 0)
    for text in data[FAILURE]:
        texts.append(text)
        labels.append(0)
        failures.append(1)
    none: list[tuple[str, int]] = []
    for path in NONE_SOURCES:
        questions = json.loads(path.read_text(encoding="utf-8"))
        asked = [item["q"] for item in questions["questions"]] + questions["unanswerable"]
        none.extend((text, -1 if reports_failure_in_words(text) else 0) for text in asked)
    for line in HUMAN_REQUESTS.read_text(encoding="utf-8").splitlines():
        if line.startswith("- "):
            text = line[2:].strip()
            none.append((text, -1 if reports_failure_in_words(text) else 0))
    for conversation in json.loads(CONVERSATIONS.read_text(encoding="utf-8"))["conversations"]:
        if conversation["handoff_after"] is None:
            none.extend((text, -1) for text in conversation["messages"])
    seen = set(texts)
    for text, failure in none:
        if text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(0)
            failures.append(failure)
    return texts, np.asarray(labels), np.asarray(failures)


def examples_digest(texts: list[str], labels: np.ndarray, failures: np.ndarray) -> str:
    """Identifies the examples a model was fitted on: the shipped model must be refitted when they change."""
    lines = "\n".join(
        f"{CLASSES[label]}\t{failure}\t{text}"
        for text, label, failure in zip(texts, labels.tolist(), failures.tolist(), strict=True)
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def embed(texts: list[str]) -> tuple[str, np.ndarray]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    import django

    django.setup()
    from agents.knowledge.embeddings import MODEL_ID, MiniLM, model_directory

    model = MiniLM(model_directory())
    return MODEL_ID, model.embed(texts, query=True).astype(np.float64)


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights (one row per class) and biases of the L2-penalised multinomial logistic regression."""
    classes = len(CLASSES)
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sample_weight = (counts.max() / counts)[y]
    sample_weight /= sample_weight.sum()
    targets = np.eye(classes)[y]
    weights = np.zeros((classes, x.shape[1]))
    bias = np.zeros(classes)
    for _ in range(STEPS):
        logits = x @ weights.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        chances = np.exp(logits)
        chances /= chances.sum(axis=1, keepdims=True)
        error = (chances - targets) * sample_weight[:, None]
        weights -= LEARNING_RATE * (error.T @ x + PENALTY * weights)
        bias -= LEARNING_RATE * error.sum(axis=0)
    return weights, bias


def chances_of(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    logits = x @ weights.T + bias
    logits -= logits.max(axis=1, keepdims=True)
    chances = np.exp(logits)
    return chances / chances.sum(axis=1, keepdims=True)


def cross_validated(x: np.ndarray, y: np.ndarray, texts: list[str]) -> np.ndarray:
    """Each example's chances from a model fitted without it (how-to questions and messages too short to tell
    a problem: none, as in the product)."""
    order = np.random.default_rng(0).permutation(len(y))
    chances = np.zeros((len(y), len(CLASSES)))
    for fold in range(FOLDS):
        held = order[fold::FOLDS]
        kept = np.setdiff1d(order, held)
        weights, bias = fit(x[kept], y[kept])
        chances[held] = chances_of(x[held], weights, bias)
    for index, text in enumerate(texts):
        if asks_how(text) or len(text.split()) < MIN_WORDS:
            chances[index] = np.eye(len(CLASSES))[0]
    return chances


def fit_failure(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of the L2-penalised binary logistic regression (failure report or not), both sides
    weighted equally."""
    counts = np.bincount(y, minlength=2).astype(np.float64)
    sample_weight = (counts.max() / counts)[y]
    sample_weight /= sample_weight.sum()
    weights = np.zeros(x.shape[1])
    bias = 0.0
    for _ in range(STEPS):
        chances = 1 / (1 + np.exp(-(x @ weights + bias)))
        error = (chances - y) * sample_weight
        weights -= LEARNING_RATE * (error @ x + PENALTY * weights)
        bias -= LEARNING_RATE * float(error.sum())
    return weights, bias


def failure_cross_validated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    order = np.random.default_rng(0).permutation(len(y))
    chances = np.zeros(len(y))
    for fold in range(FOLDS):
        held = order[fold::FOLDS]
        kept = np.setdiff1d(order, held)
        weights, bias = fit_failure(x[kept], y[kept])
        chances[held] = 1 / (1 + np.exp(-(x[held] @ weights + bias)))
    return chances


def failure_threshold(chances: np.ndarray, y: np.ndarray) -> float:
    negatives = y == 0
    for threshold in sorted(set(np.round(chances[y == 1], 3).tolist()) | {0.5}):
        if threshold >= 0.5 and ((chances >= threshold) & negatives).sum() <= MAX_FAILURE_FALSE_RATE * negatives.sum():
            return float(threshold)
    return 1.0


def failure_report(chances: np.ndarray, y: np.ndarray, threshold: float, texts: list[str]) -> None:
    named = chances >= threshold
    right = int((named & (y == 1)).sum())
    print(f"failure part: {int((y == 1).sum())} failure reports, {int((y == 0).sum())} other messages")
    print(f"| failure report | {threshold:.3f} | {right / max(1, named.sum()):.3f} | {right / (y == 1).sum():.3f} |")
    for index in np.flatnonzero(named & (y == 0)):
        print(f"    taken for a failure report: {texts[index]}")


def thresholds(chances: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Per class, the lowest chance (at least 0.5) at which at most ``MAX_FALSE_RATE`` of the "none" examples
    are named that class."""
    best = chances.argmax(axis=1)
    none = y == 0
    result: dict[str, float] = {}
    for index, name in enumerate(CLASSES[1:], start=1):
        predicted = best == index
        candidates = sorted(set(np.round(chances[predicted, index], 3).tolist()) | {0.5})
        chosen = 1.0
        for threshold in candidates:
            named = predicted & (chances[:, index] >= threshold)
            if threshold >= 0.5 and (named & none).sum() <= MAX_FALSE_RATE * none.sum():
                chosen = threshold
                break
        result[name] = chosen
    return result


def report(chances: np.ndarray, y: np.ndarray, cut: dict[str, float], texts: list[str]) -> None:
    best = chances.argmax(axis=1)
    print(f"{len(y)} examples: " + ", ".join(f"{name} {int((y == i).sum())}" for i, name in enumerate(CLASSES)))
    print("| class | threshold | precision | recall |")
    print("|---|---|---|---|")
    for index, name in enumerate(CLASSES[1:], start=1):
        named = (best == index) & (chances[:, index] >= cut[name])
        right = int((named & (y == index)).sum())
        precision = right / named.sum() if named.sum() else 0.0
        print(f"| {name} | {cut[name]:.3f} | {precision:.3f} | {right / (y == index).sum():.3f} |")
        for i in np.flatnonzero(named & (y != index)):
            print(f"    named {name} but {CLASSES[y[i]]}: {texts[i]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="print the cross-validated figures only")
    args = parser.parse_args()
    texts, y, failures = examples()
    model_id, x = embed(texts)
    chances = cross_validated(x, y, texts)
    cut = thresholds(chances, y)
    report(chances, y, cut, texts)
    known = failures >= 0
    failure_x, failure_y = x[known], failures[known]
    failure_texts = [text for text, keep in zip(texts, known.tolist(), strict=True) if keep]
    failure_chances = failure_cross_validated(failure_x, failure_y)
    failure_cut = failure_threshold(failure_chances, failure_y)
    failure_report(failure_chances, failure_y, failure_cut, failure_texts)
    if args.check:
        return
    weights, bias = fit(x, y)
    failure_weights, failure_bias = fit_failure(failure_x, failure_y)
    OUTPUT.parent.mkdir(exist_ok=True)
    model = {
        "about": "Written by bench/topics_fit.py; read by agents/topic_vectors.py.",
        "embedding_model": model_id,
        "examples_sha256": examples_digest(texts, y, failures),
        "classes": list(CLASSES),
        "thresholds": cut,
        "bias": [round(value, 5) for value in bias.tolist()],
        "weights": [[round(value, 5) for value in row] for row in weights.tolist()],
        "failure": {
            "threshold": failure_cut,
            "bias": round(failure_bias, 5),
            "weights": [round(value, 5) for value in failure_weights.tolist()],
        },
    }
    OUTPUT.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
