"""Composition root of the board service: `vfo run board` (and the heart of `vfo up`).

Runs the HTTP API, the conductor and the projector in one process. Any of them failing stops the
service (crash-only: the supervisor restarts it, and every part resumes from durable state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from services.board.app import create_app
from services.board.boardconfig import BoardConfig
from services.board.conductor import Conductor
from services.board.context import BoardContext
from services.board.hub import Hub
from services.board.projector import Projector
from shared import runtime
from shared.artifacts import ArtifactStore
from shared.auth import Access
from shared.bus import Bus
from shared.configstore import ConfigReader
from shared.db.engine import make_engine, migrate
from shared.eventstore import EventStore
from shared.http import HttpHost
from shared.httpapi import JsonTooLarge
from shared.settings import Settings

log = logging.getLogger(__name__)


class Board:
    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.settings = settings
        self.engine = make_engine(settings.resolved_database_url())
        self.hub = Hub()
        store = EventStore(bus)
        self.context = BoardContext(
            store=store,
            config=ConfigReader(bus),
            engine=self.engine,
            hub=self.hub,
            artifacts=ArtifactStore(bus),
            board_config=BoardConfig(bus),
            cache_dir=settings.data_dir / "cache" / "artifacts",
        )
        self.projector = Projector(bus, self.engine, self.hub)
        self.conductor = Conductor(store)
        self._projecting: asyncio.Task[None] | None = None
        self._projector_stop = asyncio.Event()

    def _start_projector(self) -> None:
        self._projector_stop = asyncio.Event()
        self._projecting = asyncio.create_task(self.projector.run(self._projector_stop), name="projector")

    async def rebuild(self) -> int:
        """Drop the projection and replay JOB_EVENTS from sequence 1; returns the new position."""
        if self._projecting:
            self._projector_stop.set()
            await self._projecting
        await self.projector.rebuild()
        position = await self.projector.catch_up()
        self._start_projector()
        return position

    async def serve(self, stop: asyncio.Event, host: HttpHost | None = None) -> None:
        """Run the API, conductor and projector until `stop`; with `host`, share its HTTP port."""
        await migrate(self.engine)
        async with Access.of(self.context.store.bus, self.settings) as access:
            await self._serve(stop, host, access)

    async def _serve(self, stop: asyncio.Event, host: HttpHost | None, access: Access) -> None:
        app = create_app(self.context, access)
        app.state.rebuild = self.rebuild
        asgi = JsonTooLarge(app)
        server: uvicorn.Server | None = None
        self._start_projector()
        following = asyncio.create_task(self.context.config.follow(), name="config")
        conductor = asyncio.create_task(self.conductor.run(stop), name="conductor")
        if host is None:
            config = uvicorn.Config(
                asgi, host=self.settings.host, port=self.settings.port, log_level="warning", lifespan="off"
            )
            server = uvicorn.Server(config)
            http = asyncio.create_task(server.serve(), name="http")
        else:
            host.mount(asgi)
            http = asyncio.create_task(stop.wait(), name="http")
        try:
            while server is not None and not server.started:
                if http.done():
                    http.result()
                    raise RuntimeError(
                        f"the board could not listen on {self.settings.host}:{self.settings.port}"
                    )
                await asyncio.sleep(0.02)
            self.context.ready.set()
            log.info("board ready on http://%s:%s", self.settings.host, self.settings.port)
            stopping = asyncio.create_task(stop.wait())
            while True:
                assert self._projecting is not None
                projecting = self._projecting
                done, _ = await asyncio.wait(
                    {stopping, conductor, http, projecting}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done - {stopping}:
                    if not task.cancelled() and task.exception():
                        # a crash stops the service; a projector that finished was replaced by rebuild()
                        raise RuntimeError(f"the board's {task.get_name()} failed") from task.exception()
                if done & {stopping, conductor, http}:
                    break
        finally:
            self.context.ready.clear()
            if server is not None:
                server.should_exit = True
            following.cancel()
            stop.set()
            self._projector_stop.set()
            for task in (http, conductor, self._projecting):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await self.engine.dispose()


async def serve(settings: Settings, stop: asyncio.Event, host: HttpHost | None = None) -> None:
    async with runtime.connected(settings, "board", serve_metrics=False) as bus:
        await Board(settings, bus).serve(stop, host)
