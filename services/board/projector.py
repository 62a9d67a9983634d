"""The projector: folds JOB_EVENTS into the board tables.

It stores the last applied stream sequence in the same transaction as the rows, so it can crash
anywhere and never applies an event twice. It reads the stream in order from that position
(`StreamReader`); `rebuild()` empties the tables and replays from sequence 1 with the same code, so
a rebuilt projection equals the live one.

A batch of events is one transaction: every event goes to `job_events`, and each job's row, changed
steps and artifacts are written once, as the batch's last event of that job left them. Job states
are folded in memory and kept in an LRU (only the projector writes these tables); a job that is not
in it is folded again from its rows in `job_events`. The LRU is dropped on rebuild, whenever a
transaction fails, and when the stored position is not the one the LRU was left at.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from services.board.eta import history_changed
from services.board.hub import Applied, Hub
from shared import metrics, names
from shared.bus import Bus
from shared.consumer import StreamReader, skip_unreadable
from shared.db import tables as t
from shared.decide import waits_for_a_person
from shared.events import ArtifactWritten, Event, StepCompleted, UnreadableEvent, parse_event
from shared.jobstate import JobState, evolve

log = logging.getLogger(__name__)
NAME = "board"
BATCH = 500
CACHED_JOBS = 500  # a job state with the shipped config holds ~65 KB
CONFIG_COLUMNS = ("config", "recipe", "video_preset", "pipeline")


class Projector:
    def __init__(self, bus: Bus, engine: AsyncEngine, hub: Hub, cached_jobs: int = CACHED_JOBS) -> None:
        self.bus = bus
        self.engine = engine
        self.hub = hub
        self.cached_jobs = cached_jobs
        self._states: OrderedDict[str, JobState] = OrderedDict()  # least recently used first
        self._cached_at: int | None = None  # the position the cached states are the fold of
        self._statements: _Statements | None = None

    async def position(self) -> int:
        async with self.engine.connect() as conn:
            return await _position(conn)

    async def catch_up(self) -> int:
        """Apply everything the stream holds now, then return the position (offline rebuilds, tests)."""
        target = await self._stream_last_seq()
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        try:
            while await self.position() < target:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        return await self.position()

    async def _stream_last_seq(self) -> int:
        info = await self.bus.js.stream_info(names.JOB_EVENTS_STREAM)
        return int(info.state.last_seq)

    async def run(self, stop: asyncio.Event) -> None:
        position = await self.position()
        await self.hub.publish([], position)
        reader = StreamReader(self.bus, names.JOB_EVENTS_STREAM, names.JOB_EVENTS_SUBJECTS, BATCH)
        await reader.run(position, self._handle, stop)

    async def _handle(self, batch: list[Msg]) -> None:
        rows: list[tuple[int, Event | Skipped]] = []
        for msg in batch:
            seq = msg.metadata.sequence.stream
            try:
                rows.append((seq, parse_event(msg.data)))
            except UnreadableEvent as err:
                rows.append((seq, Skipped(msg.subject, str(err))))
        await self.apply(rows)
        metrics.PROJECTION_LAG.set(batch[-1].metadata.num_pending)

    async def apply(self, rows: Sequence[tuple[int, Event | Skipped]]) -> None:
        """Apply events (with their stream sequences) in one transaction, skipping applied ones. A
        message that is not an event, or an event that cannot be applied to its job, is recorded in
        `unreadable_events` (and logged and counted) in the same transaction, and skipped."""
        try:
            async with self.engine.begin() as conn:
                position = await _position(conn)
                if position != self._cached_at:  # someone else moved the projection
                    self._states.clear()
                fresh: list[tuple[int, Event | Skipped]] = []
                for seq, row in rows:
                    if seq > position:
                        fresh.append((seq, row))
                        position = seq
                if not fresh:
                    return
                events = [(seq, row) for seq, row in fresh if not isinstance(row, Skipped)]
                batch = _Batch(await self._states_of(conn, {event.job_id for _, event in events}))
                for seq, row in fresh:
                    if isinstance(row, Skipped):
                        batch.skip(seq, row)
                        continue
                    try:
                        batch.add(seq, row)
                    except Exception as err:  # an event this job's history cannot take
                        batch.skip(seq, Skipped(names.job_subject(row.job_id), f"cannot be applied: {err!r}"))
                await batch.write(conn, self._statements_for(conn), position)
        except BaseException:
            self._forget()
            raise
        for job_id, state in batch.after.items():
            self._remember(job_id, state)
        if batch.history:
            history_changed(self.engine)
        self._cached_at = position
        metrics.PROJECTED.inc(len(fresh))
        applied = [(seq, row) for seq, row in fresh if not isinstance(row, Skipped)]
        await self.hub.publish([Applied(seq, event.job_id, event.type) for seq, event in applied], position)

    async def rebuild(self) -> None:
        """Drop every projected row and the position; the running projector (or the next) replays."""
        self._forget()
        async with self.engine.begin() as conn:
            for table in t.PROJECTION_TABLES:
                await conn.execute(delete(table))
            await conn.execute(delete(t.projection_positions).where(t.projection_positions.c.name == NAME))

    def _forget(self) -> None:
        self._states.clear()
        self._cached_at = None

    def _remember(self, job_id: str, state: JobState) -> None:
        self._states[job_id] = state
        self._states.move_to_end(job_id)
        while len(self._states) > self.cached_jobs:
            self._states.popitem(last=False)

    async def _states_of(self, conn: AsyncConnection, job_ids: set[str]) -> dict[str, JobState]:
        """Each job's state before this batch: from the LRU, else folded from its `job_events` rows."""
        states = {job_id: self._states[job_id] for job_id in job_ids if job_id in self._states}
        missing = job_ids - states.keys()
        for job_id in missing:
            states[job_id] = JobState(job_id=job_id)
        if missing:
            e = t.job_events.c
            query = select(t.job_events).where(e.job_id.in_(sorted(missing))).order_by(e.seq)
            for row in await conn.execute(query):
                states[row.job_id] = evolve(states[row.job_id], _stored_event(row))
        return states

    def _statements_for(self, conn: AsyncConnection) -> _Statements:
        if self._statements is None or self._statements.dialect != conn.dialect.name:
            self._statements = _Statements(conn.dialect.name)
        return self._statements


async def _position(conn: AsyncConnection) -> int:
    p = t.projection_positions.c
    return int(await conn.scalar(select(p.last_seq).where(p.name == NAME)) or 0)


def _stored_event(row: Row[Any]) -> Event:
    """An event again from its `job_events` row (its envelope columns and payload)."""
    occurred: datetime = row.occurred_at
    wire = {
        "event_id": row.event_id,
        "job_id": row.job_id,
        "type": row.type,
        "schema_version": row.schema_version,
        "occurred_at": (occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)).isoformat(),
        "actor": row.actor,
        "payload": json.loads(row.payload),
    }
    return parse_event(json.dumps(wire).encode())


@dataclass(frozen=True)
class Skipped:
    """A message on JOB_EVENTS the projector records as unreadable instead of applying."""

    subject: str
    reason: str


@dataclass
class _Batch:
    """The rows one batch of events makes."""

    before: dict[str, JobState]  # each job's state before the batch
    after: dict[str, JobState] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, object]] = field(default_factory=list)
    history: list[dict[str, object]] = field(default_factory=list)
    artifacts: dict[tuple[str, str], datetime] = field(default_factory=dict)  # -> when last written
    skipped: list[dict[str, object]] = field(default_factory=list)

    def skip(self, seq: int, skipped: Skipped) -> None:
        skip_unreadable("projector", skipped.subject, seq, Exception(skipped.reason))
        self.skipped.append(
            {
                "seq": seq,
                "subject": skipped.subject[:256],
                "job_id": names.job_of_subject(skipped.subject)[:64],
                "reason": skipped.reason,
                "recorded_at": datetime.now(UTC),
            }
        )

    def add(self, seq: int, event: Event) -> None:
        job_id = event.job_id
        state = evolve(self.after.get(job_id) or self.before[job_id], event)
        self.after[job_id] = state
        self.last_seq[job_id] = seq
        step = getattr(event, "step", None)
        self.events.append(
            {
                "seq": seq,
                "event_id": str(event.event_id),
                "job_id": job_id,
                "type": event.type,
                "schema_version": event.schema_version,
                "step": step if isinstance(step, str) else None,
                "occurred_at": event.occurred_at,
                "actor": event.actor,
                "payload": event.model_dump_json(exclude=Event.ENVELOPE),  # `event.payload()`, as JSON
            }
        )
        if not _created(state):
            return  # events of a job whose creation we never saw: keep them in job_events only
        if isinstance(event, StepCompleted) and state.config is not None:
            # what the ETA learns from: how long each step took for a brief of this size
            self.history.append(
                {
                    "seq": seq,
                    "job_id": job_id,
                    "step": event.step,
                    "recipe": state.config.recipe.slug,
                    "video_preset": state.config.video.slug,
                    "size": float(len(state.brief)),
                    "words": state.step("script").metrics.get("words"),
                    "duration_s": event.duration_s,
                }
            )
        if isinstance(event, ArtifactWritten):
            self.artifacts[(job_id, event.name)] = event.occurred_at

    async def write(self, conn: AsyncConnection, sql: _Statements, position: int) -> None:
        jobs: list[dict[str, object]] = []
        configured: list[dict[str, object]] = []
        steps: list[dict[str, object]] = []
        for job_id, state in self.after.items():
            if not _created(state):
                continue
            before = self.before[job_id]
            row = job_columns(state) | {"last_seq": self.last_seq[job_id]}
            if state.config is not before.config or not _created(before):
                configured.append(row | config_columns(state))
            else:
                jobs.append(row)
            steps += (
                step_columns(state, name)
                for name, current in state.steps.items()
                if current is not before.steps.get(name)
            )
        artifacts = [
            artifact_columns(self.after[job_id], name, at) for (job_id, name), at in self.artifacts.items()
        ]
        await _execute(conn, sql.events, self.events)
        await _execute(conn, sql.jobs_configured, configured)
        await _execute(conn, sql.jobs, jobs)
        await _execute(conn, sql.steps, steps)
        await _execute(conn, sql.artifacts, artifacts)
        await _execute(conn, sql.history, self.history)
        await _execute(conn, sql.skipped, self.skipped)
        await conn.execute(sql.position, {"name": NAME, "last_seq": position})


async def _execute(conn: AsyncConnection, statement: Insert, rows: list[dict[str, object]]) -> None:
    if rows:
        await conn.execute(statement, rows)  # a list of rows: one executemany


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _created(state: JobState) -> bool:
    return state.state is not None and state.created_at is not None


def job_columns(state: JobState) -> dict[str, object]:
    """The `jobs` columns a job's state gives (all but `last_seq` and the config's)."""
    assert state.state is not None and state.created_at is not None and state.updated_at is not None
    return {
        "id": state.job_id,
        "project": state.project,
        "title": state.title,
        "brief": state.brief,
        "language": state.language,
        "story_type": state.options.story_type,
        "state": state.state.value,
        "board_column": state.column.value,
        "progress": state.progress,
        "current_step": state.current_step,
        "auto_video": state.auto_video,
        "target": state.target.value if state.target else None,
        "waiting_review": waits_for_a_person(state),
        "options": state.options.model_dump_json(),
        "images": _json(list(state.images)),
        "retry_count": state.retry_count,
        "failed_step": state.failed_step,
        "last_error": state.last_error,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "completed_at": state.completed_at,
    }


def config_columns(state: JobState) -> dict[str, object]:
    """The `jobs` columns of the job's config snapshot (written only when it changes)."""
    config = state.config
    return {
        "config": config.model_dump_json() if config else None,
        "recipe": config.recipe.slug if config else None,
        "video_preset": config.video.slug if config else None,
        "pipeline": config.pipeline.model_dump_json() if config else None,
    }


def step_columns(state: JobState, step: str) -> dict[str, object]:
    current = state.steps[step]
    return (
        {"job_id": state.job_id, "step": step}
        | current.model_dump(exclude={"instruction", "metrics"})
        | {"metrics": _json(current.metrics)}
    )


def artifact_columns(state: JobState, name: str, written_at: datetime) -> dict[str, object]:
    ref = state.artifacts[name]
    return ref.model_dump(exclude={"metadata"}) | {
        "job_id": state.job_id,
        "meta": json.dumps(ref.metadata, sort_keys=True),
        "created_at": written_at,
    }


class _Statements:
    """The projector's statements for one SQL dialect, built once (each runs as an executemany)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        job_keys = [c.name for c in t.jobs.c if c.name not in CONFIG_COLUMNS]
        self.events = t.job_events.insert()
        self.history = t.step_history.insert()
        self.skipped = t.unreadable_events.insert()
        self.jobs = self._upsert(t.jobs, ("id",), job_keys)
        self.jobs_configured = self._upsert(t.jobs, ("id",), [c.name for c in t.jobs.c])
        self.steps = self._upsert(t.job_steps, ("job_id", "step"), [c.name for c in t.job_steps.c])
        self.artifacts = self._upsert(t.artifacts, ("job_id", "name"), [c.name for c in t.artifacts.c])
        self.position = self._upsert(t.projection_positions, ("name",), ["name", "last_seq"])

    def _upsert(self, table: Table, keys: tuple[str, ...], columns: Iterable[str]) -> Insert:
        """INSERT .. ON CONFLICT (keys) DO UPDATE SET every other of `columns`."""
        statement = (postgresql if self.dialect == "postgresql" else sqlite).insert(table)
        updates = {name: statement.excluded[name] for name in columns if name not in keys}
        return statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
