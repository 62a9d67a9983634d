"""The all-in-one stack of `vfo up`: an embedded NATS (unless NATS_URL is set), SQLite (unless
DATABASE_URL is set) and every service, in one process, with the board on one port.

`<data-dir>/stack.json` says where a running stack listens, so `vfo make` and `vfo status` find it.
`<data-dir>/stack.lock` is held by the one process that uses the data directory (a stack, or an
offline backup or restore); the kernel lets go of it when that process ends, however it ends.
`/healthz` on the stack's port answers 200 only once every service of the stack is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import make_url
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared import runtime
from shared.errors import InfrastructureError, InvalidInput
from shared.http import HttpHost
from shared.natsserver import EmbeddedNats
from shared.settings import Settings

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; stack.json alone says a stack runs
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
SERVICES = ("registry", "board", "script", "tts", "render", "webhooks")
HTTP_SERVICES = ("registry", "board", "webhooks")  # share the stack's one port
Serve = Callable[..., Coroutine[Any, Any, None]]


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


def database_label(settings: Settings) -> str:
    """The database a process uses, without its password (written to stack.json, shown in errors)."""
    return make_url(settings.resolved_database_url()).render_as_string(hide_password=True)


def _port_free(host: str, port: int) -> bool:
    """Whether the board could listen on `port`. Bound as uvicorn binds (SO_REUSEADDR): connections
    of a stack stopped a moment ago, still in TIME_WAIT, do not hold the port; a listener does."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class DataDirLock:
    """`<data-dir>/stack.lock`: one process at a time uses a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "stack.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise InfrastructureError(
                f"{self.path.parent} is in use by another vfo process (pid {holder}): a stack runs from "
                "it, or a backup or restore; stop it first, or use another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor lets go of the lock
            self._fd = None


async def start_embedded_nats(data_dir: Path) -> EmbeddedNats:
    """The embedded server on `<data-dir>/nats`, once a server left running on that store by a
    process that no longer holds the data directory (a `vfo up` killed where the kernel could not
    stop its server with it) is stopped. Call with the data directory's lock held."""
    nats = EmbeddedNats(data_dir / "nats")
    leftover = await asyncio.to_thread(nats.stop_holder)
    if leftover is not None:
        log.warning(
            "stopped nats-server %s: an earlier vfo process on %s ended without stopping it "
            "(its data is intact)",
            leftover,
            data_dir,
        )
    nats.spawn()  # from this (the event loop's) thread: on Linux the server ends when it ends
    return await asyncio.to_thread(nats.wait_listening)


@contextlib.asynccontextmanager
async def data_dir_nats(settings: Settings) -> AsyncIterator[Settings]:
    """For a command that works with no stack running (an offline backup, a restore): hold the data
    directory, and start the embedded NATS on its store unless NATS_URL names a server. Yields the
    settings with `nats_url` set."""
    if running_stack(settings.data_dir):
        raise InfrastructureError(
            f"a stack is running from {settings.data_dir}; stop it first (Ctrl-C where `vfo up` runs)"
        )
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    nats: EmbeddedNats | None = None
    try:
        if not settings.nats_url:
            nats = await start_embedded_nats(settings.data_dir)
            settings = settings.model_copy(update={"nats_url": nats.url})
        yield settings
    finally:
        if nats is not None:
            await asyncio.to_thread(nats.stop)
        lock.release()


class StackHealth:
    """The stack's one port: `/healthz` answers 503, naming the services still starting, until
    every service of the stack is ready; then the board answers it (its projection position)."""

    def __init__(self, app: ASGIApp, waiting_for: Callable[[], list[str]]) -> None:
        self.app = app
        self.waiting_for = waiting_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/healthz":
            waiting = self.waiting_for()
            if waiting:
                body = {"status": "starting", "waiting_for": waiting}
                await JSONResponse(body, status_code=503)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Stack:
    def __init__(
        self,
        settings: Settings,
        services: tuple[str, ...] = SERVICES,
        entry: Callable[[str], Serve] = service_entry,
    ) -> None:
        self.settings = settings
        self.services = services
        self.entry = entry
        self.nats: EmbeddedNats | None = None
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.host = HttpHost()
        self.server: uvicorn.Server | None = None
        self.readiness = {name: runtime.Readiness() for name in services}
        self.lock = DataDirLock(settings.data_dir)

    @property
    def board_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def waiting_for(self) -> list[str]:
        """The services not ready yet: an HTTP service once it serves, a worker once connected."""
        return [
            name
            for name, ready in self.readiness.items()
            if not (ready.serving if name in HTTP_SERVICES else ready.connected).is_set()
        ]

    async def __aenter__(self) -> Stack:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if running_stack(data_dir):
            raise InfrastructureError(
                f"a stack is already running from {data_dir}; stop it or use --data-dir"
            )
        self.lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        stack_file(data_dir).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "board_url": self.board_url,
                    "nats_url": self.settings.nats_url,
                    "database": database_label(self.settings),
                }
            )
        )
        return self

    async def _start(self) -> None:
        if not _port_free(self.settings.host, self.settings.port):
            raise InvalidInput("--port", f"port {self.settings.port} is in use; pass another with --port")
        if not self.settings.nats_url:
            self.nats = await start_embedded_nats(self.settings.data_dir)
            self.settings = self.settings.model_copy(update={"nats_url": self.nats.url})
        for name in self.services:
            serve = self.entry(name)
            args = (
                (self.settings, self.stop, self.host) if name in HTTP_SERVICES else (self.settings, self.stop)
            )
            context = contextvars.copy_context()
            context.run(runtime.READINESS.set, self.readiness[name])
            self.tasks.append(asyncio.create_task(serve(*args), name=name, context=context))
        config = uvicorn.Config(
            StackHealth(self.host, self.waiting_for),
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.tasks.append(asyncio.create_task(self.server.serve(), name="http"))
        if self.settings.backup_interval_s:
            from vfo.backup import every

            self.tasks.append(
                asyncio.create_task(
                    every(self.settings, self.settings.backup_interval_s, self.stop), name="backups"
                )
            )
        await self._ready()

    async def _ready(self, timeout: float = 60.0) -> None:
        """Every service is ready, and `/healthz` on the stack's port says so."""
        async with httpx.AsyncClient(timeout=2) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                self._raise_if_crashed()
                if not self.waiting_for() and self.server is not None and self.server.started:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{self.board_url}/healthz")).status_code == 200:
                            return
                await asyncio.sleep(0.1)
        waiting = ", ".join(self.waiting_for()) or "the board's health check"
        raise InfrastructureError(
            f"the stack did not become ready within {timeout:.0f}s (waiting for {waiting})"
        )

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
        for task, result in zip(self.tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("service %s stopped with an error: %r", task.get_name(), result, exc_info=result)
        if self.nats:
            await asyncio.to_thread(self.nats.stop)
        with contextlib.suppress(FileNotFoundError):
            stack_file(self.settings.data_dir).unlink()
        self.lock.release()
