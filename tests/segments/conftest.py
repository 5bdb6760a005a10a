"""Fixtures of the segments tests: a workspace with a server API key, a DRF client that carries it, an admin."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from halo.models import Membership, Workspace
from halo.services import api_key_create
from tests.halo.factories import MembershipFactory, UserFactory, WorkspaceFactory


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def api(workspace: Workspace) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace)[1]}")
    return client


@pytest.fixture
def admin_client_of(workspace: Workspace) -> Client:
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(user)
    return client
