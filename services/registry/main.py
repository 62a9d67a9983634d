"""Composition root of the registry service: `vfo run registry`.

At start it migrates, seeds the shipped configuration once (empty tables), gives shipped items
nobody changed the fields a newer release ships for them, and makes KV match the database. It
serves its API and admin pages on its own port, or, inside `vfo up`, on the shared one.
"""

from __future__ import annotations

import asyncio
import logging

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
            await registry.add_shipped_fields()
            await registry.reconcile()
            async with Access.of(bus, settings) as access:
                made = await access.keys.bootstrap(settings.data_dir)
                if made:
                    log.warning(
                        "first start: an admin key for every project was written to %s (mode 600)", made
                    )
                app = create_app(registry, access)
                await runtime.serve(settings, stop, {}, app=app, host=host, prefixes=PREFIXES)
        finally:
            await engine.dispose()
