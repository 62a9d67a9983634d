"""`vfo restore BACKUP`: put a backup (`vfo.backup`) back, with no service running.

Every checksum is verified first; a damaged backup is refused, naming the file, and nothing is
touched. Data already there (messages in the streams, rows in the tables, the secret files) is
replaced only once `confirm` agrees. Then each stream is restored by JetStream from its snapshot
(messages, sequences and consumers as they were), the tables are replaced in one transaction, the
secret files are put back, and the board's tables are rebuilt from the events.

A job that was running a step (or waiting for a worker to take it) when the backup was made ran on
a worker that is gone, and the work queue was copied a moment apart from the events: its step is
recorded as interrupted (`job_cancelled`, reason naming the backup) and asked for again
(`job_resumed`), so it goes on when the stack starts; its old work item, if any, is then stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.board.hub import Hub
from services.board.projector import Projector
from shared import commands as cmd
from shared import names
from shared.auth import write_private
from shared.bus import Bus
from shared.db import tables as t
from shared.db.engine import make_engine, migrate
from shared.errors import InfrastructureError, TransitionRefused
from shared.eventstore import EventStore
from shared.pipeline import RUNNING_STATES
from shared.settings import Settings
from vfo import snapshots, tablecopy
from vfo.backup import SECRET_KEY_FILE, SECRETS, STREAMS, count_content, stream_files

Confirm = Callable[[list[str]], bool]
ACTOR = "vfo restore"


@dataclass(frozen=True)
class Restored:
    summary: dict[str, int]
    notes: list[str] = field(default_factory=list)


async def _existing(bus: Bus, settings: Settings, rows: dict[str, int]) -> list[str]:
    """What a restore would replace here, in words (empty: nothing)."""
    found = []
    for stream in STREAMS:
        try:
            messages = (await bus.js.stream_info(stream)).state.messages
        except NotFoundError:
            continue
        if messages:
            found.append(f"{messages} messages in {stream}")
    found += [f"{count} rows in {table}" for table, count in rows.items() if count]
    found += [f"{settings.data_dir / name}" for name in SECRETS if (settings.data_dir / name).exists()]
    return found


async def _pulling(bus: Bus) -> list[str]:
    """Durable consumers someone is pulling from right now: services still running."""
    pulling = []
    for stream in (names.JOB_EVENTS_STREAM, names.WORK_STREAM):
        try:
            consumers = await bus.js.consumers_info(stream)
        except NotFoundError:
            continue
        pulling += [c.name for c in consumers if c.num_waiting]
    return pulling


async def _restore_streams(bus: Bus, backup: Path) -> None:
    for stream in STREAMS:
        with contextlib.suppress(NotFoundError):
            await bus.js.delete_stream(stream)
    for stream in STREAMS:
        meta_file, data_file = stream_files(stream)
        meta: dict[str, Any] = json.loads((backup / meta_file).read_text())
        await snapshots.load(bus.nc, meta, backup / data_file)


async def _restart_interrupted(bus: Bus, engine: AsyncEngine, backup: Path) -> int:
    """Ask again for every step in flight when the backup was made; how many jobs that was."""
    async with engine.connect() as conn:
        running = [str(s) for s in RUNNING_STATES]
        jobs = (await conn.execute(select(t.jobs.c.id).where(t.jobs.c.state.in_(running)))).scalars().all()
    store = EventStore(bus)
    reason = f"interrupted: the step was in progress when backup {backup.name} was made; it starts again"
    for job_id in jobs:
        with contextlib.suppress(TransitionRefused):  # it moved on (it cannot here: nothing else runs)
            await store.execute(job_id, cmd.Cancel(reason=reason, actor=ACTOR))
            await store.execute(job_id, cmd.Resume(actor=ACTOR))
    return len(jobs)


async def restore_backup(
    settings: Settings, backup: Path, manifest: dict[str, Any], confirm: Confirm
) -> Restored | None:
    """Restore `backup` (its `manifest` as `vfo.backup.verify` returned it, every checksum checked)
    into the factory `settings` point at (NATS_URL set; no service running). None when `confirm`
    declined to replace what is there (nothing was changed)."""
    assert settings.nats_url, "the caller starts the embedded NATS (or NATS_URL names one)"
    bus = await Bus.connect(settings.nats_url, "vfo-restore")
    engine = make_engine(settings.resolved_database_url())
    try:
        await migrate(engine)
        pulling = await _pulling(bus)
        if pulling:
            raise InfrastructureError(
                f"services are still running on {settings.nats_url} ({', '.join(sorted(pulling))} "
                "pulling): stop every service before a restore"
            )
        existing = await _existing(bus, settings, await tablecopy.count_rows(engine))
        if existing and not await asyncio.to_thread(confirm, existing):
            return None
        await _restore_streams(bus, backup)
        await bus.ensure()
        await tablecopy.load(engine, backup)
        for name in manifest["secrets"]:
            write_private(settings.data_dir / name, (backup / "secrets" / name).read_text())
        notes = []
        if SECRET_KEY_FILE not in manifest["secrets"] and settings.secret_key is None:
            notes.append(
                "the backup was made with VFO_SECRET_KEY set: set it to the same value, or the "
                "webhook subscriptions cannot sign their deliveries"
            )
        events = (await bus.js.stream_info(names.JOB_EVENTS_STREAM)).state.messages
        projector = Projector(bus, engine, Hub())
        await projector.rebuild()
        await projector.catch_up()
        restarted = await _restart_interrupted(bus, engine, backup)
        if restarted:
            await projector.catch_up()
            notes.append(
                f"{restarted} jobs were in the middle of a step when the backup was made: it starts again"
            )
        async with engine.connect() as conn:
            jobs = (await conn.execute(select(func.count()).select_from(t.jobs))).scalar_one()
        summary = {"jobs": int(jobs), "events": int(events), **await count_content(bus)}
        return Restored(summary, notes)
    finally:
        await engine.dispose()
        await bus.close()
