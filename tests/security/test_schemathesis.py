"""S3: schemathesis over the generated OpenAPI schema. Every operation of the server API and the widget API,
with generated valid and invalid inputs: no 5xx, and every response (status, content type, body, headers)
conforms to the schema.

The schema is the one Halo serves (``/api/schema/``), loaded and called in process through the WSGI app,
so the test database of the run is the one the API reads. Generated ids would only ever meet 404s, so the
path parameters and the widget's ``app_id`` are pointed at real objects of one populated workspace;
generated bodies, queries and headers are left as generated. Examples are bounded (``MAX_EXAMPLES`` per
operation and phase) so the whole run takes about a minute; ``HALO_SCHEMATHESIS_EXAMPLES`` raises it
for a deeper local run.

Every check runs except ``positive_data_acceptance`` ("valid data should have been accepted"): the server
rightly refuses inputs that a JSON schema cannot describe as invalid: segment rules that do not parse, URLs
Django's validator refuses, NUL characters (PostgreSQL cannot store them), ids of objects that do not exist
or belong to another workspace, cross-field rules (``routing_type: inbox`` without a ``default_inbox``,
an ``openai`` responder without a key). Each such refusal is a 400 with the error shape, which the
conformance checks do verify; ``negative_data_rejection`` (invalid input must be refused) stays on.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agents.knowledge.text import stem
from tests.security.conftest import Tenant, tenant_build

MAX_EXAMPLES = int(os.environ.get("HALO_SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture
def tenant(db: None, _fast_password_hashing: None) -> Iterator[Tenant]:
    # As Django's test client does: a request through the WSGI app must not close the connection that
    # holds the test's transaction (it would on PostgreSQL, where CONN_MAX_AGE is set).
    # (After the build: Django's test client, used by the build, connects them again when it is done.)
    tenant = tenant_build(name="Ours", marker="Ourselves")
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield tenant
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Loaded at collection (the schema view reads no database); each operation becomes its own test.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
# No made-up query parameters: like most HTTP APIs, Halo ignores query parameters it does not know (an
# OpenAPI 3.0 schema cannot say otherwise), so "unknown parameter accepted" would be noise.
schema.config.generation.update(allow_extra_parameters=False)

# Path parameters point at the tenant's real objects (see the module docstring).
PATH_OBJECTS = {
    "agent_id": lambda t: t.agent.pk,
    "article_id": lambda t: t.article.pk,
    "conversation_id": lambda t: t.conversation.pk,
    "segment_id": lambda t: t.segment.pk,
    "ticket_id": lambda t: t.ticket.pk,
    "gap_id": lambda t: stem(t.marker.lower()),  # the tenant's knowledge-gap topic
}


def point_at_real_objects(case: Any, tenant: Tenant) -> None:
    """Real ids and ``app_id`` in place of generated ones, except where the part was generated invalid on
    purpose (negative mode): there the generated value is the point of the case."""

    def positive(location: ParameterLocation) -> bool:
        return case._meta is None or not case._meta.is_negative_at(location)

    if case.path_parameters and positive(ParameterLocation.PATH):
        for name, value in PATH_OBJECTS.items():
            if name in case.path_parameters:
                case.path_parameters[name] = value(tenant)
    if case.query and isinstance(case.query.get("app_id"), str) and positive(ParameterLocation.QUERY):
        case.query["app_id"] = tenant.workspace.app_id
    if isinstance(case.body, dict) and isinstance(case.body.get("app_id"), str) and positive(ParameterLocation.BODY):
        case.body["app_id"] = tenant.workspace.app_id


def credentials(case: Any, tenant: Tenant) -> dict[str, str]:
    if case._meta is not None and case._meta.is_negative_at(ParameterLocation.HEADER):
        return {}  # the case is about a missing or malformed header: leave it as generated
    path = case.operation.path
    if path.startswith("/api/v1/"):
        return {"Authorization": f"Bearer {tenant.api_key}"}
    if path.startswith("/api/widget/v1/conversations/{"):
        return {"Authorization": f"Bearer {tenant.conversation_token}"}
    return {}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema_and_never_fails_with_a_5xx(case: Any, tenant: Tenant) -> None:
    point_at_real_objects(case, tenant)
    headers = {**(case.headers or {}), **credentials(case, tenant)}
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
