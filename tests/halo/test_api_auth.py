"""Server API authentication, tenant isolation, throttling and the JSON error shape."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from halo.api.throttling import WorkspaceRateThrottle
from halo.models import Contact
from halo.services import api_key_create, api_key_revoke, contact_upsert
from tests.halo.factories import WorkspaceFactory

INVALID = {"code": "authentication_failed", "message": "Invalid API key."}


def client_with(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.django_db
def test_missing_key_is_a_401_asking_for_bearer():
    response = client_with(None).put("/api/v1/contacts/u-1", {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer halo_000000000000_" + "0" * 64,  # well-formed, unknown prefix
        "Bearer nonsense",
        "Bearer halo_a_b_c",
        "Bearer",
        "Bearer two words",
        "Bearer h\u00e9llo",
    ],
)
def test_malformed_or_unknown_key_is_the_same_401(header):
    response = client_with(header).put("/api/v1/contacts/u-1", {}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_right_prefix_with_wrong_secret_is_the_same_401_as_an_unknown_key(workspace, api_key):
    prefix = api_key.split("_")[1]

    response = client_with(f"Bearer halo_{prefix}_{'f' * 64}").get("/api/v1/contacts/u-1")

    assert response.status_code == 401
    assert response.json() == INVALID


@pytest.mark.django_db
def test_revoked_key_is_refused(workspace):
    key_row, raw_key = api_key_create(workspace=workspace)
    api_key_revoke(api_key=key_row)

    response = client_with(f"Bearer {raw_key}").put("/api/v1/contacts/u-1", {"name": "Ada"}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_key_of_one_workspace_cannot_read_or_write_another_workspaces_contacts(workspace, api):
    other = WorkspaceFactory()
    contact_upsert(workspace=other, user_id="shared-id", data={"name": "Theirs"})

    read = api.get("/api/v1/contacts/shared-id")
    event = api.post("/api/v1/contacts/shared-id/events", {"type": "page_view", "url": "/"}, format="json")
    write = api.put("/api/v1/contacts/shared-id", {"name": "Ours"}, format="json")

    assert read.status_code == 404
    assert event.status_code == 404
    assert write.status_code == 201  # a separate contact of our own workspace
    assert Contact.objects.get(workspace=other).name == "Theirs"
    assert other.contacts.get().page_views.count() == 0
    assert Contact.objects.get(workspace=workspace).name == "Ours"


@pytest.mark.django_db
def test_throttled_request_is_a_429_json_with_retry_after(api, monkeypatch):
    cache.clear()
    monkeypatch.setitem(WorkspaceRateThrottle.THROTTLE_RATES, "workspace", "2/min")

    statuses = [api.get("/api/v1/contacts/u-1").status_code for _ in range(3)]

    assert statuses == [404, 404, 429]
    body = api.get("/api/v1/contacts/u-1").json()
    assert body["code"] == "throttled"
    assert body["retry_after"] > 0
    cache.clear()


@pytest.mark.django_db
def test_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_internet_assets(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/contacts/{user_id}" in schema.content
    assert docs.status_code == 200
    assert b"cdn." not in docs.content
    assert b"/static/drf_spectacular_sidecar/" in docs.content
