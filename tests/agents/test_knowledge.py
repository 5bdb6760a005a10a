"""Knowledge search: ranked, workspace-scoped, published-only, same results on SQLite and PostgreSQL."""

import pytest

from agents.knowledge import knowledge_reindex, knowledge_search, query_coverage, query_terms, snippet
from agents.models import KnowledgeArticle
from agents.services import knowledge_article_create, knowledge_article_delete, knowledge_article_update
from halo.models import Workspace
from tests.agents.factories import KnowledgeArticleFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_query_terms_keep_meaningful_words_only() -> None:
    assert query_terms("Hi! How do I reset my PASSWORD, please? password") == ["reset", "password"]


def test_query_terms_strip_query_syntax_characters() -> None:
    assert query_terms('"billing" OR * AND (card) -x: NEAR') == ["billing", "card", "near"]


def test_query_coverage_counts_words_found_by_stem() -> None:
    assert query_coverage(["refunds", "invoice"], "How refund works") == 0.5
    assert query_coverage([], "anything") == 0.0
    assert query_coverage(["integrate", "billed"], "Integrations and billing") == 1.0


def test_snippet_starts_at_the_sentence_that_mentions_a_term() -> None:
    text = "Intro sentence here. The invoice is emailed monthly. Other."
    assert snippet(text, ["invoice"]).startswith("…The invoice is emailed")


def test_best_matching_article_ranks_first(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    hits = knowledge_search(workspace=workspace, text="How can I reset my password?")

    assert hits[0].title == "How to reset your password"
    assert hits[0].url == "https://help.example.com/reset-password"
    assert 0 < hits[0].score <= 1
    assert "reset link" in hits[0].snippet or "password" in hits[0].snippet.lower()


def test_title_match_outranks_a_passing_mention(workspace: Workspace) -> None:
    KnowledgeArticleFactory(workspace=workspace, title="Team settings", body="Invoices are listed elsewhere.")
    KnowledgeArticleFactory(workspace=workspace, title="Download invoices", body="Open the Invoices page.")

    hits = knowledge_search(workspace=workspace, text="invoices")

    assert [hit.title for hit in hits] == ["Download invoices", "Team settings"]


def test_stemming_matches_other_word_forms(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    hits = knowledge_search(workspace=workspace, text="exporting reports")

    assert hits[0].title == "Export your data as CSV"


def test_unpublished_and_other_workspaces_articles_are_never_found(workspace: Workspace) -> None:
    KnowledgeArticleFactory(workspace=workspace, title="Refund policy draft", published=False)
    KnowledgeArticleFactory(workspace=WorkspaceFactory(), title="Refund policy elsewhere")

    assert knowledge_search(workspace=workspace, text="refund policy") == []


def test_nothing_found_for_unrelated_or_empty_text(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    assert knowledge_search(workspace=workspace, text="quantum entanglement") == []
    assert knowledge_search(workspace=workspace, text="  ?! ") == []


def test_query_syntax_in_user_text_is_harmless(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    hits = knowledge_search(workspace=workspace, text="password\" OR title:* & ! | ' ) NEAR(")

    assert hits[0].title == "How to reset your password"


def test_search_is_one_query(
    help_center: list[KnowledgeArticle], workspace: Workspace, django_assert_num_queries: object
) -> None:
    with django_assert_num_queries(1):  # type: ignore[operator]
        knowledge_search(workspace=workspace, text="billing address")


def test_services_keep_the_index_current(workspace: Workspace) -> None:
    article = knowledge_article_create(workspace=workspace, title="Shipping times", body="Orders ship in 2 days.")
    assert [hit.article_id for hit in knowledge_search(workspace=workspace, text="shipping")] == [article.pk]

    knowledge_article_update(article=article, data={"title": "Delivery times", "body": "Orders arrive fast."})
    assert knowledge_search(workspace=workspace, text="shipping") == []
    assert [hit.article_id for hit in knowledge_search(workspace=workspace, text="delivery")] == [article.pk]

    knowledge_article_update(article=article, data={"published": False})
    assert knowledge_search(workspace=workspace, text="delivery") == []

    knowledge_article_update(article=article, data={"published": True})
    knowledge_article_delete(article=article)
    assert knowledge_search(workspace=workspace, text="delivery") == []


def test_reindex_rebuilds_every_article(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    assert knowledge_reindex(workspace=workspace) == len(help_center)
    assert knowledge_search(workspace=workspace, text="slack")[0].title == "Connect the Slack integration"
