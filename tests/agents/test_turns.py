"""The typed values an AI turn carries across apps: one stored shape, and ``from_json`` that never trusts it."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agents.turns import KnowledgeSource, ToolCall, ToolName, sources_dedupe

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(raw=json_values)
def test_reading_any_json_gives_well_typed_values_or_nothing(raw: Any) -> None:
    for call in ToolCall.list_from_json(raw if isinstance(raw, list) else [raw]):
        assert isinstance(call.name, str)
        assert isinstance(call.arguments, dict)
    for source in KnowledgeSource.list_from_json(raw if isinstance(raw, list) else [raw]):
        assert isinstance(source.title, str)
        assert isinstance(source.url, str)
        assert source.title or source.url
        assert source.score is None or isinstance(source.score, float)


@given(
    name=st.text(min_size=1, max_size=20),
    arguments=st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=3),
)
def test_a_tool_call_survives_its_stored_shape(name: str, arguments: dict[str, Any]) -> None:
    call = ToolCall(name=name, arguments=arguments, result=["x"])
    assert ToolCall.from_json(call.to_json()) == call
    assert ToolCall.from_json(call.to_json(with_result=False)) == ToolCall(name=name, arguments=arguments)


def test_a_stored_row_of_another_shape_is_dropped_not_trusted() -> None:
    stored = [
        {"name": "knowledge_search", "arguments": "not a dict"},
        {"arguments": {"query": "no name"}},
        "escalate",
        {"name": "escalate", "arguments": {"reason": "refund"}, "result": "ok"},
    ]

    calls = ToolCall.list_from_json(stored)

    assert [call.name for call in calls] == ["knowledge_search", "escalate"]
    assert calls[0].arguments == {}
    assert calls[1].is_tool(ToolName.ESCALATE)
    assert KnowledgeSource.list_from_json([{"score": 0.5}, {"title": "Refunds", "score": True}]) == [
        KnowledgeSource(title="Refunds", url="", score=None)
    ]


def test_sources_are_deduplicated_by_article_keeping_the_best_score() -> None:
    sources = [
        KnowledgeSource(title="Refunds", url="https://help/refunds", score=0.2),
        KnowledgeSource(title="Invoices", url="https://help/invoices", score=0.5),
        KnowledgeSource(title="Refunds (renamed)", url="https://help/refunds", score=0.7),
        KnowledgeSource(title="No link", score=None),
    ]

    assert sources_dedupe(sources) == [
        KnowledgeSource(title="Refunds (renamed)", url="https://help/refunds", score=0.7),
        KnowledgeSource(title="Invoices", url="https://help/invoices", score=0.5),
        KnowledgeSource(title="No link", score=None),
    ]
