"""Composition root of the registry service: `vfo run registry`.

At start it migrates, seeds the shipped configuration once (empty tables), and makes KV match the
database. It serves its API and admin pages on its own port, or, inside `vfo up`, on the shared one.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from services.registry.app import PREFIXES, create_app
from services.registry.registry import Registry
from services.registry.store import RegistryStore
from shared import runtime
from shared.auth import Access
from shared.db.engine import make_engine, migrate
from shared.http import HttpHost
from shared.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, stop: asyncio.Event, host: HttpHost | None = None) -> None:
    async with runtime.connected(settings, "registry", serve_metrics=host is None) as bus:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            registry = Registry(RegistryStore(engine), bus)
            await registry.seed_if_empty()
            await registry.reconcile()
            async with Access.of(bus, settings) as access:
                made = await access.keys.bootstrap(settings.data_dir)
                if made:
                    log.warning(
                        "first start: an admin key for every project was written to %s (mode 600)", made
                    )
                app = create_app(registry, access)
                if host is not None:
                    host.mount(app, *PREFIXES)
                    await stop.wait()
                    return
                server = uvicorn.Server(
                    uvicorn.Config(
                        app, host=settings.host, port=settings.port, log_level="warning", lifespan="off"
                    )
                )
                serving = asyncio.create_task(server.serve())
                await stop.wait()
                server.should_exit = True
                await serving
        finally:
            await engine.dispose()
