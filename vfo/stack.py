"""The all-in-one stack of `vfo up`: an embedded NATS (unless NATS_URL is set), SQLite (unless
DATABASE_URL is set) and every service, in one process, with the board on one port.

`<data-dir>/stack.json` says where a running stack listens, so `vfo make` and `vfo status` find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn

from shared.bus import Bus
from shared.config import Recipe, config_key
from shared.configstore import ConfigReader
from shared.errors import InfrastructureError, InvalidInput
from shared.http import HttpHost
from shared.natsserver import EmbeddedNats
from shared.settings import Settings

log = logging.getLogger(__name__)
SERVICES = ("registry", "board", "script", "tts", "render", "webhooks")
HTTP_SERVICES = ("registry", "board", "webhooks")  # share the stack's one port
Serve = Callable[..., Awaitable[None]]


def service_entry(name: str) -> Serve:
    if name not in SERVICES:
        raise InvalidInput("service", f"unknown service {name!r}; use one of {', '.join(SERVICES)}")
    serve: Serve = importlib.import_module(f"services.{name}.main").serve
    return serve


def stack_file(data_dir: Path) -> Path:
    return data_dir / "stack.json"


def running_stack(data_dir: Path) -> dict[str, str] | None:
    """The stack started from `data_dir`, if its process is alive and its board answers."""
    path = stack_file(data_dir)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
        httpx.get(f"{info['board_url']}/healthz", timeout=2).raise_for_status()
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return None
    return {k: str(v) for k, v in info.items()}


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Stack:
    def __init__(self, settings: Settings, services: tuple[str, ...] = SERVICES) -> None:
        self.settings = settings
        self.services = services
        self.nats: EmbeddedNats | None = None
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.host = HttpHost()
        self.server: uvicorn.Server | None = None

    @property
    def board_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    async def __aenter__(self) -> Stack:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if running_stack(data_dir):
            raise InfrastructureError(
                f"a stack is already running from {data_dir}; stop it or use --data-dir"
            )
        if not _port_free(self.settings.host, self.settings.port):
            raise InvalidInput("--port", f"port {self.settings.port} is in use; pass another with --port")
        if not self.settings.nats_url:
            self.nats = await asyncio.to_thread(EmbeddedNats(data_dir / "nats").start)
            self.settings = self.settings.model_copy(update={"nats_url": self.nats.url})
        try:
            for name in self.services:
                serve = service_entry(name)
                args = (
                    (self.settings, self.stop, self.host)
                    if name in HTTP_SERVICES
                    else (self.settings, self.stop)
                )
                self.tasks.append(asyncio.create_task(serve(*args), name=name))
            config = uvicorn.Config(
                self.host,
                host=self.settings.host,
                port=self.settings.port,
                log_level="warning",
                lifespan="off",
            )
            self.server = uvicorn.Server(config)
            self.tasks.append(asyncio.create_task(self.server.serve(), name="http"))
            await self._ready()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        stack_file(data_dir).write_text(
            json.dumps({"pid": os.getpid(), "board_url": self.board_url, "nats_url": self.settings.nats_url})
        )
        return self

    async def _ready(self, timeout: float = 60.0) -> None:
        """The board and the registry answer, and the registry has published the configuration."""
        assert self.settings.nats_url
        bus = await Bus.connect(self.settings.nats_url, "vfo")
        try:
            await bus.ensure()
            async with httpx.AsyncClient(timeout=2) as client:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                while loop.time() < deadline:
                    self._raise_if_crashed()
                    with contextlib.suppress(httpx.HTTPError):
                        board = await client.get(f"{self.board_url}/healthz")
                        registry = await client.get(f"{self.board_url}/api/v1/registry")
                        recipe = await ConfigReader(bus).get(config_key("recipe", "narrated-story"), Recipe)
                        answers = registry.status_code in (200, 401)  # mounted; it asks for a key
                        if board.status_code == 200 and answers and recipe:
                            return
                    await asyncio.sleep(0.1)
        finally:
            await bus.close()
        raise InfrastructureError(f"the stack did not become ready within {timeout:.0f}s")

    def _raise_if_crashed(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception():
                raise InfrastructureError(f"service {task.get_name()} failed: {task.exception()}")

    async def wait(self) -> None:
        """Until stopped, or until a service stops on its own (which stops the others)."""
        stopping = asyncio.create_task(self.stop.wait())
        await asyncio.wait([stopping, *self.tasks], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        self._raise_if_crashed()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop.set()
        if self.server is not None:
            self.server.should_exit = True
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        for name, result in zip((*self.services, "http"), results, strict=False):
            if isinstance(result, Exception):
                log.error("service %s stopped with an error: %r", name, result, exc_info=result)
        if self.nats:
            await asyncio.to_thread(self.nats.stop)
        with contextlib.suppress(FileNotFoundError):
            stack_file(self.settings.data_dir).unlink()
