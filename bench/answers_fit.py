"""Tuning and calibration of the builtin AI's answers: the retrieval sweep and the confidence fit.

    .venv/bin/python bench/answers_fit.py sweep --zulip ARTICLES.json --dev QUESTIONS-DEV.json
    .venv/bin/python bench/answers_fit.py fit --zulip ARTICLES.json
    # --vector-cache DIR: keep the passages' vectors between runs (as bench/answers.py)

Both load the Zulip help center (and, for ``fit``, the demo one) into a fresh SQLite database through the
same path as ``bench/answers.py`` (knowledge API, embedding jobs), then work in process on
``agents.knowledge.knowledge_lookup``.

``sweep`` prints top-1 / top-3 on the dev questions for a range of ``LEXICAL_WEIGHT`` values (the blend's
one retrieval knob) and of the lexical-only mode: what retrieval was tuned on.

``fit`` computes the search features (``agents.knowledge.calibration.features``) of every question of the
calibration sets (``bench/data/zulip-calibration.json``, ``bench/data/demo-calibration.json``), with and
without vectors, fits four logistic regressions (L2-regularised, Newton's method in numpy): the chance
that the first hit is right, and that one of the first three is, for the semantic and the lexical mode.
It prints them as the ``Model(...)`` values to paste into ``agents/knowledge/calibration.py``, with their
in-sample and 5-fold cross-validated AUC and expected calibration error (``--check FILE…``: also on other
question files over Zulip's help center, measured only). The calibration sets are never
used for tuning retrieval, and the dev and held-out questions never for fitting.
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
# Which features each model may use. The chance that the first hit is right: the lexical score, the
# coverage and the agreement of words and meaning separated answerable questions from off-topic ones worse
# on the dev questions (docs/answers.md), so they are left out. The chance that one of three is right keeps
# them: without them the "Did you mean" replies, chosen when the first two are close, came out overconfident.
SEMANTIC_FEATURES = {
    "ANSWER": ["score", "margin", "cosine", "unknown", "terms"],
    "CHOICES": ["score", "margin", "cosine", "lexical", "coverage", "unknown", "lexical_agrees", "terms"],
}
LEXICAL_FEATURES = {
    "ANSWER": ["score", "margin", "coverage", "unknown", "terms"],
    "CHOICES": ["score", "margin", "coverage", "unknown", "terms"],
}
L2 = 1.0


def questions_of(path: Path) -> list[tuple[str, list[str]]]:
    data = json.loads(path.read_text())
    return [(q["q"], list(q["expect"])) for q in data["questions"]] + [(q, []) for q in data.get("unanswerable", [])]


def lookup_rows(
    workspace: Any, items: list[tuple[str, list[str]]], by_url: dict[str, str], semantic: bool
) -> list[dict[str, Any]]:
    from agents.knowledge import calibration, search

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


def matrix(rows: list[dict[str, Any]], names: list[str]) -> tuple[np.ndarray, list[int]]:
    kept = [i for i, row in enumerate(rows) if row["features"] is not None]
    return np.array([[rows[i]["features"][n] for n in names] for i in kept], dtype=float), kept


def evaluate(rows: list[dict[str, Any]], names: list[str], label: str) -> tuple[np.ndarray, float, dict[str, float]]:
    x, kept = matrix(rows, names)
    y = np.array([float(rows[i][label]) for i in kept])
    weights, intercept = fit_logistic(x, y)
    inside = predict(x, weights, intercept)
    folds = np.arange(len(y)) % 5
    rng = np.random.default_rng(7)
    rng.shuffle(folds)
    outside = np.zeros(len(y))
    for fold in range(5):
        w, b = fit_logistic(x[folds != fold], y[folds != fold])
        outside[folds == fold] = predict(x[folds == fold], w, b)
    # Questions without any hit get probability 0 and are always wrong: they count in the figures.
    missing = len(rows) - len(kept)
    all_y = np.concatenate([y, np.zeros(missing)])
    answerable = np.array(
        [rows[i]["answerable"] for i in kept] + [rows[i]["answerable"] for i in range(len(rows)) if i not in kept]
    )

    def report(p: np.ndarray) -> dict[str, float]:
        p = np.concatenate([p, np.zeros(missing)])
        pairs = list(zip(p.tolist(), all_y.astype(bool).tolist(), strict=True))
        return {
            "ece": bench.ece(pairs),
            "auc_answerable": bench.auc(p[answerable].tolist(), p[~answerable].tolist()),
            "mean": float(p.mean()),
            "rate": float(all_y.mean()),
        }

    return (
        weights,
        intercept,
        {**{f"in_{k}": v for k, v in report(inside).items()}, **{f"cv_{k}": v for k, v in report(outside).items()}},
    )


def _check(rows: list[dict[str, Any]], names: list[str], label: str, weights: np.ndarray, intercept: float) -> str:
    """A fitted model's AUC (answerable vs not) and calibration error on questions it was not fitted on."""
    p = np.array(
        [
            predict(np.array([row["features"][n] for n in names]), weights, intercept) if row["features"] else 0.0
            for row in rows
        ]
    )
    answerable = np.array([row["answerable"] for row in rows])
    pairs = list(zip(p.tolist(), [bool(row[label]) for row in rows], strict=True))
    auc = bench.auc(p[answerable].tolist(), p[~answerable].tolist())
    share = np.mean([row[label] for row in rows if row["answerable"]])
    return f"AUC answerable vs not {auc:.3f}, ECE {bench.ece(pairs):.3f}, {label} {share:.3f} (n={len(rows)})"


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
    parser.add_argument("--vector-cache", type=Path, help="keep passage vectors here between runs")
    parser.add_argument(
        "--check", type=Path, nargs="*", default=[], help="fit: question files over Zulip to measure the models on"
    )
    parser.add_argument("--semantic-features", help="fit: comma-separated features of the semantic models")
    options = parser.parse_args()
    bench.setup("sqlite", "local")
    if options.vector_cache:
        bench.cache_passage_vectors(options.vector_cache)
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
        semantic = SEMANTIC_FEATURES
        if options.semantic_features:
            semantic = dict.fromkeys(SEMANTIC_FEATURES, options.semantic_features.split(","))
        for mode, feature_sets in (("SEMANTIC", semantic), ("LEXICAL", LEXICAL_FEATURES)):
            rows = []
            for set_name, (workspace, by_url) in workspaces.items():
                rows += lookup_rows(workspace, questions_of(CALIBRATION[set_name]), by_url, semantic=mode == "SEMANTIC")
            workspace, by_url = workspaces["zulip"]
            checks = {
                path.name: lookup_rows(workspace, questions_of(path), by_url, semantic=mode == "SEMANTIC")
                for path in options.check
            }
            for label, model in (("top1", "ANSWER"), ("top3", "CHOICES")):
                names = feature_sets[model]
                weights, intercept, report = evaluate(rows, names, label)
                values = ", ".join(f'"{n}": {w:.4f}' for n, w in zip(names, weights, strict=True))
                print(f"{mode}_{model} = Model(intercept={intercept:.4f}, weights={{{values}}})")
                print("    # " + ", ".join(f"{k} {v:.3f}" for k, v in report.items()) + f" (n={len(rows)})")
                for check_name, check_rows in checks.items():
                    print(f"    # {check_name}: " + _check(check_rows, names, label, weights, intercept))
        return 0
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
