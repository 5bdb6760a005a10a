"""Suite-wide fixtures: the network is closed except loopback, and the fixtures the apps' tests share.

Shared: ``workspace`` (Acme), ``agent`` (its AI agent Ada, with escalation settings), ``api_key`` and
``api`` (a server-API client carrying a key of ``workspace``), ``widget`` (a widget client), ``teammate`` (a
member of ``workspace``), ``admin_client_of`` (a logged-in workspace admin), ``office`` (``workspace`` with
the Berlin office's business hours, ``tests.support.office``) and ``clock`` (a manual ``halo.clock`` for code
that waits: the test moves it forward instead of sleeping). An app's
``conftest.py`` overrides one where its tests need another shape (the agents' ``workspace`` has an allowed
origin); a test that needs another ``agent`` parametrises it (``AgentShape``). The browser harness
(``browser``) is the ``tests.browser`` plugin.
"""

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from agents.models import Agent
from escalation.services import escalation_settings_ensure
from halo.clock import clock_use
from halo.models import Membership, Workspace
from halo.services import api_key_create, business_hours_set
from tests.agents.factories import AgentFactory
from tests.halo.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.support.clock import ManualClock
from tests.support.office import berlin_office_hours

pytest_plugins = ["tests.browser"]


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    else:  # a UNIX socket path
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may talk to servers on this machine only (PostgreSQL, Redis, local stand-ins), and never ask DNS:
    a name other than ``localhost`` does not resolve (as on a machine without network), whatever this one has."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"tests may not reach the network: {address!r}")
        return real_connect(self, address)

    def local_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name.rstrip(".").lower() not in ("localhost", ""):
            try:
                ipaddress.ip_address(name.split("%", 1)[0])
            except ValueError:
                if not _numeric_ipv4(name):
                    raise socket.gaierror(socket.EAI_NONAME, f"tests do not resolve names: {name!r}") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", local_getaddrinfo)


def _numeric_ipv4(name: str) -> bool:
    """The other spellings ``getaddrinfo`` takes for an IPv4 address without DNS (``127.1``, ``0x7f000001``)."""
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True)
def _celery_joins_allowed() -> None:
    """Each test may read an eager task's result. Celery keeps "a task is running, joins would block" in one
    process-wide flag that ``Task.apply`` sets and restores; two threads applying tasks at once (the
    concurrency tests) can restore it in the wrong order and leave it set for whatever test runs next."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache: rate-limit counters (all tests come from 127.0.0.1) must not
    carry over from earlier tests, which they would on the shared Redis cache of a PostgreSQL/Redis run."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Acme", slug="acme")


@dataclass(frozen=True)
class AgentShape:
    """What the ``agent`` fixture builds; a test parametrises it where it needs another shape."""

    escalation_settings: bool = True  # False: settings not created yet (they are made on first use)


WITHOUT_ESCALATION_SETTINGS = pytest.mark.parametrize(
    "agent", [AgentShape(escalation_settings=False)], indirect=True, ids=["without-settings"]
)


@pytest.fixture
def agent(workspace: Workspace, request: pytest.FixtureRequest) -> Agent:
    """``workspace``'s AI agent Ada, with its escalation settings (``@WITHOUT_ESCALATION_SETTINGS``: none yet)."""
    shape: AgentShape = getattr(request, "param", AgentShape())
    agent = AgentFactory(workspace=workspace, name="Ada", greeting="Hi, I'm Ada!")
    if shape.escalation_settings:
        escalation_settings_ensure(agent=agent)
    return agent


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """``halo.clock`` for this test: real time plus what the test adds with ``clock.advance(seconds)``."""
    with clock_use(ManualClock()) as manual:
        yield manual


@pytest.fixture
def office(workspace: Workspace) -> Workspace:
    """``workspace`` open Monday to Friday 09:00-17:30 in Berlin; a first reply due within two business hours,
    30 minutes for priority (``tests.support.office``)."""
    business_hours_set(workspace=workspace, data=berlin_office_hours())
    return workspace


@pytest.fixture
def api_key(workspace: Workspace) -> str:
    return api_key_create(workspace=workspace)[1]


@pytest.fixture
def api(api_key: str) -> APIClient:
    """A server-API client carrying an API key of ``workspace``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def widget() -> APIClient:
    """A widget client: no credentials, JSON bodies."""
    return APIClient()


@pytest.fixture
def teammate(workspace: Workspace) -> Membership:
    return MembershipFactory(workspace=workspace, user__username="sam@acme.test")


@pytest.fixture
def admin_client_of(workspace: Workspace) -> Client:
    """A browser session of an admin (staff, ``admin`` role) of ``workspace``."""
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(user)
    return client
