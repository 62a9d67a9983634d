"""What every service's composition root does: connect to NATS, make sure the streams exist,
set up telemetry and metrics, and build a step worker."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from shared import metrics, telemetry
from shared.bus import Bus
from shared.errors import InvalidInput
from shared.eventstore import EventStore
from shared.settings import Settings
from shared.worker import StepHandler, StepWorker


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
        yield bus
    finally:
        await bus.close()


def step_worker(
    settings: Settings, bus: Bus, step: str, handler: StepHandler, pools: Sequence[str] = ()
) -> StepWorker:
    return StepWorker(
        EventStore(bus),
        step,
        handler,
        worker_id=worker_id(settings, step),
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
        pools=pools,
    )
