"""Webhooks go only to globally reachable addresses: every row of the IANA IPv4 and IPv6
Special-Purpose Address Registries, the IPv6 forms that carry an IPv4 address, every address a name
resolves to, and the webhooks API refusing them (with a real stack)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from services.webhooks import ssrf
from shared.errors import InvalidInput

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
NA = None  # the registry's "N/A": reachable only through relays; refused

# The registries as published (address block, "Globally Reachable"), written out here rather than
# read from the code under test. A verdict of NA is refused.
IPV4_REGISTRY: list[tuple[str, bool | None]] = [
    ("0.0.0.0/8", False),  # "this network"
    ("0.0.0.0/32", False),  # "this host on this network"
    ("10.0.0.0/8", False),  # private-use
    ("100.64.0.0/10", False),  # shared address space
    ("127.0.0.0/8", False),  # loopback
    ("169.254.0.0/16", False),  # link local (cloud metadata)
    ("172.16.0.0/12", False),  # private-use
    ("192.0.0.0/24", False),  # IETF protocol assignments
    ("192.0.0.0/29", False),  # IPv4 service continuity prefix
    ("192.0.0.8/32", False),  # IPv4 dummy address
    ("192.0.0.9/32", True),  # port control protocol anycast
    ("192.0.0.10/32", True),  # traversal using relays around NAT anycast
    ("192.0.0.170/32", False),  # NAT64/DNS64 discovery
    ("192.0.0.171/32", False),  # NAT64/DNS64 discovery
    ("192.0.2.0/24", False),  # documentation (TEST-NET-1)
    ("192.31.196.0/24", True),  # AS112-v4
    ("192.52.193.0/24", True),  # AMT
    ("192.88.99.0/24", NA),  # deprecated (6to4 relay anycast)
    ("192.88.99.2/32", NA),  # 6a44-relay anycast
    ("192.168.0.0/16", False),  # private-use
    ("192.175.48.0/24", True),  # direct delegation AS112 service
    ("198.18.0.0/15", False),  # benchmarking
    ("198.51.100.0/24", False),  # documentation (TEST-NET-2)
    ("203.0.113.0/24", False),  # documentation (TEST-NET-3)
    ("240.0.0.0/4", False),  # reserved
    ("255.255.255.255/32", False),  # limited broadcast
]
IPV6_REGISTRY: list[tuple[str, bool | None]] = [
    ("::1/128", False),  # loopback
    ("::/128", False),  # unspecified
    ("::ffff:0:0/96", False),  # IPv4-mapped
    ("64:ff9b::/96", True),  # IPv4-IPv6 translation: judged by its IPv4 address (below)
    ("64:ff9b:1::/48", False),  # local-use IPv4/IPv6 translation
    ("100::/64", False),  # discard-only
    ("100:0:0:1::/64", False),  # dummy IPv6 prefix
    ("2001::/23", False),  # IETF protocol assignments
    ("2001::/32", NA),  # Teredo
    ("2001:1::1/128", True),  # port control protocol anycast
    ("2001:1::2/128", True),  # traversal using relays around NAT anycast
    ("2001:1::3/128", True),  # DNS-SD service registration protocol anycast
    ("2001:2::/48", False),  # benchmarking
    ("2001:3::/32", True),  # AMT
    ("2001:4:112::/48", True),  # AS112-v6
    ("2001:10::/28", False),  # deprecated (previously ORCHID)
    ("2001:20::/28", True),  # ORCHIDv2
    ("2001:30::/28", True),  # drone remote ID protocol entity tags
    ("2001:db8::/32", False),  # documentation
    ("2002::/16", NA),  # 6to4
    ("2620:4f:8000::/48", True),  # direct delegation AS112 service
    ("3fff::/20", False),  # documentation
    ("5f00::/16", False),  # segment routing (SRv6) SIDs
    ("fc00::/7", False),  # unique-local
    ("fe80::/10", False),  # link-local unicast
]
REGISTRY = [(ipaddress.ip_network(cidr), reachable) for cidr, reachable in IPV4_REGISTRY + IPV6_REGISTRY]
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def samples(network: Net) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The first, middle and last address of a row, unless a narrower row holds them."""
    narrower = [
        n for n, _ in REGISTRY if n != network and n.version == network.version and n.subnet_of(network)
    ]
    first, last = int(network.network_address), int(network.broadcast_address)
    make = ipaddress.IPv4Address if network.version == 4 else ipaddress.IPv6Address
    picked = sorted({make(v) for v in (first, (first + last) // 2, last)})
    return [a for a in picked if not any(a in n for n in narrower)]


@pytest.mark.parametrize(("cidr", "reachable"), IPV4_REGISTRY + IPV6_REGISTRY)
def test_every_special_purpose_block_is_judged_as_the_registry_says(cidr: str, reachable: bool | None):
    network = ipaddress.ip_network(cidr)
    found = samples(network) if network != NAT64 else [ipaddress.ip_address("64:ff9b::8.8.8.8")]
    assert found, f"no address of {cidr} is outside its narrower rows"
    for address in found:
        reason = ssrf.blocked(address)
        if reachable:
            assert reason is None, f"{address} ({cidr}) is globally reachable, yet refused: {reason}"
        else:
            assert reason is not None, f"{address} ({cidr}) is not globally reachable, yet allowed"


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "2606:4700:4700::1111", "2a00:1450:4001::1"],
)
def test_ordinary_public_addresses_are_allowed(address: str):
    assert ssrf.blocked(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    [
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "ff02::1",
        "ff0e::1",  # global-scope multicast is still not a receiver
        "fec0::1",  # deprecated site-local
        "4000::1",  # reserved by the IETF, outside global unicast
        "::2",  # IPv4-compatible
        "fe80::1",
    ],
)
def test_multicast_and_reserved_addresses_are_refused(address: str):
    assert ssrf.blocked(ipaddress.ip_address(address)) is not None


INTERNAL_IPV4 = [
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "192.0.0.8",
    "192.168.1.1",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
]


def forms(v4: str) -> dict[str, ipaddress.IPv6Address]:
    """Every IPv6 form that carries the IPv4 address `v4`."""
    n = int(ipaddress.IPv4Address(v4))
    public = int(ipaddress.IPv4Address("8.8.8.8"))
    return {
        "IPv4-mapped": ipaddress.IPv6Address(0xFFFF << 32 | n),
        "IPv4-compatible": ipaddress.IPv6Address(n),
        "IPv4-translated": ipaddress.IPv6Address(0xFFFF << 48 | n),
        "6to4": ipaddress.IPv6Address(0x2002 << 112 | n << 80 | 1),
        "Teredo client": ipaddress.IPv6Address(0x20010000 << 96 | public << 64 | (~n & 0xFFFFFFFF)),
        "Teredo server": ipaddress.IPv6Address(0x20010000 << 96 | n << 64 | (~public & 0xFFFFFFFF)),
        "NAT64": ipaddress.IPv6Address(0x0064FF9B << 96 | n),
        "local-use NAT64": ipaddress.IPv6Address(0x0064FF9B0001 << 80 | n),
    }


@pytest.mark.parametrize("v4", INTERNAL_IPV4)
def test_an_ipv6_form_of_an_internal_ipv4_address_is_refused(v4: str):
    assert ssrf.blocked(ipaddress.IPv4Address(v4)) is not None
    for form, address in forms(v4).items():
        assert ssrf.blocked(address) is not None, f"{form} {address} carries {v4}, yet is allowed"


def test_of_the_forms_carrying_a_public_ipv4_address_only_nat64_reaches_it():
    allowed = {form for form, address in forms("8.8.8.8").items() if ssrf.blocked(address) is None}
    assert allowed == {"NAT64"}


def resolving(*addresses: str) -> ssrf.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def test_every_address_a_name_resolves_to_is_checked():
    nobody = ssrf.AllowList.parse("")
    # a name with a public and an internal address is refused, naming the internal one
    with pytest.raises(InvalidInput) as refused:
        await ssrf.check("https://hooks.example/x", nobody, resolving("8.8.8.8", "2606:4700::1", "10.0.0.5"))
    assert refused.value.field == "url" and "10.0.0.5" in refused.value.message
    assert "private" in refused.value.message
    with pytest.raises(InvalidInput, match="link-local"):
        await ssrf.check("https://hooks.example/x", nobody, resolving("8.8.8.8", "fe80::1%eth0"))
    # a name with only public addresses is accepted
    found = await ssrf.check("https://hooks.example/x", nobody, resolving("8.8.8.8", "2606:4700::1"))
    assert [str(a) for a in found] == ["8.8.8.8", "2606:4700::1"]
    # the allow-list admits what it names: a network, or a host whatever it resolves to
    inside = resolving("100.64.3.4")
    assert await ssrf.check("http://cgnat.lan/x", ssrf.AllowList.parse("100.64.0.0/10"), inside)
    assert await ssrf.check("http://cgnat.lan/x", ssrf.AllowList.parse("cgnat.lan"), inside)
    # a name that resolves to nothing is refused too
    with pytest.raises(InvalidInput, match="does not resolve"):
        await ssrf.check("https://hooks.example/x", nobody, resolving())


async def test_the_real_resolver_is_used_by_default():
    with pytest.raises(InvalidInput, match="loopback"):
        await ssrf.check("http://localhost:9/x", ssrf.AllowList.parse(""))


async def test_the_webhooks_api_refuses_addresses_that_are_not_globally_reachable(client: httpx.AsyncClient):
    urls = [
        "http://100.64.0.1/hook",  # shared address space
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "http://[::ffff:7f00:1]/hook",
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the cloud metadata address
        "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64
        "http://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
        "http://[2001:0:808:808::f5ff:fffe]/hook",  # Teredo, client 10.0.0.1
        "http://[fd00::1]/hook",  # unique-local
        "http://192.0.0.170/hook",  # NAT64 discovery
        "http://198.18.0.1/hook",  # benchmarking
        "http://2130706433/hook",  # 127.0.0.1, spelt as a number
        "http://localhost/hook",
    ]
    for url in urls:
        response = await client.post("/api/v1/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["field"] == "url" and "not globally reachable" in response.json()["message"]
    # a URL that cannot even be split is refused naming the field too, not answered with a 500
    for url in ("http://hooks.example:port/x", "http://[::1/x"):
        response = await client.post("/api/v1/webhooks", json={"url": url})
        assert response.status_code == 422 and response.json()["field"] == "url", response.text
    assert (await client.get("/api/v1/webhooks")).json() == []
