"""Halo's one outbound HTTP client: every request to a URL that a workspace configured goes through it.

A workspace chooses URLs that Halo then calls from inside its own network (the Slack webhook, the web-search
provider, the OpenAI-compatible base URL, later webhooks and embeddings), and some of what comes back is
shown to people (web results and AI replies to widget users). Without a guard, such a URL can point Halo at
``127.0.0.1``, the private network or the cloud metadata service (``169.254.169.254``) and read the answer
back: server-side request forgery. So ``outbound_client()`` is the only way the project makes such a request:

- **Where it connects is checked when it connects.** Its network backend resolves the host once, refuses
  the connection unless every address is public (not loopback, private, shared, link-local, multicast,
  reserved, documentation or unspecified, IPv4 or IPv6; an IPv4 address inside an IPv6 one, as in
  ``::ffff:127.0.0.1``, NAT64 or 6to4, is judged as the IPv4 address), and then connects to an address it
  checked. A DNS name that answers a public address to a check and a private one to the connection
  (DNS rebinding) gains nothing: there is no second lookup. TLS still verifies the certificate against the
  URL's host name (SNI and ``Host`` are unchanged: only the TCP connect is redirected to the checked address).
- **No redirects** are followed (a public host cannot bounce the request inward), environment proxies are
  ignored, and every request has timeouts.
- **Operators can allow named private hosts**: ``HALO_OUTBOUND_ALLOW_HOSTS`` (environment only; host names
  or addresses, comma-separated; empty by default) names internal services Halo may call, e.g. a SearxNG
  on the private network. Local stand-ins in the tests are allowed this way.

``outbound_url_check(url)`` applies the same rule when a URL is saved (the admin and the API refuse such a
URL with a field error); the connect-time check is what holds, since a DNS answer can change after saving.
A name that cannot be resolved when saved is accepted: it is judged again at every connection.
"""

import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Default timeouts (seconds): a caller passes its own total; connecting never takes longer than this.
CONNECT_TIMEOUT_SECONDS = 5.0

# IANA's special-purpose registries (RFC 6890 and later), multicast and the reserved ranges: nothing here
# is a public internet host. Listed explicitly so the rule does not shift with the Python version.
_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network", incl. the unspecified 0.0.0.0 (Linux connects it to loopback)
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. the limited broadcast 255.255.255.255
    )
)
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/8",  # unspecified, loopback, IPv4-compatible (the IPv4-mapped ::ffff:0:0/96 is unwrapped first)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, incl. Teredo
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated, still routed by some stacks)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64 well-known prefix, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_is_public(address: IPAddress) -> bool:
    """Whether Halo may connect to ``address`` without an operator's allow-list entry."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False  # a zone index only makes sense on the local link
        inner = embedded_ipv4(address)
        if inner is not None:
            return address_is_public(inner)
        networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = _NOT_PUBLIC_V6
    else:
        networks = _NOT_PUBLIC_V4
    # ``is_global`` is a second opinion: whatever either calls non-public is refused. Reserved space (IPv6
    # outside the allocated unicast ranges, which ``is_global`` still accepts) has no public host either.
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not any(address in network for network in networks)
    )


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def allowed_hosts() -> frozenset[str]:
    """``HALO_OUTBOUND_ALLOW_HOSTS``: the private hosts (names or addresses) an operator lets Halo call."""
    hosts: Iterable[str] = settings.HALO_OUTBOUND_ALLOW_HOSTS
    normalised = set()
    for host in hosts:
        host = _normalise_host(host)
        with contextlib.suppress(ValueError):  # one spelling per address (e.g. IPv6 zeros)
            host = str(ipaddress.ip_address(host))
        if host:
            normalised.add(host)
    return frozenset(normalised)


class OutboundRefused(httpx.ConnectError):
    """The destination is not a public address and ``HALO_OUTBOUND_ALLOW_HOSTS`` does not name it. An
    ``httpx.ConnectError``: every integration already treats it as "the service could not be reached"."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Refused to connect: {reason}.")
        self.reason = reason


# host, port -> the addresses to connect to, in order.
Resolver = Callable[[str, int], list[IPAddress]]


def system_resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (any spelling ``getaddrinfo`` accepts: names, ``127.1``, ``0x7f000001``)."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        text = str(sockaddr[0])
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and len(sockaddr) == 4 and sockaddr[3]:
            address = ipaddress.IPv6Address(f"{address}%{sockaddr[3]}")
        if address not in found:
            found.append(address)
    return found


def destination_refusal(*, host: str, addresses: list[IPAddress], allow: frozenset[str]) -> str | None:
    """Why Halo must not connect to ``host`` at ``addresses`` (None: it may). Every address must pass: a
    name that mixes public and private answers is refused rather than tried address by address."""
    if _normalise_host(host) in allow:
        return None
    if not addresses:
        return f"{host} has no address"
    for address in addresses:
        if not address_is_public(address) and str(address).split("%", 1)[0] not in allow:
            return f"{host} resolves to {address}, a loopback, private, link-local or otherwise non-public address"
    return None


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend with the destination check at connect time (see the module doc)."""

    def __init__(self, *, resolver: Resolver | None = None) -> None:
        self._backend = httpcore.SyncBackend()
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        resolve = self._resolver or system_resolve  # looked up now, so a test can stub the system resolver
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError, ValueError) as error:
            raise httpcore.ConnectError(f"{host} could not be resolved: {type(error).__name__}") from None
        refusal = destination_refusal(host=host, addresses=addresses, allow=allowed_hosts())
        if refusal is not None:
            raise OutboundRefused(refusal)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None  # addresses is not empty: destination_refusal refuses an empty list
        raise last_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("outbound requests use TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every client (building one reads the CA bundle); safe to share."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` on a connection pool whose connections go through ``GuardedNetworkBackend``.
    The parent's ``__init__`` is not called: all it does is build ``self._pool``, which is built here instead
    with the guarded backend (the other methods only use ``self._pool``)."""

    def __init__(self, *, resolver: Resolver | None = None) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(resolver=resolver),
        )


def outbound_client(
    *,
    timeout: float,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    resolver: Resolver | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` for a workspace-configured URL: destinations checked at connect time, no redirects,
    no environment proxies, ``timeout`` seconds per request (connecting at most ``CONNECT_TIMEOUT_SECONDS``)."""
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
        follow_redirects=False,
        trust_env=False,
        transport=GuardedTransport(resolver=resolver),
    )


# --- When a URL is saved ---------------------------------------------------------------------------


def outbound_url_refusal(url: str, *, resolver: Resolver | None = None) -> str | None:
    """Why Halo would refuse to call ``url`` (None: it would call it, as far as can be told now)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https") or not host:
        return "Enter an http or https URL."
    try:
        addresses = (resolver or system_resolve)(host, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError, ValueError):
        return None  # cannot be told now; the connect-time check decides
    refusal = destination_refusal(host=host, addresses=addresses, allow=allowed_hosts())
    if refusal is None:
        return None
    return (
        f"Halo may not call this address: {refusal}. "
        "An operator can allow an internal host with HALO_OUTBOUND_ALLOW_HOSTS."
    )


def outbound_url_validator(url: str) -> None:
    """A Django validator (admin form fields, model-level checks in services): empty passes."""
    if url:
        refusal = outbound_url_refusal(url)
        if refusal is not None:
            raise ValidationError(refusal, code="outbound_refused")


def slack_webhook_url_refusal(url: str) -> str | None:
    """Why ``url`` cannot be a Slack webhook: it must be ``https://`` on a host of ``HALO_SLACK_WEBHOOK_HOSTS``
    (``hooks.slack.com`` by default), or on a host an operator allowed in ``HALO_OUTBOUND_ALLOW_HOSTS``
    (an internal relay, a local stand-in); and it must pass the outbound check."""
    try:
        parts = urlsplit(url)
        host = _normalise_host(parts.hostname or "")
    except ValueError:
        return "Enter a valid URL."
    slack_hosts = {_normalise_host(name) for name in settings.HALO_SLACK_WEBHOOK_HOSTS}
    if host not in allowed_hosts() and not (parts.scheme == "https" and host in slack_hosts):
        return "A Slack webhook URL starts with https://hooks.slack.com/ (the host must be Slack's)."
    return outbound_url_refusal(url)


def slack_webhook_url_validator(url: str) -> None:
    if url:
        refusal = slack_webhook_url_refusal(url)
        if refusal is not None:
            raise ValidationError(refusal, code="slack_webhook_refused")
