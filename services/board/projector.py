"""The projector: folds JOB_EVENTS into the board tables.

It stores the last applied stream sequence in the same transaction as the rows, so it can crash
anywhere and never applies an event twice. It reads with an ordered consumer from that position;
`rebuild()` empties the tables and replays from sequence 1 with the same code, so a rebuilt
projection equals the live one.
"""

from __future__ import annotations

import asyncio
import json
import logging

from nats.js import api as js_api
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.board.hub import Applied, Hub
from shared import metrics, names
from shared.bus import Bus
from shared.db import tables as t
from shared.db.upsert import upsert
from shared.events import ArtifactWritten, Event, StepCompleted, parse_event
from shared.jobstate import JobState, evolve

log = logging.getLogger(__name__)
NAME = "board"
BATCH = 500


class Projector:
    def __init__(self, bus: Bus, engine: AsyncEngine, hub: Hub) -> None:
        self.bus = bus
        self.engine = engine
        self.hub = hub

    async def position(self) -> int:
        async with self.engine.connect() as conn:
            row = await conn.scalar(
                select(t.projection_positions.c.last_seq).where(t.projection_positions.c.name == NAME)
            )
        return int(row or 0)

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
        config = js_api.ConsumerConfig(
            deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=position + 1
        )
        sub = await self.bus.js.subscribe(names.JOB_EVENTS_SUBJECTS, ordered_consumer=True, config=config)
        try:
            while not stop.is_set():
                try:
                    batch = [await sub.next_msg(timeout=0.5)]
                except TimeoutError:  # nats raises its own subclass or plain asyncio.TimeoutError
                    continue
                while sub.pending_msgs > 0 and len(batch) < BATCH:
                    try:  # pending_msgs also counts heartbeats and flow control, which next_msg skips
                        batch.append(await sub.next_msg(timeout=0.01))
                    except TimeoutError:  # nats raises its own subclass or plain asyncio.TimeoutError
                        break
                rows = [(m.metadata.sequence.stream, parse_event(m.data)) for m in batch]
                await self.apply(rows)
                metrics.PROJECTION_LAG.set(batch[-1].metadata.num_pending)
        finally:
            await sub.unsubscribe()

    async def apply(self, rows: list[tuple[int, Event]]) -> None:
        """Apply events (with their stream sequences) in one transaction, skipping applied ones."""
        applied: list[Applied] = []
        async with self.engine.begin() as conn:
            position = int(
                await conn.scalar(
                    select(t.projection_positions.c.last_seq).where(t.projection_positions.c.name == NAME)
                )
                or 0
            )
            states: dict[str, JobState] = {}
            for seq, event in rows:
                if seq <= position:
                    continue
                state = states.get(event.job_id) or await _load_state(conn, event.job_id)
                states[event.job_id] = await _apply_one(conn, state, seq, event)
                applied.append(Applied(seq, event.job_id, event.type))
                position = seq
            if applied:
                await upsert(conn, t.projection_positions, {"name": NAME, "last_seq": position}, ("name",))
        if applied:
            metrics.PROJECTED.inc(len(applied))
            await self.hub.publish(applied, position)

    async def rebuild(self) -> None:
        """Drop every projected row and the position; the running projector (or the next) replays."""
        async with self.engine.begin() as conn:
            for table in t.PROJECTION_TABLES:
                await conn.execute(delete(table))
            await conn.execute(delete(t.projection_positions).where(t.projection_positions.c.name == NAME))


async def _load_state(conn: AsyncConnection, job_id: str) -> JobState:
    snapshot = await conn.scalar(select(t.jobs.c.snapshot).where(t.jobs.c.id == job_id))
    return JobState.model_validate_json(snapshot) if snapshot else JobState(job_id=job_id)


async def _apply_one(conn: AsyncConnection, before: JobState, seq: int, event: Event) -> JobState:
    state = evolve(before, event)
    payload = event.payload()
    step = payload.get("step")
    await conn.execute(
        t.job_events.insert().values(
            seq=seq,
            event_id=str(event.event_id),
            job_id=event.job_id,
            type=event.type,
            step=step,
            occurred_at=event.occurred_at,
            actor=event.actor,
            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
        )
    )
    if state.state is None or state.created_at is None:
        return state  # events of a job whose creation we never saw: keep them in job_events only
    await upsert(conn, t.jobs, _job_row(state, seq), ("id",))
    if isinstance(step, str) and step in state.steps:
        await upsert(conn, t.job_steps, _step_row(state, step), ("job_id", "step"))
    if isinstance(event, StepCompleted) and state.config is not None:
        # what the ETA learns from: how long each step took for a brief of this size
        await conn.execute(
            t.step_history.insert().values(
                seq=seq,
                job_id=state.job_id,
                step=event.step,
                recipe=state.config.recipe.slug,
                video_preset=state.config.video.slug,
                size=float(len(state.brief)),
                words=state.step("script").metrics.get("words"),
                duration_s=event.duration_s,
            )
        )
    if isinstance(event, ArtifactWritten):
        ref = state.artifacts[event.name]
        row = ref.model_dump(exclude={"metadata"}) | {
            "job_id": state.job_id,
            "meta": json.dumps(ref.metadata, sort_keys=True),
            "created_at": event.occurred_at,
        }
        await upsert(conn, t.artifacts, row, ("job_id", "name"))
    return state


def _job_row(state: JobState, seq: int) -> dict[str, object]:
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
        "retry_count": state.retry_count,
        "failed_step": state.failed_step,
        "last_error": state.last_error,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "completed_at": state.completed_at,
        "last_seq": seq,
        "snapshot": state.model_dump_json(),
    }


def _step_row(state: JobState, step: str) -> dict[str, object]:
    current = state.steps[step]
    return {"job_id": state.job_id, "step": step} | current.model_dump(exclude={"instruction", "metrics"})
