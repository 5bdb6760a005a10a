"""Knowledge search: passages, stems, typo correction, ranked, workspace-scoped, published-only, same results
on SQLite and PostgreSQL (CI runs this module on PostgreSQL, ``make test`` on SQLite)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.knowledge import knowledge_reindex, knowledge_search, query_coverage, query_terms
from agents.knowledge.answers import MAX_QUOTE_CHARS, quote
from agents.knowledge.passages import MAX_PASSAGE_WORDS, article_passages
from agents.knowledge.search import knowledge_lookup
from agents.knowledge.snapshot import snapshot_forget_all
from agents.knowledge.text import sentences, stems
from agents.models import KnowledgeArticle, KnowledgePassage
from agents.services import knowledge_article_create, knowledge_article_delete, knowledge_article_update
from halo.models import Workspace
from tests.agents.factories import KnowledgeArticleFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

LONG_ARTICLE = """Zulip lets you keep the conversation organized.

## Mute a channel

Muting a channel hides its unread counts and stops its notifications. You stay subscribed and can read
it whenever you like.

1. Hover over the channel in the left sidebar.
1. Click the **ellipsis**.
1. Select **Mute channel**.

## Leave a channel

Unsubscribing removes the channel from your sidebar. You can subscribe again later from the channel
list.
"""


def test_query_terms_keep_meaningful_words_only() -> None:
    assert query_terms("Hi! How do I reset my PASSWORD, please? password") == ["reset", "password"]


def test_query_terms_strip_query_syntax_characters() -> None:
    assert query_terms('"billing" OR * AND (card) -x: NEAR') == ["billing", "card", "near"]


def test_stems_are_snowballs_for_articles_and_questions_alike() -> None:
    assert stems("Archived channels, archiving a channel") == ["archiv", "channel", "archiv", "channel"]
    assert query_coverage(["refunds", "invoice"], "How refund works") == 0.5
    assert query_coverage([], "anything") == 0.0
    assert query_coverage(["integrate", "billed"], "Integrations and billing") == 1.0


def test_sentences_keep_list_steps_and_abbreviations_whole() -> None:
    assert sentences("First one. Second, e.g. this! 1. Click **Save**. Done\nNext line") == [
        "First one.",
        "Second, e.g. this!",
        "1. Click **Save**.",
        "Done",
        "Next line",
    ]


def test_an_article_is_cut_into_its_sections_under_their_headings() -> None:
    passages = article_passages(body=LONG_ARTICLE)

    assert [p.heading for p in passages] == ["", "Mute a channel", "Leave a channel"]
    assert passages[1].body.startswith("Muting a channel hides its unread counts and stops its notifications. You")
    assert "1. Click the **ellipsis**." in passages[1].body.splitlines()  # list items stay lines


@given(st.lists(st.text(alphabet="abcdefgh .\n", min_size=1, max_size=60), min_size=1, max_size=80))
def test_passages_cover_the_text_and_never_grow_past_the_limit_unless_one_sentence_does(lines: list[str]) -> None:
    body = "\n".join(lines)
    passages = article_passages(body=body)
    for passage in passages:
        if len(passage.body.split()) > MAX_PASSAGE_WORDS:
            assert len(sentences(passage.body)) == 1
    covered = {word for passage in passages for word in passage.body.split()}
    assert covered == {word for line in lines if not line.lstrip().startswith("#") for word in line.split()}


def test_long_sections_are_cut_in_overlapping_pieces() -> None:
    body = "## Steps\n" + "\n".join(f"Step number {n} does one more thing in this long section." for n in range(40))

    passages = article_passages(body=body)

    assert len(passages) > 3
    assert all(p.heading == "Steps" for p in passages)
    assert all(90 <= len(p.body.split()) <= MAX_PASSAGE_WORDS for p in passages[:-1])
    assert passages[1].body.splitlines()[0] in passages[0].body  # the next piece starts inside this one


@given(
    st.text(alphabet="abcdefghij ABC.!?,\n", min_size=1, max_size=3000),
    st.lists(st.sampled_from(["abc", "bad", "cafe", "zz"]), max_size=4),
)
def test_a_quote_is_never_cut_inside_a_word(passage: str, question: list[str]) -> None:
    quoted = quote(passage, [s for word in question for s in stems(word)], lambda _stem: 1.0)

    assert len(quoted) <= MAX_QUOTE_CHARS
    assert set(quoted.removesuffix("…").split()) <= set(passage.split())


def test_a_quote_is_the_sentences_that_answer() -> None:
    passage = "Zulip keeps things tidy.\n" + article_passages(body=LONG_ARTICLE)[1].body
    quoted = quote(passage, stems("how do I mute a channel"), lambda _s: 1.0)

    assert quoted.startswith("Muting a channel hides its unread counts and stops its notifications.")
    assert "1. Select Mute channel." in quoted.splitlines()
    assert "**" not in quoted  # Markdown emphasis is not shown in a chat bubble


def test_best_matching_article_ranks_first(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    hits = knowledge_search(workspace=workspace, text="How can I reset my password?")

    assert hits[0].title == "How to reset your password"
    assert hits[0].url == "https://help.example.com/reset-password"
    assert 0 < hits[0].score <= 1
    assert "reset link" in hits[0].snippet


def test_title_match_outranks_a_passing_mention(workspace: Workspace) -> None:
    KnowledgeArticleFactory(workspace=workspace, title="Team settings", body="Invoices are listed elsewhere.")
    KnowledgeArticleFactory(workspace=workspace, title="Download invoices", body="Open the Invoices page.")

    hits = knowledge_search(workspace=workspace, text="invoices")

    assert [hit.title for hit in hits] == ["Download invoices", "Team settings"]


def test_the_matching_section_is_the_hits_passage(workspace: Workspace) -> None:
    KnowledgeArticleFactory(workspace=workspace, title="Channels", body=LONG_ARTICLE)

    hit = knowledge_search(workspace=workspace, text="unsubscribe from a channel")[0]

    assert (hit.title, hit.heading) == ("Channels", "Leave a channel")
    assert hit.snippet.startswith("Unsubscribing removes the channel from your sidebar.")


def test_stemming_matches_other_word_forms(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    hits = knowledge_search(workspace=workspace, text="exporting reports")

    assert hits[0].title == "Export your data as CSV"


def test_a_typo_is_corrected_from_the_help_centers_own_words(
    help_center: list[KnowledgeArticle], workspace: Workspace
) -> None:
    result = knowledge_lookup(workspace=workspace, text="forgot my pasword")

    assert "password" in result.terms
    assert result.hits[0].title == "How to reset your password"


def test_unpublished_and_other_workspaces_articles_are_never_found(workspace: Workspace) -> None:
    KnowledgeArticleFactory(workspace=workspace, title="Refund policy draft", published=False)
    KnowledgeArticleFactory(workspace=WorkspaceFactory(), title="Refund policy elsewhere")

    assert knowledge_search(workspace=workspace, text="refund policy") == []


def test_nothing_found_for_unrelated_or_empty_text(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    assert knowledge_search(workspace=workspace, text="quantum entanglement") == []
    assert knowledge_search(workspace=workspace, text="  ?! ") == []


def test_query_syntax_in_user_text_is_harmless(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    hits = knowledge_search(workspace=workspace, text="password\" OR title:* & ! | ' ) NEAR( ''")

    assert hits[0].title == "How to reset your password"


def test_search_is_one_query_once_the_workspace_is_known(
    help_center: list[KnowledgeArticle], workspace: Workspace, django_assert_num_queries: object
) -> None:
    snapshot_forget_all()
    with django_assert_num_queries(2):  # type: ignore[operator]
        knowledge_search(workspace=workspace, text="billing address")  # + the workspace's statistics
    with django_assert_num_queries(1):  # type: ignore[operator]
        knowledge_search(workspace=workspace, text="credit card")


def test_a_change_made_elsewhere_is_seen_by_the_next_search(workspace: Workspace) -> None:
    article = knowledge_article_create(workspace=workspace, title="Shipping times", body="Orders ship in 2 days.")
    assert [hit.article_id for hit in knowledge_search(workspace=workspace, text="shipping")] == [article.pk]

    knowledge_article_update(article=article, data={"title": "Delivery times", "body": "Orders arrive fast."})
    assert knowledge_search(workspace=workspace, text="shipping") == []
    assert [hit.article_id for hit in knowledge_search(workspace=workspace, text="delivery")] == [article.pk]

    knowledge_article_update(article=article, data={"published": False})
    assert knowledge_search(workspace=workspace, text="delivery") == []
    assert not KnowledgePassage.objects.filter(article=article).exists()

    knowledge_article_update(article=article, data={"published": True})
    knowledge_article_delete(article=article)
    assert knowledge_search(workspace=workspace, text="delivery") == []


def test_an_edit_keeps_the_rows_of_the_passages_it_did_not_change(workspace: Workspace) -> None:
    article = knowledge_article_create(workspace=workspace, title="Channels", body=LONG_ARTICLE)
    before = dict(KnowledgePassage.objects.filter(article=article).values_list("heading", "pk"))

    knowledge_article_update(article=article, data={"body": LONG_ARTICLE.replace("later from", "at any time from")})

    after = dict(KnowledgePassage.objects.filter(article=article).values_list("heading", "pk"))
    assert after["Mute a channel"] == before["Mute a channel"]
    assert after["Leave a channel"] != before["Leave a channel"]
    assert knowledge_search(workspace=workspace, text="subscribe again at any time")[0].heading == "Leave a channel"


def test_reindex_rebuilds_every_article(help_center: list[KnowledgeArticle], workspace: Workspace) -> None:
    KnowledgePassage.objects.filter(workspace=workspace).delete()

    assert knowledge_reindex(workspace=workspace) == len(help_center)
    assert knowledge_search(workspace=workspace, text="slack")[0].title == "Connect the Slack integration"
