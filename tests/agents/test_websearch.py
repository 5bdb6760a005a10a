"""Web search providers: none, and SearxNG-compatible JSON against a local stand-in."""

from typing import Any

import pytest

from agents.models import Agent
from agents.websearch import NoWebSearch, SearxngWebSearch, WebResult, web_search_provider_for
from tests.agents.standins import stand_in_server

SEARX_RESULTS = {
    "query": "pricing",
    "results": [
        {"title": "Pricing", "url": "https://example.com/pricing", "content": "Plans from $9.", "engine": "x"},
        {"title": "", "url": "https://example.com/plans", "content": None},
        {"title": "no url"},
        {"title": "Third", "url": "https://example.com/3", "content": "c"},
    ],
}


def test_searxng_sends_the_query_and_parses_results() -> None:
    with stand_in_server(lambda request: (200, SEARX_RESULTS)) as server:
        results = SearxngWebSearch(base_url=server.url + "/").search(query="pricing plans", limit=2)

    assert server.requests[0]["path"] == "/search"
    assert server.requests[0]["query"] == {"q": "pricing plans", "format": "json"}
    assert results == [
        WebResult(title="Pricing", url="https://example.com/pricing", snippet="Plans from $9."),
        WebResult(title="https://example.com/plans", url="https://example.com/plans", snippet=""),
    ]


@pytest.mark.parametrize(("status", "body"), [(500, {}), (200, "<html>"), (200, {"results": "x"}), (200, [1])])
def test_searxng_failure_yields_no_results(status: int, body: Any) -> None:
    with stand_in_server(lambda request: (status, body)) as server:
        assert SearxngWebSearch(base_url=server.url).search(query="x") == []


def test_unreachable_provider_yields_no_results() -> None:
    with stand_in_server(lambda request: (200, {})) as server:
        url = server.url
    assert SearxngWebSearch(base_url=url, timeout=1).search(query="x") == []


def test_provider_follows_the_agent_settings() -> None:
    agent = Agent(web_search_enabled=True, web_search_provider="searxng", web_search_url="http://127.0.0.1:9")
    assert isinstance(web_search_provider_for(agent), SearxngWebSearch)

    agent.web_search_enabled = False
    assert isinstance(web_search_provider_for(agent), NoWebSearch)
    assert NoWebSearch().search(query="anything") == []
