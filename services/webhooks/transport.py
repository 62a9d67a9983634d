"""The HTTP transport of webhook deliveries: it connects only to an address it has checked.

Checking a name and then letting the HTTP client connect to it resolves the name twice; a DNS
answer that changes in between (rebinding: a public address for the check, 127.0.0.1 a moment
later) would reach an internal address. So, for every request, `PinnedTransport`:

1. resolves the URL's host once and checks every address (`ssrf.check_host`: globally reachable,
   or named by the allow-list), refusing the request (`ssrf.Refused`) if any one is not;
2. hands httpx's own transport the same request with the host replaced by a checked address (the
   first that accepts a connection, in the resolver's order), keeping the URL's host in the `Host`
   header and, as httpx's documented `sni_hostname` extension, for TLS: the server name sent and
   the name the certificate is verified against.

Connections are not kept alive: httpx pools connections by the URL's host, which is now an address,
and two receivers that share an address must not share a TLS session verified for one of them.
Proxies from the environment are not used (a proxy would resolve the name itself).
"""

from __future__ import annotations

import ipaddress
import ssl

import httpx

from services.webhooks import ssrf
from shared.errors import InvalidInput


class PinnedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        allow: ssrf.AllowList,
        resolver: ssrf.Resolver = ssrf.resolve,
        network: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """`network` sends the pinned request (httpx's transport unless a test gives another);
        `verify` is its TLS trust (True: the system's, `SSL_CERT_FILE` honoured)."""
        self.allow = allow
        self.resolver = resolver
        self.network = network or httpx.AsyncHTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS want it
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            addresses = await ssrf.check_host(host, port, self.allow, self.resolver)
        except ssrf.Refused:
            raise
        except InvalidInput as unresolved:  # a name that does not resolve may, later: retryable
            raise httpx.ConnectError(unresolved.message, request=request) from unresolved
        failure: httpx.ConnectError | None = None
        for address in addresses:
            try:
                return await self.network.handle_async_request(_pinned(request, host, address))
            except httpx.ConnectError as err:  # nothing was sent: the next address may answer
                failure = err
        assert failure is not None  # check_host returns at least one address
        raise failure

    async def aclose(self) -> None:
        await self.network.aclose()


def _pinned(request: httpx.Request, host: str, address: ssrf.Address) -> httpx.Request:
    """`request`, addressed to `address`; its headers (with `Host`) and body unchanged."""
    extensions = dict(request.extensions)
    if not _is_address(host):
        extensions["sni_hostname"] = host
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,
        stream=request.stream,
        extensions=extensions,
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
