"""Experiment: re-scoring knowledge search's first articles with a cross-encoder (or another BERT model).

    # 1. the product's ranking, with each article's best passage, for every question (Django, SQLite):
    .venv/bin/python bench/answers_rerank.py candidates --zulip ARTICLES.json --questions Q.json … \
        --vector-cache FILE --out candidates.json [--depth 20]
    # 2. cross-encoder scores of (question, passage) for the first --depth articles, cached in --scores:
    .venv/bin/python bench/answers_rerank.py score --candidates candidates.json --weights MODEL.npz \
        --scores scores.json [--depth 20]
    # 3. top-1 / top-3 of the re-ranking variants, per question file (chosen on the first file only):
    .venv/bin/python bench/answers_rerank.py report --candidates candidates.json --scores scores.json

``MODEL.npz`` holds a BERT cross-encoder's weights under Hugging Face's names (``bench/onnx_weights.py``
writes it from an ONNX file). The model runs in numpy, the way ``agents/knowledge/embeddings.py`` runs
all-MiniLM-L6-v2 (same tokenizer, vocabulary checked by its SHA-256): ``[CLS] question [SEP] passage [SEP]``
through the encoder, then the pooler (tanh) and the classifier on ``[CLS]`` give one relevance logit. The
passage is what the embedding model reads ("title — heading: text"). ``score`` prints the CPU time per
question on one BLAS thread. ``report`` prints, for each variant, top-1 / top-3 per question file; the dev
file (the first) is the one to choose by, the others are measured only.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Question and pair lengths in word pieces: a chat question says what it is about in its first 64, and a
# passage of ~100 words with its title fits in the rest.
MAX_QUESTION_TOKENS = 64
MAX_PAIR_TOKENS = 320


def load_fit_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_answers_fit", ROOT / "bench" / "answers_fit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def candidates(options: argparse.Namespace) -> int:
    fit = load_fit_module()
    fit.bench.setup("sqlite", "local")
    if options.vector_cache:
        from bench.vector_pack import vector_cache_use

        vector_cache_use(options.vector_cache)
    from django.db import connection
    from django.test.utils import setup_test_environment
    from threadpoolctl import threadpool_limits

    from agents.knowledge import embeddings, search
    from agents.knowledge.passages import Passage

    threadpool_limits(limits=1, user_api="blas")
    if options.bi_encoder:
        model = BiEncoder(options.bi_encoder, options.bi_cache)
        embeddings.local_embedder = lambda: model  # type: ignore[assignment]
    if options.lexical_weight is not None:
        search.LEXICAL_WEIGHT = options.lexical_weight
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    workspace, by_url = fit.load(options.zulip, with_demo=False)["zulip"]
    result: dict[str, Any] = {"files": {}}
    for path in options.questions:
        rows = []
        for question, expect in fit.questions_of(path):
            hits = search.knowledge_lookup(workspace=workspace, text=question, limit=options.depth).hits
            rows.append(
                {
                    "q": question,
                    "expect": expect,
                    "hits": [
                        {
                            "slug": by_url.get(hit.url, ""),
                            "score": hit.score,
                            "text": Passage(heading=hit.heading, body=hit.passage).embedding_text(hit.title),
                        }
                        for hit in hits
                    ],
                }
            )
        result["files"][path.name] = rows
        print(f"{path.name}: {len(rows)} questions", file=sys.stderr)
    options.out.write_text(json.dumps(result))
    return 0


class Bert:
    """A BERT encoder in numpy (as ``MiniLM`` in ``agents/knowledge/embeddings.py``, any depth), from an ``.npz`` of
    Hugging Face-named weights; the vocabulary is the bundled model's (checked by its SHA-256)."""

    def __init__(self, path: Path) -> None:
        from agents.knowledge.embeddings import VOCAB_SHA256, WordPiece, model_directory

        vocab = model_directory() / "vocab.txt"
        assert hashlib.sha256(vocab.read_bytes()).hexdigest() == VOCAB_SHA256
        self.tokenizer = WordPiece(vocab.read_text(encoding="utf-8").splitlines())
        self.w = {name: array.astype(np.float32) for name, array in dict(np.load(path)).items()}
        self.layers = sum(1 for name in self.w if name.endswith(".attention.self.query.weight"))
        self.width = self.w["embeddings.word_embeddings.weight"].shape[1]
        self.heads = self.width // 32
        self.t = {name: np.ascontiguousarray(array.T) for name, array in self.w.items() if array.ndim == 2}

    @staticmethod
    def _norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        centered = x - x.mean(-1, keepdims=True)
        return centered / np.sqrt((centered * centered).mean(-1, keepdims=True) + 1e-12) * weight + bias

    def hidden(self, encoded: list[tuple[list[int], list[int]]]) -> np.ndarray:
        """The last layer's states, ``[batch, length, width]``, of (ids, token types) rows."""
        size, length = len(encoded), max(len(ids) for ids, _ in encoded)
        ids = np.zeros((size, length), dtype=np.int64)
        types = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, (token_ids, token_types) in enumerate(encoded):
            ids[row, : len(token_ids)] = token_ids
            types[row, : len(token_ids)] = token_types
            mask[row, : len(token_ids)] = 1.0
        w, t = self.w, self.t
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = self.width // self.heads
        scale = np.float32(1.0 / math.sqrt(head))
        gelu = np.float32(math.sqrt(2 / math.pi))
        for index in range(self.layers):
            p = f"encoder.layer.{index}."

            def split(y: np.ndarray) -> np.ndarray:
                return y.reshape(size, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(x @ t[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
            k = split(x @ t[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
            v = split(x @ t[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(size, length, self.width)
            attended = context @ t[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = self._norm(
                attended + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
            )
            up = x @ t[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            up = 0.5 * up * (1.0 + np.tanh(gelu * (up + np.float32(0.044715) * up * up * up)))
            out = up @ t[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = self._norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        return x


class CrossEncoder(Bert):
    """``[CLS] question [SEP] passage [SEP]`` through the encoder, then pooler (tanh) and classifier: a logit."""

    def encode_pair(self, question: str, passage: str) -> tuple[list[int], list[int]]:
        first = self.tokenizer.encode(question, max_tokens=MAX_QUESTION_TOKENS)
        second = self.tokenizer.encode(passage, max_tokens=MAX_PAIR_TOKENS - len(first) + 1)[1:]  # drop its [CLS]
        return first + second, [0] * len(first) + [1] * len(second)

    def logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        x = self.hidden([self.encode_pair(q, p) for q, p in pairs])
        w, t = self.w, self.t
        pooled = np.tanh(x[:, 0] @ t["pooler.dense.weight"] + w["pooler.dense.bias"])
        logits: np.ndarray = (pooled @ t["classifier.weight"] + w["classifier.bias"])[:, 0]
        return logits


class BiEncoder(Bert):
    """A bi-encoder pooled on ``[CLS]`` (bge-small-en-v1.5), unit length; questions get the model's retrieval
    instruction. Stands in for the bundled model (same ``model_id``) so the product's search runs on it;
    passage vectors are kept in ``cache`` (one ``.npy`` per text)."""

    INSTRUCTION = "Represent this sentence for searching relevant passages: "

    def __init__(self, path: Path, cache: Path) -> None:
        from agents.knowledge.embeddings import MODEL_ID

        super().__init__(path)
        self.model_id = MODEL_ID
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)

    def _embed(self, texts: list[str], limit: int) -> np.ndarray:
        encoded = [self.tokenizer.encode(text, max_tokens=limit) for text in texts]
        result = np.zeros((len(texts), self.width), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda index: len(encoded[index]))
        for start in range(0, len(order), 16):
            chunk = order[start : start + 16]
            x = self.hidden([(encoded[index], [0] * len(encoded[index])) for index in chunk])[:, 0]
            result[chunk] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return result

    def embed(self, texts: Any, *, query: bool = False) -> np.ndarray:
        if query:
            return self._embed([self.INSTRUCTION + text for text in texts], 128)
        paths = [self.cache / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.npy" for text in texts]
        missing = [index for index, path in enumerate(paths) if not path.exists()]
        if missing:
            for index, vector in zip(missing, self._embed([texts[i] for i in missing], 256), strict=True):
                np.save(paths[index], vector)
        return np.stack([np.load(path) for path in paths]).astype(np.float32)


def pair_key(question: str, passage: str) -> str:
    return hashlib.sha256(f"{question}\n{passage}".encode()).hexdigest()[:32]


def score(options: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    import django

    django.setup()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    model = CrossEncoder(options.weights)
    data = json.loads(options.candidates.read_text())
    cache: dict[str, float] = json.loads(options.scores.read_text()) if options.scores.exists() else {}
    for name, rows in data["files"].items():
        seconds: list[float] = []
        for row in rows:
            pairs = [(row["q"], hit["text"]) for hit in row["hits"][: options.depth]]
            todo = [pair for pair in pairs if pair_key(*pair) not in cache]
            if not todo:
                continue
            started = time.process_time()
            logits = model.logits(todo)
            seconds.append((time.process_time() - started) / len(todo))
            for pair, logit in zip(todo, logits.tolist(), strict=True):
                cache[pair_key(*pair)] = logit
        options.scores.write_text(json.dumps(cache))
        if seconds:
            print(
                f"{name}: CPU per (question, passage) pair: median {1000 * float(np.median(seconds)):.1f} ms, "
                f"one thread ({len(seconds)} questions)",
                file=sys.stderr,
            )
    return 0


def ranked(row: dict[str, Any], cache: dict[str, float], depth: int, weight: float | None, gate: float) -> list[str]:
    """The articles in the order a variant gives: the first ``depth`` re-scored (``weight`` None: by the
    cross-encoder's logit alone; else first-stage score + ``weight`` * sigmoid(logit)), the rest as they were;
    only when the first two first-stage scores are within ``gate`` of each other."""
    hits = row["hits"]
    if len(hits) > 1 and hits[0]["score"] - hits[1]["score"] > gate:
        return [hit["slug"] for hit in hits]
    head = hits[:depth]

    def key(hit: dict[str, Any]) -> float:
        logit = cache[pair_key(row["q"], hit["text"])]
        return logit if weight is None else hit["score"] + weight / (1 + math.exp(-logit))

    return [hit["slug"] for hit in sorted(head, key=key, reverse=True)] + [hit["slug"] for hit in hits[depth:]]


def report(options: argparse.Namespace) -> int:
    data = json.loads(options.candidates.read_text())
    cache: dict[str, float] = json.loads(options.scores.read_text())
    names = list(data["files"])
    variants: list[tuple[str, int, float | None, float]] = [("first stage (the product)", 1, 0.0, 9.0)]
    for depth in (3, 5, 10, 20):
        variants.append((f"logit alone, first {depth}", depth, None, 9.0))
        for weight in (0.1, 0.2, 0.3, 0.5, 1.0):
            variants.append((f"score + {weight} * sigmoid(logit), first {depth}", depth, weight, 9.0))
    for gate in (0.02, 0.05, 0.1):
        for depth in (5, 10):
            variants.append(
                (f"logit alone, first {depth}, only when the first two are within {gate}", depth, None, gate)
            )
    header = " | ".join(f"{name} top-1 | top-3 | re-scored" for name in names)
    print(f"| variant | {header} |\n|---|" + "---|---|---|" * len(names))
    for label, depth, weight, gate in variants:
        cells = []
        for name in names:
            rows = [row for row in data["files"][name] if row["expect"]]
            top1 = top3 = rescored = 0
            for row in rows:
                if len(row["hits"]) < 2 or row["hits"][0]["score"] - row["hits"][1]["score"] <= gate:
                    rescored += 1
                order = ranked(row, cache, depth, weight, gate) if depth > 1 else [h["slug"] for h in row["hits"]]
                top1 += bool(order[:1]) and order[0] in row["expect"]
                top3 += bool(set(order[:3]) & set(row["expect"]))
            share = rescored / len(rows) if depth > 1 else 0.0
            cells.append(f"{top1 / len(rows):.3f} | {top3 / len(rows):.3f} | {share:.2f}")
        print(f"| {label} | {' | '.join(cells)} |")
    if options.verbose:
        best = options.verbose
        depth, weight = int(best.split(",")[0]), (None if best.split(",")[1] == "none" else float(best.split(",")[1]))
        for name in names:
            for row in data["files"][name]:
                if not row["expect"]:
                    continue
                before = [hit["slug"] for hit in row["hits"]]
                after = ranked(row, cache, depth, weight, 9.0)
                if (before[0] in row["expect"]) != (after[0] in row["expect"]) or bool(
                    set(before[:3]) & set(row["expect"])
                ) != bool(set(after[:3]) & set(row["expect"])):
                    print(f"{name}: {row['q']!r} expect {row['expect']}: {before[:3]} -> {after[:3]}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["candidates", "score", "report"])
    parser.add_argument("--zulip", type=Path)
    parser.add_argument("--questions", type=Path, nargs="*", default=[])
    parser.add_argument("--vector-cache", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--bi-encoder", type=Path, help="candidates: search with this bi-encoder (.npz) instead")
    parser.add_argument("--bi-cache", type=Path, help="candidates: where the bi-encoder keeps passage vectors")
    parser.add_argument("--lexical-weight", type=float, help="candidates: the blend's lexical weight")
    parser.add_argument("--candidates", type=Path)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--scores", type=Path)
    parser.add_argument("--verbose", help="report: DEPTH,WEIGHT (or DEPTH,none) — list the questions it changes")
    options = parser.parse_args()
    return {"candidates": candidates, "score": score, "report": report}[options.command](options)


if __name__ == "__main__":
    sys.exit(main())
