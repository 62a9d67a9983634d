"""The steps of a restore (`vfo.restore`), in the words its errors use; a restore that fails
half-way puts back what was there with the same steps, from its copy of the data directory."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.board.hub import Hub
from services.board.projector import Projector
from shared import names
from shared.auth import write_private
from shared.bus import Bus
from shared.db import tables as t
from vfo import snapshots, tablecopy
from vfo.backup import STREAMS, count_content, stream_files


@dataclass
class Progress:
    """The step a restore is at, for the error that names it."""

    step: str = "starting"


async def load(bus: Bus, engine: AsyncEngine, folder: Path, progress: Progress) -> None:
    """Replace the streams and the tables with those of the backup in `folder`."""
    progress.step = "removing the streams there"
    for stream in STREAMS:
        with contextlib.suppress(NotFoundError):
            await bus.js.delete_stream(stream)
    for stream in STREAMS:
        progress.step = f"restoring the stream {stream}"
        meta_file, data_file = stream_files(stream)
        meta: dict[str, Any] = json.loads((folder / meta_file).read_text())
        await snapshots.load(bus.nc, meta, folder / data_file)
    progress.step = "declaring the streams"
    await bus.ensure()
    progress.step = "copying the registry's and the webhooks' tables into the database"
    await tablecopy.load(engine, folder)


def write_secrets(data_dir: Path, secrets: dict[str, str | None]) -> None:
    """Each secret file as given; None: there is none."""
    for name, text in secrets.items():
        if text is None:
            (data_dir / name).unlink(missing_ok=True)
        else:
            write_private(data_dir / name, text)


async def rebuilt(bus: Bus, engine: AsyncEngine) -> Projector:
    projector = Projector(bus, engine, Hub())
    await projector.rebuild()
    await projector.catch_up()
    return projector


async def summary(bus: Bus, engine: AsyncEngine) -> dict[str, int]:
    events = (await bus.js.stream_info(names.JOB_EVENTS_STREAM)).state.messages
    async with engine.connect() as conn:
        jobs = (await conn.execute(select(func.count()).select_from(t.jobs))).scalar_one()
    return {"jobs": int(jobs), "events": int(events), **await count_content(bus)}
