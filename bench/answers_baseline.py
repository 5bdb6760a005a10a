"""Plain BM25 over whole articles (title + body), the baseline the builtin's words-only mode must at least match.

    .venv/bin/python bench/answers_baseline.py --articles PATH/articles.json \
        --questions PATH/questions-dev.json bench/data/zulip-heldout.json bench/data/zulip-calibration.json

Reads the same files as ``bench/answers.py`` (``{"articles": [{"slug", "title", "url", "body"}]}`` and
``{"questions": [{"q", "expect"}], "unanswerable": [...]}``) and ranks every article for every question with
Okapi BM25 (k1 = 1.2, b = 0.75) over the lower-cased words of its title and body: no stemming, no stop words,
no passages, no correction. Prints, per question file, top-1, top-3 and MRR@3 over the answerable questions
and the AUC of the best score between answerable and unanswerable ones (``bench/answers.py``'s definitions).
Pure Python, no database: it measures the baseline, not Halo.
"""

import argparse
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answers import auc

K1, B = 1.2, 0.75
WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class Bm25:
    def __init__(self, articles: list[dict[str, str]]) -> None:
        self.slugs = [article["slug"] for article in articles]
        self.documents = [Counter(words(f"{article['title']} {article['body']}")) for article in articles]
        self.lengths = [sum(document.values()) for document in self.documents]
        self.average = sum(self.lengths) / len(self.lengths)
        frequency: Counter[str] = Counter()
        for document in self.documents:
            frequency.update(document.keys())
        total = len(self.documents)
        self.idf = {word: math.log(1 + (total - n + 0.5) / (n + 0.5)) for word, n in frequency.items()}

    def ranked(self, question: str) -> list[tuple[float, str]]:
        terms = [term for term in words(question) if term in self.idf]
        scores = []
        for slug, document, length in zip(self.slugs, self.documents, self.lengths, strict=True):
            score = 0.0
            for term in terms:
                count = document.get(term, 0)
                if count:
                    score += self.idf[term] * count * (K1 + 1) / (count + K1 * (1 - B + B * length / self.average))
            scores.append((score, slug))
        return sorted(scores, key=lambda pair: -pair[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--articles", type=Path, required=True)
    parser.add_argument("--questions", type=Path, nargs="+", required=True)
    options = parser.parse_args()
    index = Bm25(json.loads(options.articles.read_text())["articles"])
    print("| questions | answerable + not | top-1 | top-3 | MRR@3 | AUC |")
    print("|---|---|---|---|---|---|")
    for path in options.questions:
        data = json.loads(path.read_text())
        ranks, best_answerable = [], []
        for question in data["questions"]:
            ranked = index.ranked(question["q"])
            top = [slug for score, slug in ranked[:3] if score > 0]
            ranks.append(next((i for i, slug in enumerate(top) if slug in question["expect"]), None))
            best_answerable.append(ranked[0][0])
        best_unanswerable = [index.ranked(question)[0][0] for question in data.get("unanswerable", [])]
        count = len(ranks)
        top1 = sum(rank == 0 for rank in ranks) / count
        top3 = sum(rank is not None for rank in ranks) / count
        mrr = sum(1 / (rank + 1) for rank in ranks if rank is not None) / count
        separation = auc(best_answerable, best_unanswerable)
        print(
            f"| {path.name} | {count} + {len(best_unanswerable)} | {top1:.2f} | {top3:.2f} | {mrr:.2f} "
            f"| {separation:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
