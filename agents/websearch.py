"""Web search providers behind one interface: ``none`` and a SearxNG-compatible JSON API.

``web_search_provider_for(agent)`` returns the agent's provider; ``provider.search(query=…)`` returns a list
of ``WebResult`` (title, url, snippet). A provider that is down or answers garbage yields an empty list and
a logged warning: a web search is a nice-to-have for one AI turn, never a reason to fail the user's request.
SearxNG's API is ``GET {base}/search?q=…&format=json`` → ``{"results": [{"title", "url", "content"}, …]}``.
The request goes through ``halo.outbound`` (an address that is not public is refused: no results).
"""

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx

from agents.models import Agent
from halo.outbound import outbound_client

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class WebResult:
    title: str
    url: str
    snippet: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "snippet": self.snippet}


class WebSearchProvider(Protocol):
    name: str

    def search(self, *, query: str, limit: int = 5) -> list[WebResult]: ...


class NoWebSearch:
    name = "none"

    def search(self, *, query: str, limit: int = 5) -> list[WebResult]:
        return []


class SearxngWebSearch:
    name = "searxng"

    def __init__(self, *, base_url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def search(self, *, query: str, limit: int = 5) -> list[WebResult]:
        try:
            with outbound_client(timeout=self.timeout) as client:
                response = client.get(f"{self.base_url}/search", params={"q": query, "format": "json"})
                response.raise_for_status()
                payload = response.json()
        except (httpx.HTTPError, ValueError) as error:
            logger.warning("web search: %s failed: %s", self.base_url, type(error).__name__)
            return []
        results = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(results, list):
            return []
        found = []
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                continue
            found.append(
                WebResult(
                    title=str(item.get("title") or item["url"])[:300],
                    url=item["url"][:1000],
                    snippet=str(item.get("content") or "")[:500],
                )
            )
            if len(found) == limit:
                break
        return found


def web_search_provider_for(agent: Agent) -> WebSearchProvider:
    if (
        agent.web_search_enabled
        and agent.web_search_provider == Agent.WebSearchProvider.SEARXNG
        and agent.web_search_url
    ):
        return SearxngWebSearch(base_url=agent.web_search_url)
    return NoWebSearch()
