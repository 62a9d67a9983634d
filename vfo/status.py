"""Reads for `vfo status` and the offline `vfo board rebuild`."""

from __future__ import annotations

from services.board.hub import Hub
from services.board.projector import Projector
from shared import names
from shared.bus import Bus
from shared.db.engine import make_engine, migrate
from shared.settings import Settings


async def collect(nats_url: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    bus = await Bus.connect(nats_url, "vfo-status")
    try:
        streams, consumers = [], []
        for stream in (names.JOB_EVENTS_STREAM, names.WORK_STREAM):
            info = await bus.js.stream_info(stream)
            streams.append(
                (stream, info.state.messages, info.state.bytes, info.state.first_seq, info.state.last_seq)
            )
            for consumer in await bus.js.consumers_info(stream):
                consumers.append(
                    (
                        consumer.name,
                        stream,
                        consumer.num_pending,
                        consumer.num_ack_pending,
                        consumer.num_redelivered,
                    )
                )
        return streams, consumers
    finally:
        await bus.close()


async def rebuild_offline(settings: Settings) -> int:
    assert settings.nats_url
    bus = await Bus.connect(settings.nats_url, "vfo-rebuild")
    engine = make_engine(settings.resolved_database_url())
    try:
        await bus.ensure()
        await migrate(engine)
        projector = Projector(bus, engine, Hub())
        await projector.rebuild()
        return await projector.catch_up()
    finally:
        await engine.dispose()
        await bus.close()
