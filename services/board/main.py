"""Composition root of the board service: `vfo run board` (and the heart of `vfo up`).

Runs the HTTP API, the conductor and the projector in one process. Any of them failing stops the
service (crash-only: the supervisor restarts it, and every part resumes from durable state).
"""

from __future__ import annotations

import asyncio
import logging

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
        self._rebuilding = asyncio.Lock()
        self._pause, self._resume, self._idle = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def rebuild(self) -> int:
        """Drop the projection and replay JOB_EVENTS from sequence 1; returns the new position."""
        async with self._rebuilding:
            self._pause.set()
            await self._idle.wait()
            await self.projector.rebuild()
            position = await self.projector.catch_up()
            self._pause.clear()
            self._resume.set()
        return position

    async def _project(self, stop: asyncio.Event) -> None:
        """The projector for the life of the service; `rebuild()` pauses it, replays, resumes it."""
        while not stop.is_set():
            self._idle.clear()
            halt = asyncio.Event()
            watcher = asyncio.create_task(_set_on_any(halt, stop, self._pause))
            try:
                await self.projector.run(halt)
            finally:
                watcher.cancel()
                self._idle.set()
            await _set_on_any(asyncio.Event(), stop, self._resume)
            self._resume.clear()

    async def serve(self, stop: asyncio.Event, host: HttpHost | None = None) -> None:
        """Run the API, conductor and projector until `stop`; with `host`, share its HTTP port."""
        await migrate(self.engine)
        try:
            async with Access.of(self.context.store.bus, self.settings) as access:
                app = create_app(self.context, access)
                app.state.rebuild = self.rebuild
                await runtime.serve(
                    self.settings,
                    stop,
                    {"conductor": self.conductor.run(stop), "projector": self._project(stop)},
                    followers={"config": self.context.config.follow()},
                    app=JsonTooLarge(app),
                    host=host,
                    ready=self.context.ready,
                )
        finally:
            await self.engine.dispose()


async def serve(settings: Settings, stop: asyncio.Event, host: HttpHost | None = None) -> None:
    async with runtime.connected(settings, "board", serve_metrics=False) as bus:
        await Board(settings, bus).serve(stop, host)


async def _set_on_any(target: asyncio.Event, *events: asyncio.Event) -> None:
    """Set `target` as soon as one of `events` is set."""
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    target.set()
