"""`vfo restore BACKUP`: put a backup (`vfo.backup`) back, with no service running.

Everything is checked before anything is touched: every checksum (`backup.verify`), then that the
backup is complete and its files parse (`backupcheck.check`); a damaged backup is refused, naming
the file. Data already there (messages in the streams, rows in the tables, the secret files) is
replaced only once `confirm` agrees. Then each stream is restored by JetStream from its snapshot
(messages, sequences and consumers as they were), the tables are replaced in one transaction, the
secret files are put back, and the board's tables are rebuilt from the events.

A restore that fails half-way (a snapshot the server cannot read although its checksum matched,
the database going away, an interrupt) leaves the data directory as it was. JetStream cannot
restore a snapshot under another name, nor rename a stream, nor hold two streams on the same
subjects, so a restore cannot be built beside the live streams and swapped in. Instead, what is
there is first backed up, with the same snapshot API, into `<data-dir>/restore-undo/`; on a failure
that copy is put back the same way (streams, tables, secret files, the board rebuilt) and deleted,
and the error says what failed and that nothing changed. (This needs room for one more copy of the
data.) Should putting it back fail too, or the restore be killed, the copy stays: the error, and
every later restore into that data directory, say how to put it back (`vfo restore` that copy).

A job that was running a step (or waiting for a worker to take it) when the backup was made ran on
a worker that is gone, and the work queue was copied a moment apart from the events: its step is
recorded as interrupted (`job_cancelled`, reason naming the backup) and asked for again
(`job_resumed`), so it goes on when the stack starts; its old work item, if any, is then stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import commands as cmd
from shared import names
from shared.bus import Bus
from shared.db import tables as t
from shared.db.engine import make_engine, migrate
from shared.errors import InfrastructureError, InvalidInput, TransitionRefused, VideoFactoryError
from shared.eventstore import EventStore
from shared.pipeline import RUNNING_STATES
from shared.settings import Settings
from vfo import backupcheck, restoresteps, tablecopy
from vfo.backup import SECRET_KEY_FILE, SECRETS, STREAMS, backups_in, in_words, make_backup

Confirm = Callable[[list[str]], bool]
ACTOR = "vfo restore"
UNDO_FOLDER = "restore-undo"


class RestoreFailed(VideoFactoryError):
    """A restore stopped before it finished; the message says at which step, why, and what the
    data directory holds now."""


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


async def _apply(
    bus: Bus,
    engine: AsyncEngine,
    settings: Settings,
    backup: Path,
    manifest: dict[str, Any],
    progress: restoresteps.Progress,
    *,
    restart: bool,
) -> Restored:
    await restoresteps.load(bus, engine, backup, progress)
    progress.step = "writing the secret files"
    restoresteps.write_secrets(
        settings.data_dir, {name: (backup / "secrets" / name).read_text() for name in manifest["secrets"]}
    )
    notes = []
    if SECRET_KEY_FILE not in manifest["secrets"] and settings.secret_key is None:
        notes.append(
            "the backup was made with VFO_SECRET_KEY set: set it to the same value, or the "
            "webhook subscriptions cannot sign their deliveries"
        )
    progress.step = "rebuilding the board from the events"
    projector = await restoresteps.rebuilt(bus, engine)
    progress.step = "asking again for the steps in flight when the backup was made"
    restarted = await _restart_interrupted(bus, engine, backup) if restart else 0
    if restarted:
        await projector.catch_up()
        notes.append(
            f"{restarted} jobs were in the middle of a step when the backup was made: it starts again"
        )
    progress.step = "counting what was restored"
    return Restored(await restoresteps.summary(bus, engine), notes)


async def _put_back(
    bus: Bus, engine: AsyncEngine, settings: Settings, undo: Path, secrets: dict[str, str | None]
) -> dict[str, int]:
    """Put the data directory back as the copy `undo` (and the `secrets` files) hold it."""
    progress = restoresteps.Progress()
    await restoresteps.load(bus, engine, undo, progress)
    restoresteps.write_secrets(settings.data_dir, secrets)
    await restoresteps.rebuilt(bus, engine)
    return await restoresteps.summary(bus, engine)


def _leftover(settings: Settings, backup: Path) -> Path | None:
    """The copy an unfinished restore left (None: there is none), when `backup` is not that copy:
    restoring anything else over it would lose what the data directory held before."""
    for copy in backups_in(settings.data_dir / UNDO_FOLDER):
        if copy.resolve() != backup.resolve():
            return copy
    return None


async def restore_backup(
    settings: Settings, backup: Path, manifest: dict[str, Any], confirm: Confirm
) -> Restored | None:
    """Restore `backup` (its `manifest` as `vfo.backup.verify` returned it, every checksum checked)
    into the factory `settings` point at (NATS_URL set; no service running). None when `confirm`
    declined to replace what is there (nothing was changed). `RestoreFailed` when it stopped
    half-way: the data directory then holds what it held before (the message says so, or says how
    to put it back)."""
    assert settings.nats_url, "the caller starts the embedded NATS (or NATS_URL names one)"
    backupcheck.check(backup, manifest)  # (the CLI checked already, before starting NATS)
    data_dir = settings.data_dir
    leftover = _leftover(settings, backup)
    if leftover:
        raise InvalidInput(
            "backup",
            f"a restore into {data_dir} stopped before it finished, and what {data_dir} held before "
            f"is kept in {leftover}: put it back first (`vfo restore {leftover} --yes --data-dir "
            f"{data_dir}`), or delete {leftover} to give it up",
        )
    # putting back that copy: made with nothing running, it has no step in flight to ask for again
    redoing = backup.resolve().parent == (data_dir / UNDO_FOLDER).resolve()
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
        secrets = {name: _read(data_dir / name) for name in SECRETS}
        undo = None if redoing else await _copy_of(settings)
        progress = restoresteps.Progress()
        try:
            restored = await _apply(bus, engine, settings, backup, manifest, progress, restart=not redoing)
        except (Exception, asyncio.CancelledError) as err:
            raise await _failed(bus, engine, settings, backup, undo, secrets, progress, err) from err
        _discard(undo or backup)  # (redoing: the copy is used up)
        return restored
    finally:
        await engine.dispose()
        await bus.close()


async def _copy_of(settings: Settings) -> Path:
    """A backup of what the data directory holds, to put back if the restore fails."""
    try:
        return (await make_backup(settings, settings.data_dir / UNDO_FOLDER, keep=1)).path
    except Exception as err:
        raise RestoreFailed(
            f"could not copy what {settings.data_dir} holds before replacing it ({err}); nothing was changed"
        ) from err


def _discard(copy: Path) -> None:
    shutil.rmtree(copy)
    with contextlib.suppress(OSError):  # the folder, once it holds no other copy
        copy.parent.rmdir()


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


async def _failed(
    bus: Bus,
    engine: AsyncEngine,
    settings: Settings,
    backup: Path,
    undo: Path | None,
    secrets: dict[str, str | None],
    progress: restoresteps.Progress,
    err: BaseException,
) -> RestoreFailed:
    """Put back what was there; the error that says what failed and what the data directory holds."""
    cause = "interrupted" if isinstance(err, asyncio.CancelledError) else f"{err}" or type(err).__name__
    what = f"the restore of {backup.name} failed while {progress.step} ({cause})"
    data_dir = settings.data_dir
    if undo is None:  # restoring the copy of an unfinished restore: it stays, to be tried again
        return RestoreFailed(
            f"{what}; {data_dir} is half-restored: run the same restore again ({backup} is kept)"
        )
    try:
        summary = await _put_back(bus, engine, settings, undo, secrets)
    except Exception as again:
        return RestoreFailed(
            f"{what}, and putting back what was there failed too ({again}): {data_dir} is "
            f"half-restored. What it held is kept in {undo}: `vfo restore {undo} --yes --data-dir "
            f"{data_dir}` puts it back"
        )
    _discard(undo)
    return RestoreFailed(
        f"{what}; nothing was changed: {data_dir} holds what it held before ({in_words(summary)})"
    )
