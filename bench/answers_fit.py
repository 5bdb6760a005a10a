"""Tuning and calibration of the builtin AI's answers: the retrieval sweep and the confidence fit.

    .venv/bin/python bench/answers_fit.py sweep --zulip ARTICLES.json --dev QUESTIONS-DEV.json
    .venv/bin/python bench/answers_fit.py fit --zulip ARTICLES.json
    # --vector-cache FILE: keep the passages' vectors between runs (as bench/answers.py)

Both load the Zulip help center (and, for ``fit``, the demo one) into a fresh SQLite database through the
same path as ``bench/answers.py`` (knowledge API, embedding jobs), then work in process on
``agents.knowledge.knowledge_lookup``.

``sweep`` prints top-1 / top-3 on the dev questions for a range of ``LEXICAL_WEIGHT`` values (the blend's
one retrieval knob) and of the lexical-only mode: what retrieval was tuned on.

``fit`` computes the search features (``agents.knowledge.calibration.features``) of every question of the
calibration sets (``bench/data/zulip-calibration.json``, ``bench/data/demo-calibration.json``), with and
without vectors, and fits the logistic regressions of ``agents/knowledge/calibration.py`` (L2-regularised,
Newton's method in numpy): with vectors, the chance that the help center answers the question (on every
question) and the chances that the first hit, or one of the first three, is right when it does (on the
answerable ones), whose products are the confidences; without vectors, one model per confidence. It prints
them as the ``Model(...)`` values to paste, each with its cross-validated log-loss, then the confidences'
expected calibration error and AUC (answerable vs not) through the responder's choice of reply
(``agents.responders.offers_choices``): in sample and 5-fold cross-validated (``--check FILE…``: also on
other question files over Zulip's help center, measured only). ``--features NAME=a,b`` fits a model on
other features, to compare. The calibration sets are never used for tuning retrieval, and the dev and
held-out questions never for fitting.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_answers", ROOT / "bench" / "answers.py")
assert _spec is not None
assert _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

CALIBRATION = {
    "zulip": ROOT / "bench" / "data" / "zulip-calibration.json",
    "demo": ROOT / "bench" / "data" / "demo-calibration.json",
}
# Each model: the row's label it predicts, the questions it is fitted on ("all", or the "answerable" ones
# only) and its features. With vectors, the first model reads the evidence that the help center answers the
# question at all (how well the best hit matches, the share of the question's stems it never uses) and the
# two others the evidence of which article is right (the margin over the runner-up); each feature set is the
# subset of its kind of evidence with the best cross-validated log-loss on the calibration set (printed with
# each model; ``--features`` compares another). Words only: one model per confidence.
Spec = tuple[str, str, list[str]]
SEMANTIC_MODELS: dict[str, Spec] = {
    "ANSWERABLE": ("answerable", "all", ["score", "unknown"]),
    "FIRST_RIGHT": ("top1", "answerable", ["margin"]),
    "ONE_OF_THREE_RIGHT": ("top3", "answerable", ["margin"]),
}
LEXICAL_MODELS: dict[str, Spec] = {
    "ANSWER": ("top1", "all", ["score", "margin", "coverage", "unknown", "terms"]),
    "CHOICES": ("top3", "all", ["score", "margin", "coverage", "unknown", "terms"]),
}
# The confidence of an answer and of a "Did you mean" reply: the product of these models' probabilities.
CONFIDENCES = {
    "SEMANTIC": (("ANSWERABLE", "FIRST_RIGHT"), ("ANSWERABLE", "ONE_OF_THREE_RIGHT")),
    "LEXICAL": (("ANSWER",), ("CHOICES",)),
}
FOLDS = 5
L2 = 1.0


def questions_of(path: Path) -> list[tuple[str, list[str]]]:
    data = json.loads(path.read_text())
    return [(q["q"], list(q["expect"])) for q in data["questions"]] + [(q, []) for q in data.get("unanswerable", [])]


def lookup_rows(
    workspace: Any, items: list[tuple[str, list[str]]], by_url: dict[str, str], semantic: bool
) -> list[dict[str, Any]]:
    from agents.knowledge import calibration, search
    from agents.topics import DEFAULT_HUMAN_ONLY_TOPICS, human_only_topic

    real = search._question_vector
    if not semantic:
        search._question_vector = lambda snapshot, text: None  # type: ignore[assignment]
    try:
        rows = []
        for question, expect in items:
            result = search.knowledge_lookup(workspace=workspace, text=question, limit=3)
            ranked = [by_url.get(hit.url, "") for hit in result.hits]
            rows.append(
                {
                    "question": question,
                    "features": calibration.features(result),
                    "top1": bool(expect) and bool(ranked) and ranked[0] in expect,
                    "top3": bool(expect) and bool(set(ranked[:3]) & set(expect)),
                    "answerable": bool(expect),
                    "hits": result.hits,
                    "human_only": human_only_topic(question, DEFAULT_HUMAN_ONLY_TOPICS) is not None,
                }
            )
        return rows
    finally:
        search._question_vector = real


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and intercept of an L2-regularised logistic regression (Newton's method; intercept free)."""
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    design = np.hstack([np.ones((len(z), 1)), z])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (p - y) + penalty * beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = beta[1:] / scale
    return weights, float(beta[0] - (weights * mean).sum())


def predict(x: np.ndarray, weights: np.ndarray, intercept: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ weights + intercept)))


Fitted = dict[str, tuple[list[str], np.ndarray, float]]


def fit_models(rows: list[dict[str, Any]], specs: dict[str, Spec]) -> Fitted:
    fitted: Fitted = {}
    for name, (label, subset, names) in specs.items():
        train = [row for row in rows if row["features"] is not None and (subset == "all" or row["answerable"])]
        x = np.array([[row["features"][n] for n in names] for row in train], dtype=float)
        weights, intercept = fit_logistic(x, np.array([float(row[label]) for row in train]))
        fitted[name] = (names, weights, intercept)
    return fitted


def chance(fitted: Fitted, product: tuple[str, ...], row: dict[str, Any]) -> float:
    """The product of the models' probabilities for ``row`` (0 without a hit, as the product says)."""
    if row["features"] is None:
        return 0.0
    result = 1.0
    for name in product:
        names, weights, intercept = fitted[name]
        result *= float(predict(np.array([row["features"][n] for n in names]), weights, intercept))
    return result


def reply(row: dict[str, Any], answer: float, choices: float) -> tuple[float, bool]:
    """The turn's confidence (0-1) and whether its reply answers, as the builtin responder decides them."""
    from agents.responders import REFUSE_BELOW, offers_choices

    if not row["hits"] or row["human_only"]:
        return round(100 * answer) / 100, False
    if offers_choices(row["hits"], probability=answer, choices=choices):
        return round(100 * choices) / 100, row["top3"]
    return round(100 * answer) / 100, answer >= REFUSE_BELOW and row["top1"]


def replies(rows: list[dict[str, Any]], fitted: Fitted, mode: str) -> list[tuple[float, bool]]:
    answer, choices = CONFIDENCES[mode]
    return [reply(row, chance(fitted, answer, row), chance(fitted, choices, row)) for row in rows]


def figures(rows: list[dict[str, Any]], outcomes: list[tuple[float, bool]]) -> str:
    """The confidences' calibration error (against "the reply answers") and AUC (answerable vs not)."""
    answerable = [confidence for (confidence, _), row in zip(outcomes, rows, strict=True) if row["answerable"]]
    other = [confidence for (confidence, _), row in zip(outcomes, rows, strict=True) if not row["answerable"]]
    answered = np.mean([right for (_, right), row in zip(outcomes, rows, strict=True) if row["answerable"]])
    auc = bench.auc(answerable, other)
    return f"ECE {bench.ece(outcomes):.3f}, AUC answerable vs not {auc:.3f}, answered {answered:.2f}"


def folds_of(count: int) -> np.ndarray:
    folds = np.arange(count) % FOLDS
    np.random.default_rng(7).shuffle(folds)
    return folds


def cross_validated(rows: list[dict[str, Any]], specs: dict[str, Spec], mode: str) -> list[tuple[float, bool]]:
    """Each question's confidence and outcome from models fitted on the other folds."""
    folds = folds_of(len(rows))
    outcomes: list[tuple[float, bool]] = [(0.0, False)] * len(rows)
    for fold in range(FOLDS):
        fitted = fit_models([row for row, f in zip(rows, folds, strict=True) if f != fold], specs)
        for index in np.flatnonzero(folds == fold):
            outcomes[index] = replies([rows[index]], fitted, mode)[0]
    return outcomes


def log_loss(rows: list[dict[str, Any]], name: str, spec: Spec) -> float:
    """The model's cross-validated log-loss on the questions it is fitted on."""
    label, subset, _names = spec
    kept = [row for row in rows if row["features"] is not None and (subset == "all" or row["answerable"])]
    folds, losses = folds_of(len(kept)), []
    for fold in range(FOLDS):
        fitted = fit_models([row for row, f in zip(kept, folds, strict=True) if f != fold], {name: spec})
        for index in np.flatnonzero(folds == fold):
            p = min(max(chance(fitted, (name,), kept[index]), 1e-9), 1 - 1e-9)
            losses.append(-np.log(p) if kept[index][label] else -np.log(1 - p))
    return float(np.mean(losses))


def load(zulip: Path, with_demo: bool) -> dict[str, tuple[Any, dict[str, str]]]:
    from halo.models import Workspace

    workspaces = {}
    sets = [("zulip", json.loads(zulip.read_text())["articles"])]
    if with_demo:
        sets.append(("demo", bench.demo_articles()))
    for name, articles in sets:
        context = bench.load_help_center(articles) if name == "zulip" else _second(articles)
        workspaces[name] = (Workspace.objects.get(pk=context.workspace_id), {a["url"]: a["slug"] for a in articles})
    return workspaces


def _second(articles: list[dict[str, str]]) -> Any:
    # create_workspace refuses a second admin with the same email: give the second workspace its own.
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.test import APIClient

    from agents.tasks import knowledge_embed_task
    from halo.models import OutboxMessage

    out = StringIO()
    call_command(
        "create_workspace", "Demo", "--admin-email", "demo@example.com", "--admin-password", "x" * 16, stdout=out
    )
    created = json.loads(out.getvalue())
    client = APIClient()
    for article in articles:
        client.post(
            "/api/v1/knowledge/articles",
            {"title": article["title"], "body": article["body"], "url": article["url"]},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {created['api_key']}",
        )
    for message_id in OutboxMessage.objects.filter(
        state=OutboxMessage.State.PENDING, task="agents.tasks.knowledge_embed"
    ).values_list("pk", flat=True):
        knowledge_embed_task(message_id)
    return bench.Context(
        client=client, app_id=created["app_id"], api_key=created["api_key"], workspace_id=created["workspace_id"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["sweep", "fit"])
    parser.add_argument("--zulip", type=Path, required=True)
    parser.add_argument("--dev", type=Path)
    parser.add_argument("--vector-cache", type=Path, help="a pack of passage vectors (.npz) kept between runs")
    parser.add_argument(
        "--check", type=Path, nargs="*", default=[], help="fit: question files over Zulip to measure the models on"
    )
    parser.add_argument(
        "--features", action="append", default=[], help="fit: NAME=a,b fits model NAME on these features instead"
    )
    options = parser.parse_args()
    bench.setup("sqlite", "local")
    if options.vector_cache:
        from bench.vector_pack import vector_cache_use

        vector_cache_use(options.vector_cache)
    from django.db import connection
    from django.test.utils import setup_test_environment

    from agents.knowledge import search

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        workspaces = load(options.zulip, with_demo=options.command == "fit")
        if options.command == "sweep":
            workspace, by_url = workspaces["zulip"]
            items = [item for item in questions_of(options.dev) if item[1]]
            print("| mode | LEXICAL_WEIGHT | top-1 | top-3 |\n|---|---|---|---|")
            for weight in (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2):
                search.LEXICAL_WEIGHT = weight
                rows = lookup_rows(workspace, items, by_url, semantic=True)
                top1, top3 = np.mean([r["top1"] for r in rows]), np.mean([r["top3"] for r in rows])
                print(f"| blend | {weight} | {top1:.3f} | {top3:.3f} |")
            rows = lookup_rows(workspace, items, by_url, semantic=False)
            top1, top3 = np.mean([r["top1"] for r in rows]), np.mean([r["top3"] for r in rows])
            print(f"| words only | - | {top1:.3f} | {top3:.3f} |")
            return 0
        chosen = dict(option.split("=", 1) for option in options.features)
        for mode, defaults in (("SEMANTIC", SEMANTIC_MODELS), ("LEXICAL", LEXICAL_MODELS)):
            specs = {
                name: (label, subset, chosen[name].split(",") if name in chosen else names)
                for name, (label, subset, names) in defaults.items()
            }
            rows = []
            for set_name, (workspace, by_url) in workspaces.items():
                rows += lookup_rows(workspace, questions_of(CALIBRATION[set_name]), by_url, semantic=mode == "SEMANTIC")
            fitted = fit_models(rows, specs)
            for name, (names, weights, intercept) in fitted.items():
                values = ", ".join(f'"{n}": {w:.4f}' for n, w in zip(names, weights, strict=True))
                print(f"{mode}_{name} = Model(intercept={intercept:.4f}, weights={{{values}}})")
                label, subset, _ = specs[name]
                loss = log_loss(rows, name, specs[name])
                print(f"    # {label} on {subset} questions, cross-validated log-loss {loss:.4f}")
            print(
                f"# {mode} through the reply, in sample: {figures(rows, replies(rows, fitted, mode))} (n={len(rows)})"
            )
            print(f"# {mode} through the reply, cross-validated: {figures(rows, cross_validated(rows, specs, mode))}")
            workspace, by_url = workspaces["zulip"]
            for path in options.check:
                check_rows = lookup_rows(workspace, questions_of(path), by_url, semantic=mode == "SEMANTIC")
                print(f"# {mode} on {path.name}: {figures(check_rows, replies(check_rows, fitted, mode))}")
        return 0
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
