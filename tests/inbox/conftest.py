"""Fixtures of the inbox tests: a workspace with a teammate and a server API client."""

import pytest
from rest_framework.test import APIClient

from halo.models import Membership, Workspace
from halo.services import api_key_create
from tests.halo.factories import MembershipFactory, WorkspaceFactory


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def teammate(workspace: Workspace) -> Membership:
    return MembershipFactory(workspace=workspace, user__username="sam@acme.test")


@pytest.fixture
def api(workspace: Workspace) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace)[1]}")
    return client
