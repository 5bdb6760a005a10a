"""Fixtures of the halo tests: a workspace with a server API key and a DRF client that carries it."""

import pytest
from rest_framework.test import APIClient

from halo.models import Workspace
from halo.services import api_key_create
from tests.halo.factories import WorkspaceFactory


@pytest.fixture
def workspace(db) -> Workspace:
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def api_key(workspace) -> str:
    return api_key_create(workspace=workspace)[1]


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client
