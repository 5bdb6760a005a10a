"""Passage vectors packed in one file, so a run over a help center reads them instead of embedding it again.

Embedding Zulip's help center (1,864 texts) costs about two minutes of one core. A pack holds, for each
passage text the index embeds (an article's title, then each passage's "title — heading: text"), the vector
the bundled model computes for it, keyed by the text's SHA-256: the digest the index stores for a passage.
Installed, a pack answers the embedding jobs' texts it holds and hands the rest to the model; questions are
always embedded by the model, so answer times stay what a question costs.

``bench/data/zulip-help/vectors.npz`` is the pack of Zulip's help center, which
``tests/escalation/test_conversations.py`` plays its conversations over; a test checks that it still matches
the model and covers every passage. Rebuild it when the model or the passage cutting changes:

    .venv/bin/python bench/vector_pack.py --articles bench/data/zulip-help/articles.json \\
        --out bench/data/zulip-help/vectors.npz

``bench/answers.py --vector-cache FILE`` (and the scripts built on it) use a pack as a cache: it is read
when it exists, and the texts it lacked are added to it at the end of the run.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from agents.knowledge.embeddings import MiniLM

ZULIP_PACK = ROOT / "bench" / "data" / "zulip-help" / "vectors.npz"

Pack = dict[str, np.ndarray]  # hex SHA-256 of the embedded text -> its unit-length float32 vector
Embed = Callable[..., np.ndarray]  # the signature of MiniLM.embed


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def help_center_texts(articles: Iterable[dict[str, Any]]) -> list[str]:
    """The texts the knowledge index embeds for these articles, in index order."""
    from agents.knowledge.passages import Passage, article_passages

    texts: list[str] = []
    for article in articles:
        title = article["title"]
        texts.append(Passage(heading="", body="").embedding_text(title))
        texts += [passage.embedding_text(title) for passage in article_passages(body=article["body"])]
    return texts


def pack_load(path: Path) -> Pack:
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        digests, vectors = data["digests"], data["vectors"]
    return {digest.tobytes().hex(): vector for digest, vector in zip(digests, vectors, strict=True)}


def pack_save(path: Path, pack: Pack) -> None:
    """Writes the pack atomically (a reader never sees half a file); the order is fixed, so an unchanged
    pack is written byte for byte the same."""
    keys = sorted(pack)
    # Raw bytes in a uint8 matrix: numpy's fixed-width bytes type would drop a digest's trailing zero bytes.
    digests = np.array([np.frombuffer(bytes.fromhex(key), dtype=np.uint8) for key in keys], dtype=np.uint8)
    vectors = np.stack([pack[key] for key in keys]).astype("<f4") if keys else np.zeros((0, 0), dtype="<f4")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez_compressed(file, digests=digests, vectors=vectors)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep the pack from other users of the checkout
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def embedding_through(pack: Pack, embed: Embed, *, added: Pack | None = None) -> Embed:
    """A replacement for ``MiniLM.embed`` that reads passage vectors from ``pack`` and computes the others
    with ``embed`` (recording them in ``added`` when given). Questions always go to ``embed``."""

    def packed(model: MiniLM, texts: Sequence[str], *, query: bool = False, **options: Any) -> np.ndarray:
        if query or not texts:
            return embed(model, texts, query=query, **options)
        digests = [text_digest(text) for text in texts]
        missing = [index for index, digest in enumerate(digests) if digest not in pack]
        if missing:
            computed = embed(model, [texts[index] for index in missing], **options)
            fresh = {digests[index]: vector for index, vector in zip(missing, computed, strict=True)}
            if added is not None:
                added.update(fresh)
        else:
            fresh = {}
        return np.stack([pack[digest] if digest in pack else fresh[digest] for digest in digests]).astype(np.float32)

    return packed


def vector_cache_use(path: Path) -> None:
    """Use the pack at ``path`` as a cache for the rest of this process (the benchmarks' ``--vector-cache``):
    the embedding jobs read what it holds, and what they had to compute is added to it when the process
    exits."""
    from agents.knowledge.embeddings import MiniLM

    pack = pack_load(path)
    added: Pack = {}
    MiniLM.embed = embedding_through(pack, MiniLM.embed, added=added)  # type: ignore[method-assign]

    def save() -> None:
        if added:
            pack_save(path, {**pack, **added})

    atexit.register(save)


def pack_build(articles: list[dict[str, Any]]) -> Pack:
    """The bundled model's vectors of every text the index embeds for ``articles``."""
    from agents.knowledge.embeddings import local_embedder

    model = local_embedder()
    if model is None:
        raise SystemExit("the embedding model is not installed (requirements-model.txt)")
    texts = sorted(set(help_center_texts(articles)))
    vectors = model.embed(texts)
    return {text_digest(text): vector for text, vector in zip(texts, vectors, strict=True)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", required=True, type=Path, help="a help center in the zulip-help format")
    parser.add_argument("--out", required=True, type=Path, help="the pack to write (.npz)")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    import django

    django.setup()
    articles = json.loads(options.articles.read_text(encoding="utf-8"))["articles"]
    pack = pack_build(articles)
    pack_save(options.out, pack)
    print(f"{len(pack)} vectors from {len(articles)} articles -> {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
