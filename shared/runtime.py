"""What every service's composition root does: connect to NATS, make sure the streams exist,
set up telemetry and metrics, and build a step worker."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from shared import metrics, telemetry
from shared.bus import Bus
from shared.errors import InfrastructureError, InvalidInput
from shared.eventstore import EventStore
from shared.http import HttpHost
from shared.pipeline import StepSpec
from shared.settings import Settings
from shared.worker import StepHandler, StepWorker


@dataclass(frozen=True)
class Readiness:
    """How far a service run inside `vfo up` has come, for the stack's `/healthz`: `connected` (to
    NATS, streams and buckets ensured: all a step worker needs to take work) and `serving` (its
    HTTP app answers, after everything its composition root does first). Set while it holds."""

    connected: asyncio.Event = field(default_factory=asyncio.Event)
    serving: asyncio.Event = field(default_factory=asyncio.Event)


# The stack runs each service's task in a context that holds that service's Readiness (None when a
# service runs as its own process: `vfo run`, where a supervisor asks its own health endpoint).
READINESS: contextvars.ContextVar[Readiness | None] = contextvars.ContextVar("readiness", default=None)


def worker_id(settings: Settings, service: str) -> str:
    return settings.worker_id or f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=False
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here


@asynccontextmanager
async def connected(settings: Settings, service: str, *, serve_metrics: bool = True) -> AsyncIterator[Bus]:
    if not settings.nats_url:
        raise InvalidInput(
            "NATS_URL", "is not set; point it at a NATS server with JetStream (vfo up starts one)"
        )
    telemetry.setup_tracing(f"vfo-{service}", settings.traces)
    bus = await Bus.connect(settings.nats_url, service)
    try:
        await bus.ensure()
        if serve_metrics:  # only once connected: a health check on /metrics then means "up and connected"
            metrics.serve(settings.metrics_port, settings.host)
        readiness = READINESS.get()
        if readiness is not None:
            readiness.connected.set()
        yield bus
    finally:
        readiness = READINESS.get()
        if readiness is not None:
            readiness.connected.clear()
        await bus.close()


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    tasks: Mapping[str, Coroutine[Any, Any, None]],
    followers: Mapping[str, Coroutine[Any, Any, None]] | None = None,
    app: ASGIApp | None = None,
    host: HttpHost | None = None,
    prefixes: Sequence[str] = (),
    ready: asyncio.Event | None = None,
) -> None:
    """Run a service: its `app` (mounted on `host`'s shared port under `prefixes`, or on its own
    port), its `tasks` (which end when `stop` is set) and its `followers` (which run until they are
    cancelled), until `stop` is set or one of them ends. A task that fails stops the
    others and its error is raised (crash-only: the supervisor restarts the service, and every
    part resumes from durable state). `ready` is set once the app answers (and so is the stack's
    `Readiness.serving` of this service, inside `vfo up`), and cleared when the service stops."""
    readiness = READINESS.get()
    signals = [event for event in (ready, readiness.serving if readiness else None) if event is not None]
    running = {name: asyncio.create_task(coroutine, name=name) for name, coroutine in tasks.items()}
    following = [asyncio.create_task(c, name=name) for name, c in (followers or {}).items()]
    server: uvicorn.Server | None = None
    if app is not None and host is not None:
        host.mount(app, *prefixes)
    elif app is not None:
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        running["http"] = asyncio.create_task(server.serve(), name="http")
    stopping = asyncio.create_task(stop.wait())
    try:
        while server is not None and not server.started and not running["http"].done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # uvicorn says `started`, with no event to wait on
        if server is not None and not server.started:
            running["http"].result()
            raise InfrastructureError(f"could not listen on {settings.host}:{settings.port}")
        for event in signals:
            event.set()
        done, _ = await asyncio.wait(
            {stopping, *running.values(), *following}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done - {stopping}:
            if not task.cancelled() and task.exception():
                raise InfrastructureError(
                    f"{task.get_name()} failed: {task.exception()}"
                ) from task.exception()
    finally:
        for event in signals:
            event.clear()
        stop.set()
        if server is not None:
            server.should_exit = True
        for task in following:
            task.cancel()
        for task in [*running.values(), *following]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stopping.cancel()


def step_worker(
    settings: Settings, bus: Bus, step: StepSpec, handler: StepHandler, pools: Sequence[str] = ()
) -> StepWorker:
    return StepWorker(
        EventStore(bus),
        step,
        handler,
        worker_id=worker_id(settings, step.name),
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
        pools=pools,
    )
