"""Fixtures: a real nats-server per test (free port, temp store), a fresh database per test
(PostgreSQL when TEST_DATABASE_URL is set, else SQLite), and the whole stack in-process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import struct
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from benchmarks.common import fresh_postgres
from shared.bus import Bus
from shared.eventstore import EventStore
from shared.natsserver import EmbeddedNats, free_port
from shared.settings import Settings
from tests.fake_models import FakeModels
from vfo.stack import Stack

BRIEF = (
    "Octopuses have three hearts. Two of them pump blood through the gills, and the third pumps it to the "
    "rest of the body. Their blood is blue because it carries oxygen with hemocyanin, a copper-based protein."
)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    connected = await Bus.connect(nats_server.url, "test")
    await connected.ensure()
    yield connected
    await connected.close()


@pytest.fixture
def store(bus: Bus) -> EventStore:
    return EventStore(bus)


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database nobody else uses: a new PostgreSQL database, or a new SQLite file."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite+aiosqlite:///{tmp_path / 'board.db'}"
        return
    async with fresh_postgres(base, prefix="vfo_test") as url:
        yield url


def stack_settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str, **extra: object) -> Settings:
    return Settings(
        NATS_URL=nats_server.url,
        DATABASE_URL=database_url,
        data_dir=tmp_path / "data",
        port=free_port(),
        ack_wait_s=5,
        **extra,
    )


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(tmp_path, nats_server, database_url)


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    async with Stack(settings) as running:
        yield running


def admin_key(stack: Stack) -> str:
    """The key for every project that the first start wrote to <data-dir>/admin-key."""
    return (stack.settings.data_dir / "admin-key").read_text().strip()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def stack_client(stack: Stack, timeout: float = 30) -> httpx.AsyncClient:
    """An HTTP client of the stack, with the admin key."""
    return httpx.AsyncClient(base_url=stack.board_url, headers=bearer(admin_key(stack)), timeout=timeout)


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack_client(stack) as http:
        yield http


async def wait_for_state(
    client: httpx.AsyncClient, job_id: str, states: tuple[str, ...], timeout: float = 120
) -> dict[str, object]:
    """Poll the API until the job reaches one of `states` (tests only; the product pushes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    job: dict[str, object] = {}
    while loop.time() < deadline:
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if job.get("state") in states:
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"job {job_id} did not reach {states}; it is {job.get('state')}: {job.get('last_error')}"
    )


class Receiver:
    """Answers with the scripted status codes, in order (then 200), and remembers every request."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.seen: list[tuple[float, dict[str, str], bytes]] = []
        self.app = FastAPI()
        self.app.post("/hook")(self.hook)
        self.port = free_port()

    async def hook(self, request: Request) -> Response:
        self.seen.append((asyncio.get_running_loop().time(), dict(request.headers), await request.body()))
        code, headers = self.script.pop(0) if self.script else (200, {})
        return Response(status_code=code, headers=headers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    """Serve `app` on 127.0.0.1:`port` for the duration (local stand-ins for outside systems)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    listening = Receiver()
    async with serving(listening.app, listening.port):
        yield listening


@pytest.fixture
async def models() -> AsyncIterator[FakeModels]:
    """The model APIs (Anthropic, OpenAI-compatible) as a local fake server."""
    fake = FakeModels()
    async with serving(fake.app, fake.port):
        yield fake


@pytest.fixture(autouse=True)
def no_real_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real paid API, whatever this machine's environment holds."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AZURE_SPEECH_KEY",
        "AZURE_SPEECH_REGION",
    ):
        monkeypatch.delenv(name, raising=False)


def tone_wav(seconds: float, amplitude: float = 0.3) -> bytes:
    """A WAV file of a 220 Hz tone (8 kHz mono), to upload as music."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(8000)
        count = int(seconds * 8000)
        sink.writeframes(
            b"".join(
                struct.pack("<h", round(amplitude * 32767 * math.sin(i / 8000 * 2 * math.pi * 220)))
                for i in range(count)
            )
        )
    return buffer.getvalue()
