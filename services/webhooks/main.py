"""Composition root of the webhooks service: `vfo run webhooks`.

Consumes JOB_EVENTS into its delivery outbox, sends signed deliveries, and serves
`/api/v1/webhooks` (on its own port, or inside `vfo up` on the shared one).
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.webhooks import signing, ssrf
from services.webhooks.api import Deps, router
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.store import WebhookStore
from shared import httpapi, runtime
from shared.auth import Access
from shared.bus import Bus
from shared.db.engine import make_engine, migrate
from shared.eventstore import EventStore
from shared.http import HttpHost
from shared.settings import Settings

PREFIXES = ("/api/v1/webhooks",)


def create_app(deps: Deps, dispatcher: Dispatcher, access: Access) -> FastAPI:
    app = FastAPI(title="Video Factory webhooks", version="0.1.0", max_body_size=64 * 1024)
    app.state.webhooks = deps
    app.state.access = access
    app.state.wake = dispatcher.wake
    httpapi.install(app)
    app.include_router(router)
    return app


async def serve(settings: Settings, stop: asyncio.Event, host: HttpHost | None = None) -> None:
    async with runtime.connected(settings, "webhooks", serve_metrics=host is None) as bus:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            async with Access.of(bus, settings) as access:
                await _serve(settings, stop, host, bus, engine, access)
        finally:
            await engine.dispose()


async def _serve(
    settings: Settings,
    stop: asyncio.Event,
    host: HttpHost | None,
    bus: Bus,
    engine: AsyncEngine,
    access: Access,
) -> None:
    store = WebhookStore(engine)
    secrets = signing.Secrets(signing.secret_box(settings))
    dispatcher = Dispatcher(store, EventStore(bus), secrets, settings, access.tokens)
    app = create_app(
        Deps(store, secrets, ssrf.AllowList.parse(settings.webhook_allow_hosts)), dispatcher, access
    )
    tasks = {"consumer": dispatcher.consume(stop), "sender": dispatcher.send_loop(stop)}
    await runtime.serve(settings, stop, tasks, app=app, host=host, prefixes=PREFIXES)
