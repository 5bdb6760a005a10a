"""Fixtures of the agents tests: a workspace with an allowed origin, an agent and a small help center.

``api`` and ``widget`` come from ``tests/conftest.py`` (``api`` carries a key of this ``workspace``).
"""

import pytest

from agents.models import KnowledgeArticle
from halo.models import Workspace
from tests.agents.factories import KnowledgeArticleFactory
from tests.halo.factories import WorkspaceFactory

HELP_CENTER = [
    (
        "How to reset your password",
        "Forgot your password? Open the sign-in page and click 'Forgot password'. We email you a reset link "
        "that is valid for one hour. Choose a new password of at least 12 characters.",
        "https://help.example.com/reset-password",
    ),
    (
        "Update your billing details",
        "Admins can change the credit card and the billing address under Settings > Billing. Invoices are "
        "emailed to the billing contact on the first day of each month.",
        "https://help.example.com/billing-details",
    ),
    (
        "Connect the Slack integration",
        "Go to Settings > Integrations, pick Slack and approve the permissions. Notifications then arrive in "
        "the channel you choose.",
        "https://help.example.com/slack",
    ),
    (
        "Export your data as CSV",
        "Every report has an Export button that downloads a CSV file of the rows you see.",
        "https://help.example.com/export-csv",
    ),
]


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Acme", allowed_origins=["https://shop.example.com"])


@pytest.fixture
def help_center(workspace: Workspace) -> list[KnowledgeArticle]:
    return [KnowledgeArticleFactory(workspace=workspace, title=t, body=b, url=u) for t, b, u in HELP_CENTER]
