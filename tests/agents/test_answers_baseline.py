"""The plain BM25 baseline of ``bench/answers_baseline.py``: what the words-only search is compared with in
docs/answers.md, so its ranking must be BM25's."""

import json
from pathlib import Path

import pytest

from bench.answers_baseline import Bm25, main

ARTICLES = [
    {"slug": "password", "title": "Reset your password", "body": "Open the sign-in page and click reset."},
    {"slug": "invoices", "title": "Download invoices", "body": "Your invoices are on the billing page."},
    {"slug": "team", "title": "Invite your team", "body": "Invite teammates from the team page of your account."},
]


def test_a_rare_word_outweighs_a_common_one() -> None:
    index = Bm25(ARTICLES)

    # "page" is in every article, "invoices" in one: the invoices article wins though "page" appears elsewhere.
    assert index.ranked("invoices page")[0][1] == "invoices"
    assert index.idf["page"] < index.idf["invoices"]
    assert all(score == 0 for score, _slug in index.ranked("pizza delivery"))


def test_the_script_prints_top_1_top_3_and_auc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    articles, questions = tmp_path / "articles.json", tmp_path / "questions.json"
    articles.write_text(json.dumps({"articles": ARTICLES}))
    questions.write_text(
        json.dumps(
            {
                "questions": [{"q": "how do I reset my password", "expect": ["password"]}],
                "unanswerable": ["do you sell pizza"],
            }
        )
    )
    monkeypatch.setattr("sys.argv", ["answers_baseline.py", "--articles", str(articles), "--questions", str(questions)])

    assert main() == 0
    assert "| questions.json | 1 + 1 | 1.00 | 1.00 | 1.00 | 1.00 |" in capsys.readouterr().out
