"""Where a webhook may be sent: only to globally reachable addresses, unless the operator allows
more (`VFO_WEBHOOK_ALLOW_HOSTS`: host names or CIDRs, comma-separated).

"Globally reachable" follows the IANA IPv4 and IPv6 Special-Purpose Address Registries (the rows
below, with their "Globally Reachable" column), and goes further where the registry has no answer:
- IPv4 multicast and IPv6 outside global unicast `2000::/3` are refused (multicast, unique-local,
  link-local, the deprecated site-local and IPv4-compatible forms, every block IANA reserves);
- an IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated,
  6to4, Teredo, NAT64) never reaches further than that IPv4 address: the NAT64 well-known prefix
  (globally reachable in the registry) is judged by the IPv4 address it embeds, the others are
  refused (6to4 and Teredo are "N/A" in the registry: they lead through relays).

Checked at registration and again for every send, after DNS resolution, on every address a name
resolves to. A send connects to the address that was checked (`transport.PinnedTransport`): the name
is resolved once, so an answer that changes between the check and the connection (DNS rebinding)
cannot lead to an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) -> the addresses the host resolves to (a seam for tests)."""


def _table(*rows: tuple[str, bool, str]) -> tuple[tuple[Network, bool, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reachable, name) for cidr, reachable, name in rows)


# (block, globally reachable, name): the registries' rows, the most specific row decides
SPECIAL_IPV4 = _table(
    ("0.0.0.0/8", False, "'this network'"),
    ("0.0.0.0/32", False, "'this host'"),
    ("10.0.0.0/8", False, "private"),
    ("100.64.0.0/10", False, "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", False, "loopback"),
    ("169.254.0.0/16", False, "link-local or cloud metadata"),
    ("172.16.0.0/12", False, "private"),
    ("192.0.0.0/24", False, "IETF protocol assignment"),
    ("192.0.0.0/29", False, "IPv4 service continuity (DS-Lite)"),
    ("192.0.0.8/32", False, "IPv4 dummy"),
    ("192.0.0.9/32", True, "PCP anycast"),
    ("192.0.0.10/32", True, "TURN anycast"),
    ("192.0.0.170/32", False, "NAT64/DNS64 discovery"),
    ("192.0.0.171/32", False, "NAT64/DNS64 discovery"),
    ("192.0.2.0/24", False, "documentation (TEST-NET-1)"),
    ("192.31.196.0/24", True, "AS112-v4"),
    ("192.52.193.0/24", True, "AMT"),
    # deprecated 6to4 relay anycast (RFC 7526) and 6a44 relays: no answer in the registry, refused
    ("192.88.99.0/24", False, "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", False, "private"),
    ("192.175.48.0/24", True, "AS112 direct delegation"),
    ("198.18.0.0/15", False, "benchmarking"),
    ("198.51.100.0/24", False, "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", False, "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", False, "multicast"),  # not in the registry: not a unicast destination
    ("240.0.0.0/4", False, "reserved"),
    ("255.255.255.255/32", False, "limited broadcast"),
)
SPECIAL_IPV6 = _table(
    ("::/128", False, "unspecified"),
    ("::1/128", False, "loopback"),
    ("::ffff:0:0/96", False, "IPv4-mapped"),
    ("64:ff9b::/96", True, "NAT64"),  # judged by the IPv4 address it carries, see _embedded
    ("64:ff9b:1::/48", False, "local-use NAT64"),
    ("100::/64", False, "discard-only"),
    ("100:0:0:1::/64", False, "dummy IPv6 prefix"),
    ("2001::/23", False, "IETF protocol assignment"),
    ("2001::/32", False, "Teredo"),  # "N/A" in the registry: it leads through relays
    ("2001:1::1/128", True, "PCP anycast"),
    ("2001:1::2/128", True, "TURN anycast"),
    ("2001:1::3/128", True, "DNS-SD SRP anycast"),
    ("2001:2::/48", False, "benchmarking"),
    ("2001:3::/32", True, "AMT"),
    ("2001:4:112::/48", True, "AS112-v6"),
    ("2001:10::/28", False, "ORCHID (deprecated)"),
    ("2001:20::/28", True, "ORCHIDv2"),
    ("2001:30::/28", True, "drone remote ID (DET)"),
    ("2001:db8::/32", False, "documentation"),
    ("2002::/16", False, "6to4"),  # "N/A" in the registry: it leads through relays
    ("2620:4f:8000::/48", True, "AS112 direct delegation"),
    ("3fff::/20", False, "documentation"),
    ("5f00::/16", False, "segment routing (SRv6) SID"),
    ("fc00::/7", False, "unique-local (private)"),
    ("fe80::/10", False, "link-local"),
    ("ff00::/8", False, "multicast"),  # not in the registry: not a unicast destination
)
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IPv4-translated addresses (SIIT, RFC 2765): ::ffff:0:a.b.c.d
TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible addresses


class Refused(InvalidInput):
    """The destination is not globally reachable and the allow-list does not name it: sending
    again will not help (a name that does not resolve is a plain `InvalidInput`: it may, later)."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, spec: str) -> AllowList:
        hosts, networks = set(), []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                hosts.add(part.lower())
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: Address) -> bool:
        return host.lower() in self.hosts or any(address in network for network in self.networks)


def _special(address: Address) -> tuple[bool, str] | None:
    """The most specific registry row holding `address`: (globally reachable, name)."""
    table = SPECIAL_IPV4 if address.version == 4 else SPECIAL_IPV6
    rows = [(net.prefixlen, reachable, name) for net, reachable, name in table if address in net]
    if not rows:
        return None
    _, reachable, name = max(rows)
    return reachable, name


def _embedded(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and the form, if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in TRANSLATED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-translated"
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        return address.teredo[1], "Teredo"
    if address in COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address)), "IPv4-compatible"
    return None


def blocked(address: Address) -> str | None:
    """Why a webhook may not go to `address` (a few words), or None when it is globally reachable."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _embedded(address)
        if carried is not None:
            inner, form = carried
            reason = blocked(inner)
            if reason is not None:
                return f"{form} form of a {reason}"
            if address not in NAT64:  # only the NAT64 well-known prefix reaches a public IPv4 address
                return f"{form} (not globally reachable)"
            return None
    special = _special(address)
    if special is not None:
        reachable, name = special
        return None if reachable else name
    if isinstance(address, ipaddress.IPv6Address) and address not in GLOBAL_UNICAST:
        return "reserved (outside global unicast)"
    return None


def split(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as err:  # a port that is not a number, an unclosed [
        raise InvalidInput("url", f"is not a valid address ({err}); check it") from err
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("url", "must be an http:// or https:// address with a host name")
    if parts.username or parts.password:
        raise InvalidInput("url", "must not carry a user name or password; the signature authenticates us")
    return host, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver, as the HTTP client will use it)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check(url: str, allow: AllowList, resolver: Resolver = resolve) -> list[Address]:
    """The addresses `url` resolves to; refuses the URL if any of them is not globally reachable
    and the allow-list does not name it (or the host)."""
    host, port = split(url)
    return await check_host(host, port, allow, resolver)


async def check_host(host: str, port: int, allow: AllowList, resolver: Resolver = resolve) -> list[Address]:
    """Every address `host` resolves to, in the resolver's order, once each; `Refused` if any of
    them is not globally reachable and the allow-list names neither it nor the host."""
    try:
        found = await resolver(host, port)
    except (socket.gaierror, UnicodeError) as err:
        raise InvalidInput("url", f"the host {host!r} does not resolve; check the address") from err
    if not found:
        raise InvalidInput("url", f"the host {host!r} does not resolve; check the address")
    addresses = list(dict.fromkeys(ipaddress.ip_address(text.split("%", 1)[0]) for text in found))
    for address in addresses:
        reason = blocked(address)
        if reason and not allow.allows(host, address):
            raise Refused(
                "url",
                f"{host} resolves to {address}, which is not globally reachable ({reason}); webhooks "
                "go to public receivers (allow a self-hosted one with VFO_WEBHOOK_ALLOW_HOSTS)",
            )
    return addresses
