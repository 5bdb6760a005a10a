"""Suite-wide fixtures: the network is closed except loopback, and shared factories are at hand."""

import ipaddress
import socket
from typing import Any

import pytest


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
    """Tests may talk to servers on this machine only (PostgreSQL, Redis, local stand-ins)."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OSError(f"tests may not reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache: rate-limit counters (all tests come from 127.0.0.1) must not
    carry over from earlier tests, which they would on the shared Redis cache of a PostgreSQL/Redis run."""
    from django.core.cache import cache

    cache.clear()
