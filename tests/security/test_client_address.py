"""A client cannot escape the rate limits by sending ``X-Forwarded-For``.

DRF, left at its default, takes the whole header as the client's identity, so a client rotating the header
got a fresh allowance per request. ``TRUSTED_PROXIES`` (DRF's ``NUM_PROXIES``, 0 by default) now says how many
hops of the header to trust: with 0 the connecting address is the client; with N the N-th from the right.
"""

from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from agents.models import Agent
from halo.api.throttling import CacheRateThrottle, PasswordResetAccountThrottle, client_address
from halo.models import Workspace
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db

ATTEMPTS = 125  # the widget allows 120 a minute per client


@pytest.fixture
def agent(workspace: Workspace) -> Agent:
    return AgentFactory(workspace=workspace)


def forwarded(n: int) -> str:
    return f"203.0.{n // 256}.{n % 256}"


def config_statuses(widget: APIClient, workspace: Workspace, header: Any) -> list[int]:
    url = f"/api/widget/v1/config?app_id={workspace.app_id}"
    return [widget.get(url, HTTP_X_FORWARDED_FOR=header(n)).status_code for n in range(ATTEMPTS)]


def test_rotating_x_forwarded_for_does_not_escape_the_widget_rate_limit(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    statuses = config_statuses(widget, workspace, forwarded)

    assert statuses[:120] == [200] * 120
    assert statuses[120:] == [429] * 5
    response = widget.get(f"/api/widget/v1/config?app_id={workspace.app_id}", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_behind_one_trusted_proxy_the_rightmost_hop_is_the_client(
    widget: APIClient, workspace: Workspace, agent: Agent, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    # What a client writes is on the left; the proxy appends the address it saw: that one counts.
    statuses = config_statuses(widget, workspace, lambda n: f"{forwarded(n)}, 192.0.2.10")
    assert statuses.count(429) == 5

    # Distinct clients behind the proxy each have their own allowance.
    statuses = config_statuses(widget, workspace, lambda n: f"10.9.9.9, {forwarded(n)}")
    assert set(statuses) == {200}


@pytest.mark.parametrize("trusted", [0, 1, 2])
def test_every_throttle_keys_anonymous_callers_on_the_client_address(settings: Any, trusted: int) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": trusted}
    # The password-reset account throttle counts per email asked for, from anywhere: not per caller.
    throttles = [cls for cls in _subclasses(CacheRateThrottle) if cls is not PasswordResetAccountThrottle]
    assert len(throttles) >= 3  # the server API's, the widget's, the password reset's at least
    for throttle_class in throttles:
        throttle = throttle_class()
        keys = set()
        for n in range(20):
            # the client writes the first hop; 198.51.100.7 is the client as the outermost trusted proxy saw it
            hops = [forwarded(n), "198.51.100.7", *(["192.0.2.10"] if trusted == 2 else [])]
            request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=", ".join(hops))
            request.user = None  # anonymous
            keys.add(throttle.get_cache_key(request, None))
        assert len(keys) == 1, throttle_class  # the left-most (client-written) hop never changes the key
        [key] = keys
        expected = "127.0.0.1" if trusted == 0 else "198.51.100.7"
        assert key.endswith(f"_{expected}"), (throttle_class, key)
        assert client_address(request) == expected


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return [sub for sub in found if getattr(sub, "scope", None)]


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("10.0.0.1, 198.51.100.7:5678", "198.51.100.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:0db8:0000::1", "2001:db8::1"),
        ("not-an-address", "127.0.0.1"),  # a broken hop counts as the connecting address
        ("", "127.0.0.1"),
        ("1.2.3.4, <script>", "127.0.0.1"),
    ],
)
def test_the_client_address_is_always_an_address(settings: Any, forwarded_for: str, expected: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert client_address(request) == expected


def test_a_login_with_a_broken_forwarded_hop_is_judged_not_a_500(settings: Any, client: Any) -> None:
    """The lock-out stores the address in an ``inet`` column on PostgreSQL: only addresses may reach it."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    response = client.post(
        "/accounts/login/", {"username": "x@acme.test", "password": "wrong"}, HTTP_X_FORWARDED_FOR="<not an ip>"
    )
    assert response.status_code == 200
