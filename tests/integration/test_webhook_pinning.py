"""A webhook connects to the address that was checked: a DNS answer that changes after the check
(rebinding) never reaches an internal address, while the URL's host name stays in the `Host` header
and in TLS (server name, certificate verification). Real receivers on this machine, plain and TLS."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.webhooks import ssrf
from services.webhooks.transport import PinnedTransport
from tests.conftest import Receiver


@dataclass
class Rebinding:
    """A DNS server under an attacker's control: the first answer is public, every later one is
    this machine."""

    first: str = "8.8.8.8"
    later: str = "127.0.0.1"
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.first if len(self.asked) == 1 else self.later]


@dataclass
class Network:
    """What the pinned transport hands on: loopback goes to this machine's real receivers, any
    other address to a stand-in for the internet (tests do not leave the machine), which answers
    200 and remembers what it was sent. A host name handed on is resolved here with `dns`, as a
    client that resolves by itself would (the flaw this file guards against)."""

    dns: Rebinding
    outside: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.AsyncBaseTransport:
        internet, local, dns = httpx.MockTransport(self._internet), httpx.AsyncHTTPTransport(), self.dns

        class Route(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                host = request.url.host
                try:
                    address = ipaddress.ip_address(host)
                except ValueError:  # a name: resolved again, as a client on its own would
                    address = ipaddress.ip_address((await dns(host, request.url.port or 80))[0])
                if address.is_loopback:
                    return await local.handle_async_request(_to(request, str(address)))
                return await internet.handle_async_request(request)

        return Route()

    def _internet(self, request: httpx.Request) -> httpx.Response:
        self.outside.append(request)
        return httpx.Response(200, text="public receiver")


def _to(request: httpx.Request, address: str) -> httpx.Request:
    url = request.url.copy_with(host=address)
    return httpx.Request(request.method, url, headers=request.headers, stream=request.stream)


async def test_a_name_rebound_after_the_check_never_reaches_the_local_receiver(receiver: Receiver):
    # given a name whose DNS answers a public address, then this machine, and a receiver here
    dns = Rebinding()
    network = Network(dns)
    transport = PinnedTransport(ssrf.AllowList.parse(""), resolver=dns, network=network.transport())
    url = f"http://rebind.example:{receiver.port}/hook"
    async with httpx.AsyncClient(transport=transport) as client:
        # when a delivery is sent: the name is resolved once, checked, and that address connected to
        first = await client.post(url, content=b"{}")
        # and sent again, now that the name answers 127.0.0.1
        with pytest.raises(ssrf.Refused, match=r"127\.0\.0\.1, which is not globally reachable"):
            await client.post(url, content=b"{}")
    # then the first went to the public address it was checked on, with the name as its Host
    assert first.status_code == 200 and first.text == "public receiver"
    (sent,) = network.outside
    assert sent.url.host == "8.8.8.8" and sent.url.port == receiver.port
    assert sent.headers["host"] == f"rebind.example:{receiver.port}"
    assert dns.asked == ["rebind.example", "rebind.example"]  # one question per delivery
    # and the receiver on this machine never heard of either
    assert receiver.seen == []


async def test_an_allow_listed_local_receiver_named_by_host_still_gets_its_delivery(receiver: Receiver):
    # given a self-hosted receiver, allowed by name, found through the system resolver (localhost
    # may answer ::1 first, where nothing listens: the next checked address is tried)
    transport = PinnedTransport(ssrf.AllowList.parse("localhost"))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(f"http://localhost:{receiver.port}/hook", content=b'{"ok": 1}')
    assert response.status_code == 200
    ((_, headers, body),) = receiver.seen
    assert headers["host"] == f"localhost:{receiver.port}" and body == b'{"ok": 1}'
    # while a receiver on this machine that is not allowed is refused before anything is sent
    async with httpx.AsyncClient(transport=PinnedTransport(ssrf.AllowList.parse(""))) as client:
        with pytest.raises(ssrf.Refused, match="loopback"):
            await client.post(f"http://localhost:{receiver.port}/hook", content=b"{}")
    assert len(receiver.seen) == 1


async def test_when_a_checked_address_refuses_the_connection_the_next_one_is_tried(receiver: Receiver):
    # given a name with two addresses on this machine, allowed, where only the second listens
    async def dns(host: str, port: int) -> list[str]:
        return ["127.0.0.2", "127.0.0.1"]

    tried: list[str] = []
    real = httpx.AsyncHTTPTransport()

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            tried.append(request.url.host)
            return await real.handle_async_request(request)

    transport = PinnedTransport(ssrf.AllowList.parse("127.0.0.0/8"), dns, network=Recording())
    async with httpx.AsyncClient(transport=transport) as client:
        # when a delivery is sent
        response = await client.post(f"http://two.example:{receiver.port}/hook", content=b"{}")
    # then the first refused, the second got it, and both were addresses the name had been checked on
    assert response.status_code == 200 and tried == ["127.0.0.2", "127.0.0.1"]
    ((_, headers, _),) = receiver.seen
    assert headers["host"] == f"two.example:{receiver.port}"


async def test_a_name_that_does_not_resolve_is_a_connection_error_worth_retrying():
    async def nothing(host: str, port: int) -> list[str]:
        return []

    async with httpx.AsyncClient(transport=PinnedTransport(ssrf.AllowList.parse(""), nothing)) as client:
        with pytest.raises(httpx.ConnectError, match="does not resolve"):
            await client.post("https://gone.example/hook", content=b"{}")


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path


def certificates(tmp_path: Path, name: str) -> Certificates:
    """A throwaway CA, and a server certificate it signed for `name`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throwaway test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(tmp_path / "ca.pem", tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
    found.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


@contextlib.asynccontextmanager
async def serving_tls(receiver: Receiver, certs: Certificates, names: list[str]) -> AsyncIterator[None]:
    """`receiver` over TLS on 127.0.0.1, remembering the server name every client asked for."""
    config = uvicorn.Config(
        receiver.app,
        host="127.0.0.1",
        port=receiver.port,
        log_level="warning",
        ssl_certfile=str(certs.cert),
        ssl_keyfile=str(certs.key),
    )
    config.load()
    assert config.ssl is not None

    def remember(_sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name or "(none)")

    config.ssl.sni_callback = remember
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # as tests.conftest.serving does
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def test_https_goes_to_the_pinned_address_and_verifies_the_certificate_for_the_host_name(
    tmp_path: Path,
):
    # given a TLS receiver on 127.0.0.1 with a certificate for hooks.test only (signed by a CA
    # made here), and a DNS answer for hooks.test that is this machine (allowed by its network)
    certs = certificates(tmp_path, "hooks.test")
    trust = ssl.create_default_context(cafile=str(certs.ca))

    async def dns(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    allow = ssrf.AllowList.parse("127.0.0.0/8")
    receiver, server_names = Receiver(), list[str]()
    transport = PinnedTransport(allow, dns, verify=trust)
    async with serving_tls(receiver, certs, server_names), httpx.AsyncClient(transport=transport) as client:
        # when a delivery goes to https://hooks.test
        response = await client.post(f"https://hooks.test:{receiver.port}/hook", content=b"{}")
        # and one goes to a name the certificate does not carry, on the same address
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(f"https://other.test:{receiver.port}/hook", content=b"{}")
    # then the first was delivered, the TLS server name and the Host header being the host name
    assert response.status_code == 200
    assert server_names == ["hooks.test", "other.test"]
    ((_, headers, _),) = receiver.seen
    assert headers["host"] == f"hooks.test:{receiver.port}"
    # (the certificate is checked against the name, not the address: the second never got through)
