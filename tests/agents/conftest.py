"""Fixtures of the agents tests: a workspace with an allowed origin, an agent and a small help center.

``api`` and ``widget`` come from ``tests/conftest.py`` (``api`` carries a key of this ``workspace``).
"""

import pytest

from agents.knowledge.snapshot import snapshot_forget_all
from agents.models import KnowledgeArticle
from halo.models import Workspace
from tests.agents.factories import HELP_CENTER, KnowledgeArticleFactory
from tests.halo.factories import WorkspaceFactory


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Acme", allowed_origins=["https://shop.example.com"])


@pytest.fixture
def help_center(workspace: Workspace) -> list[KnowledgeArticle]:
    return [KnowledgeArticleFactory(workspace=workspace, title=t, body=b, url=u) for t, b, u in HELP_CENTER]


@pytest.fixture(autouse=True)
def _fresh_knowledge_cache() -> None:
    """Each test's search starts from the database, not from statistics an earlier test left in memory."""
    snapshot_forget_all()
