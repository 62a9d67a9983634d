"""Where a webhook may be sent: never to this machine, a private network or a cloud metadata address,
unless the operator allows it (`VFO_WEBHOOK_ALLOW_HOSTS`: host names or CIDRs, comma-separated).

Checked at registration and again before every send, after DNS resolution, so a name that later
resolves to an internal address is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

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


def _blocked(address: Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local or cloud metadata", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
    )
    return next((name for name, hit in checks if hit), None)


def split(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "must be an http:// or https:// address with a host name")
    if parts.username or parts.password:
        raise InvalidInput("url", "must not carry a user name or password; the signature authenticates us")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def check(url: str, allow: AllowList) -> list[Address]:
    """The addresses `url` resolves to; refuses internal ones the allow-list does not name."""
    host, port = split(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise InvalidInput("url", f"the host {host!r} does not resolve; check the address") from err
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        reason = _blocked(address)
        if reason and not allow.allows(host, address):
            raise InvalidInput(
                "url",
                f"{host} resolves to {address}, a {reason} address; webhooks go to public receivers "
                "(allow a self-hosted one with VFO_WEBHOOK_ALLOW_HOSTS)",
            )
    return addresses
