"""The confidence models: what a search's evidence makes of the chance that the reply answers the question.

Pure: built from ``KnowledgeResult`` values, no database. The end-to-end figures (calibration error, AUC)
come from ``bench/answers.py`` and are in docs/answers.md; these tests pin the structure the fitted
coefficients must keep.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.knowledge.calibration import answer_probability, choices_probability
from agents.knowledge.search import KnowledgeHit, KnowledgeResult, SearchMode


def result(*scores: float, unknown: float = 0.0, mode: SearchMode = SearchMode.SEMANTIC) -> KnowledgeResult:
    """A search whose articles score ``scores`` (best first), with cosines a little below the blended scores."""
    hits = [
        KnowledgeHit(
            article_id=number,
            title=f"Article {number}",
            url=f"https://help.example.com/{number}",
            score=score,
            snippet="",
            lexical=0.1,
            semantic=score - 0.02,
        )
        for number, score in enumerate(scores, 1)
    ]
    return KnowledgeResult(
        hits=hits,
        mode=mode,
        terms=["create", "invite", "link"],
        stems=["creat", "invit", "link"],
        unknown_share=unknown,
        lexical_top=1,
        semantic_top=1,
        runner_up=scores[1] if len(scores) > 1 else 0.0,
        coverage=0.67,
    )


def test_an_off_topic_question_with_a_lone_weak_hit_is_less_likely_answered_than_one_between_near_duplicates() -> None:
    # A weak best hit far ahead of the rest (Zulip's "Tables" article for "a pivot table in excel"), with a
    # word the help center never uses, against a strong best hit a hair ahead of a near-duplicate article.
    off_topic = result(0.30, 0.15, 0.14, unknown=0.25)
    near_duplicates = result(0.65, 0.63, 0.50)

    assert answer_probability(off_topic) < 0.3
    assert answer_probability(near_duplicates) > answer_probability(off_topic)
    # Offered as choices, the near-duplicates are likely to hold the answer.
    assert choices_probability(near_duplicates) > 0.7


def test_a_strong_clear_hit_is_likely_right() -> None:
    assert answer_probability(result(0.70, 0.50, 0.45)) > 0.9


@given(
    best=st.floats(min_value=0.0, max_value=1.2),
    gap=st.floats(min_value=0.0, max_value=0.5),
    unknown=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
)
def test_one_of_three_is_never_less_likely_than_the_first_alone(best: float, gap: float, unknown: float) -> None:
    # A "Did you mean" reply offers the first hit and two more: it cannot be less likely to hold the answer.
    # (Words only, the two chances are separate models, and choices are offered only when likelier.)
    found = result(best, best - gap, best - gap - 0.01, unknown=unknown)
    assert choices_probability(found) >= answer_probability(found)


@pytest.mark.parametrize("mode", list(SearchMode))
def test_no_hit_means_no_chance(mode: SearchMode) -> None:
    empty = KnowledgeResult(hits=[], mode=mode, stems=["pizza"], unknown_share=1.0)

    assert answer_probability(empty) == 0.0
    assert choices_probability(empty) == 0.0
