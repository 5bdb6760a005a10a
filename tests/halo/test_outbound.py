"""The outbound client's rule (``halo.outbound``): which addresses are public, for every address (hypothesis),
how URLs are judged when saved, and the connect-time check against real local servers."""

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import override_settings
from hypothesis import example, given
from hypothesis import strategies as st

from halo.outbound import (
    OutboundRefused,
    address_is_public,
    allowed_hosts,
    embedded_ipv4,
    outbound_client,
    outbound_url_refusal,
    slack_webhook_url_refusal,
)
from tests.agents.standins import stand_in_server

# Every kind of address that is not a public internet host, with the reason it must be refused.
NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",  # noqa: S104  (Linux connects it to the local host)
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001::1",  # Teredo
    "2001:db8::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "100::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_non_public_addresses_are_refused(text: str) -> None:
    assert not address_is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_allowed(text: str) -> None:
    assert address_is_public(ipaddress.ip_address(text))


ipv4s = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
ipv6s = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)


@given(ipv4s)
def test_an_ipv4_address_inside_ipv6_is_judged_as_the_ipv4_address(address: ipaddress.IPv4Address) -> None:
    public = address_is_public(address)
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)
    assert embedded_ipv4(mapped) == embedded_ipv4(nat64) == embedded_ipv4(sixtofour) == address
    assert address_is_public(mapped) == address_is_public(nat64) == address_is_public(sixtofour) == public


@given(st.one_of(ipv4s, ipv6s))
@example(ipaddress.IPv6Address("4000::"))  # reserved, yet ``is_global``
def test_no_address_python_calls_special_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    special = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )
    if special:
        assert not address_is_public(address)


@given(
    st.sampled_from(["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "0.0.0.0/8"]),
    st.integers(min_value=0, max_value=2**24 - 1),
)
def test_every_address_of_the_private_ranges_is_refused(network: str, offset: int) -> None:
    net = ipaddress.IPv4Network(network)
    address = net.network_address + (offset % net.num_addresses)
    assert not address_is_public(address)
    assert not address_is_public(ipaddress.IPv6Address(f"::ffff:{address}"))


@given(st.integers(min_value=0, max_value=2**80 - 1))
def test_every_unique_local_and_link_local_ipv6_address_is_refused(low: int) -> None:
    for prefix in ("fd00::", "fc00::", "fe80::", "fe9f::", "ff0e::"):
        assert not address_is_public(ipaddress.IPv6Address(int(ipaddress.IPv6Address(prefix)) | low))


@given(st.integers(min_value=0, max_value=2**16 - 1))
def test_addresses_of_public_networks_are_allowed(low: int) -> None:
    for network in ("8.8.0.0", "1.1.0.0", "93.184.0.0"):
        assert address_is_public(ipaddress.IPv4Address(network) + low)
    assert address_is_public(ipaddress.IPv6Address(int(ipaddress.IPv6Address("2606:4700::")) | low))


def test_allow_list_is_read_from_settings_in_one_spelling_per_host(settings: Any) -> None:
    settings.HALO_OUTBOUND_ALLOW_HOSTS = [" Searx.Internal. ", "[::1]", "0:0:0:0:0:0:0:1", "10.0.0.5", ""]
    assert allowed_hosts() == frozenset({"searx.internal", "::1", "10.0.0.5"})


# --- URLs when saved ---------------------------------------------------------------------------------

# Loopback and the metadata service in every spelling getaddrinfo takes without asking DNS.
HOSTILE_URLS = [
    "http://127.0.0.1:8080/",
    "http://localhost/",
    "http://LocalHost/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0.0.0.0:11434/v1",
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.0.10:8888/search",
    "http://172.17.0.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "https://100.100.100.200/",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_urls_of_non_public_hosts_are_refused_when_saved(url: str) -> None:
    refusal = outbound_url_refusal(url)
    assert refusal is not None
    assert "HALO_OUTBOUND_ALLOW_HOSTS" in refusal


def test_a_name_is_judged_by_what_it_resolves_to() -> None:
    def resolver(host: str, port: int) -> list[Any]:
        return {
            "internal.example": [ipaddress.ip_address("10.1.2.3")],
            "mixed.example": [
                ipaddress.ip_address("8.8.8.8"),
                ipaddress.ip_address("192.168.1.1"),
            ],
            "public.example": [ipaddress.ip_address("8.8.4.4")],
        }[host]

    assert "10.1.2.3" in str(outbound_url_refusal("https://internal.example/v1", resolver=resolver))
    assert "192.168.1.1" in str(outbound_url_refusal("https://mixed.example/", resolver=resolver))
    assert outbound_url_refusal("https://public.example/", resolver=resolver) is None


def test_allowed_hosts_pass_and_others_do_not(settings: Any) -> None:
    settings.HALO_OUTBOUND_ALLOW_HOSTS = ["localhost", "10.0.0.5"]
    assert outbound_url_refusal("http://localhost:8080/") is None
    assert outbound_url_refusal("http://10.0.0.5/") is None
    assert outbound_url_refusal("http://10.0.0.6/") is not None
    assert outbound_url_refusal("http://127.0.0.1/") is not None  # allowing a name does not allow its address


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1/", "http://", "x"])
def test_only_http_urls_are_accepted(url: str) -> None:
    assert outbound_url_refusal(url) == "Enter an http or https URL."


def test_an_unresolvable_name_is_left_to_the_connect_time_check() -> None:
    assert outbound_url_refusal("https://llm.example.com/v1") is None  # the tests resolve no names


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", True),
        ("http://hooks.slack.com/services/T0/B0/x", False),  # not https
        ("https://hooks.slack.com.evil.example/services/x", False),
        ("https://evil.example/hooks.slack.com/services/x", False),
        ("https://user@evil.example/services/x", False),
        ("https://127.0.0.1/services/x", False),
        ("http://169.254.169.254/latest/", False),
    ],
)
def test_slack_webhooks_must_be_slack_s(url: str, allowed: bool) -> None:
    assert (slack_webhook_url_refusal(url) is None) == allowed


def test_operators_may_name_other_webhook_hosts(settings: Any) -> None:
    settings.HALO_SLACK_WEBHOOK_HOSTS = ["hooks.slack.com", "chat.example.com"]
    assert slack_webhook_url_refusal("https://chat.example.com/hooks/abc") is None
    assert slack_webhook_url_refusal("http://127.0.0.1:9000/hooks/abc") is not None
    settings.HALO_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]  # a local stand-in or an internal relay
    assert slack_webhook_url_refusal("http://127.0.0.1:9000/hooks/abc") is None


# --- At connect time, against real local servers ------------------------------------------------------


@pytest.fixture
def internal() -> Iterator[Any]:
    """An internal service on loopback, not allow-listed: what an attacker points Halo at."""
    with stand_in_server(lambda request: (200, {"secret": "internal-only"}), allow=False) as server:
        yield server


@pytest.mark.parametrize("spelling", ["127.0.0.1", "localhost", "127.1", "0x7f000001", "2130706433", "0.0.0.0"])  # noqa: S104
def test_the_client_refuses_loopback_in_any_spelling(internal: Any, spelling: str) -> None:
    port = internal.url.rsplit(":", 1)[1]
    with outbound_client(timeout=2) as client, pytest.raises(OutboundRefused):
        client.get(f"http://{spelling}:{port}/")
    assert internal.requests == []


def test_the_client_refuses_ipv6_loopback_and_mapped_addresses() -> None:
    with stand_in_server(lambda request: (200, {}), host="::1", allow=False) as server:
        port = server.url.rsplit(":", 1)[1]
        with outbound_client(timeout=2) as client:
            for host in ("[::1]", "[::ffff:127.0.0.1]", "[0:0:0:0:0:0:0:1]"):
                with pytest.raises(OutboundRefused):
                    client.get(f"http://{host}:{port}/")
    assert server.requests == []


def test_the_allow_list_lets_the_named_host_through(internal: Any) -> None:
    port = internal.url.rsplit(":", 1)[1]
    with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"]), outbound_client(timeout=2) as client:
        assert client.get(f"http://127.0.0.1:{port}/").json() == {"secret": "internal-only"}
        assert client.get(f"http://localhost:{port}/").status_code == 200  # an allowed address, by any name
        with pytest.raises(OutboundRefused):
            client.get(f"http://127.0.0.2:{port}/")
    with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["localhost"]), outbound_client(timeout=2) as client:
        assert client.get(f"http://localhost:{port}/").status_code == 200
        with pytest.raises(OutboundRefused):
            client.get(f"http://127.0.0.1:{port}/")  # an allowed name does not allow its address by another name
    with (
        override_settings(HALO_OUTBOUND_ALLOW_HOSTS=["::1"]),
        outbound_client(timeout=2) as client,
        pytest.raises(OutboundRefused),
    ):
        client.get(f"http://127.0.0.1:{port}/")
    assert len(internal.requests) == 3


def test_redirects_are_not_followed(internal: Any) -> None:
    def redirect(request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return 302, {}, {"Location": f"{internal.url}/latest/meta-data/"}

    with stand_in_server(redirect) as public, outbound_client(timeout=2) as client:
        response = client.get(public.url)
    assert response.status_code == 302
    assert internal.requests == []


def test_environment_proxies_are_ignored(internal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", internal.url)
    monkeypatch.setenv("ALL_PROXY", internal.url)
    with stand_in_server(lambda request: (200, {"ok": True})) as allowed, outbound_client(timeout=2) as client:
        assert client.get(allowed.url).json() == {"ok": True}
    assert internal.requests == []


def test_dns_rebinding_gains_nothing(internal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that answers a public address first and loopback afterwards: the address checked is the address
    connected to. A first lookup that is public leads to a connection attempt to that public address (which the
    tests' network guard stops), never to loopback; a later lookup that is loopback is refused."""
    port = int(internal.url.rsplit(":", 1)[1])
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1", "127.0.0.1"])
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            lookups.append(host)
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] if args else port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    url = f"http://rebind.example:{port}/"

    with outbound_client(timeout=2) as client:
        with pytest.raises(httpx.ConnectError) as first:
            client.get(url)
        assert not isinstance(first.value, OutboundRefused)  # the public answer was used: tried, not refused
        assert "may not reach the network: ('93.184.216.34'" in str(first.value)
        with pytest.raises(OutboundRefused):
            client.get(url)
    assert lookups == ["rebind.example", "rebind.example"]  # one lookup per connection, none between check and use
    assert internal.requests == []


def test_a_url_saved_while_public_is_refused_once_it_resolves_to_loopback(
    internal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(internal.url.rsplit(":", 1)[1])
    answers = iter(["93.184.216.34", "127.0.0.1"])
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    url = f"http://rebind.example:{port}/"
    assert outbound_url_refusal(url) is None  # saved: it looked public then
    with outbound_client(timeout=2) as client, pytest.raises(OutboundRefused):
        client.get(url)
    assert internal.requests == []
