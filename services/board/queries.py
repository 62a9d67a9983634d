"""Reads of the board tables (the projection). Writes go through the event store, never here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from services.board.eta import History, eta_seconds, load_history
from services.board.schemas import (
    ArtifactOut,
    BoardOut,
    CardOut,
    EventOut,
    JobDetail,
    JobList,
    JobOut,
    StepOut,
)
from shared.db import tables as t
from shared.errors import NotFound
from shared.jobstate import Column, JobState

JOB_COLUMNS = [c for c in t.jobs.c if c.name != "snapshot"]


def artifact_url(job_id: str, name: str) -> str:
    return f"/api/v1/jobs/{job_id}/artifacts/{name}"


def job_from_row(row: RowMapping) -> JobOut:
    return JobOut.model_validate(dict(row) | {"column": row["board_column"]})


def job_from_state(state: JobState) -> JobOut:
    assert state.state is not None and state.created_at is not None and state.updated_at is not None
    return JobOut(
        id=state.job_id,
        project=state.project,
        title=state.title,
        brief=state.brief,
        language=state.language,
        story_type=state.options.story_type,
        state=state.state.value,
        column=state.column.value,
        progress=state.progress,
        current_step=state.current_step,
        auto_video=state.auto_video,
        retry_count=state.retry_count,
        failed_step=state.failed_step,
        last_error=state.last_error,
        created_at=state.created_at,
        updated_at=state.updated_at,
        completed_at=state.completed_at,
    )


async def list_jobs(
    engine: AsyncEngine, state: str | None, limit: int, offset: int, project: str | None
) -> JobList:
    """A page of jobs, newest first; `project` None means every project."""
    query = select(*JOB_COLUMNS)
    count = select(func.count()).select_from(t.jobs)
    if state:
        query, count = query.where(t.jobs.c.state == state), count.where(t.jobs.c.state == state)
    if project is not None:
        query, count = query.where(t.jobs.c.project == project), count.where(t.jobs.c.project == project)
    query = query.order_by(t.jobs.c.created_at.desc(), t.jobs.c.id).limit(limit).offset(offset)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
        total = int(await conn.scalar(count) or 0)
    return JobList(items=[job_from_row(r) for r in rows], total=total, limit=limit, offset=offset)


def _missing(job_id: str) -> NotFound:
    """The same answer for a job that does not exist and for one of a project the caller cannot see."""
    return NotFound(f"no job with id {job_id}")


async def check_job(engine: AsyncEngine, job_id: str, project: str | None) -> None:
    """NotFound unless the job exists and belongs to `project` (None: any project)."""
    query = select(t.jobs.c.project).where(t.jobs.c.id == job_id)
    async with engine.connect() as conn:
        owner = await conn.scalar(query)
    if owner is None or (project is not None and owner != project):
        raise _missing(job_id)


async def get_job(engine: AsyncEngine, job_id: str, project: str | None) -> JobDetail:
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.jobs).where(t.jobs.c.id == job_id))).mappings().first()
        if row is None or (project is not None and row["project"] != project):
            raise _missing(job_id)
        steps = (
            (await conn.execute(select(t.job_steps).where(t.job_steps.c.job_id == job_id))).mappings().all()
        )
        arts = (
            (
                await conn.execute(
                    select(t.artifacts).where(t.artifacts.c.job_id == job_id).order_by(t.artifacts.c.name)
                )
            )
            .mappings()
            .all()
        )
        events = (
            (
                await conn.execute(
                    select(t.job_events).where(t.job_events.c.job_id == job_id).order_by(t.job_events.c.seq)
                )
            )
            .mappings()
            .all()
        )
        history = await load_history(conn)
    order = {"script": 0, "tts": 1, "render": 2}
    snapshot = JobState.model_validate_json(row["snapshot"])
    return JobDetail(
        **job_from_row(row).model_dump(),
        options=snapshot.options.model_dump(),
        target=snapshot.target.value if snapshot.target else None,
        images=list(snapshot.images),
        eta_s=eta_seconds(snapshot, history, datetime.now(UTC)),
        steps=sorted((StepOut.model_validate(dict(s)) for s in steps), key=lambda s: order.get(s.step, 9)),
        artifacts=[
            ArtifactOut.model_validate(
                dict(a) | {"metadata": json.loads(a["meta"]), "url": artifact_url(job_id, a["name"])}
            )
            for a in arts
        ],
        events=[EventOut.model_validate(dict(e) | {"payload": json.loads(e["payload"])}) for e in events],
        config=snapshot.config.model_dump(mode="json") if snapshot.config else {},
    )


CARD_COLUMNS = [c for c in t.jobs.c if c.name not in ("brief", "last_seq", "target", "completed_at")]
RUNNING = ("SCRIPTING", "TTS_RUNNING", "RENDER_RUNNING")


async def cards(
    engine: AsyncEngine, project: str | None, job_ids: Iterable[str] | None = None
) -> list[CardOut]:
    """Board cards (all, or only `job_ids`; of one project or every one), newest change first,
    with ETAs for running jobs."""
    query = select(*CARD_COLUMNS).order_by(t.jobs.c.updated_at.desc(), t.jobs.c.id)
    if job_ids is not None:
        query = query.where(t.jobs.c.id.in_(list(job_ids)))
    if project is not None:
        query = query.where(t.jobs.c.project == project)
    now = datetime.now(UTC)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
        history = await load_history(conn) if any(r["state"] in RUNNING for r in rows) else History()
    out = []
    for row in rows:
        eta = (
            eta_seconds(JobState.model_validate_json(row["snapshot"]), history, now)
            if row["state"] in RUNNING
            else None
        )
        out.append(CardOut.model_validate(dict(row) | {"column": row["board_column"], "eta_s": eta}))
    return out


async def board(engine: AsyncEngine, auto_video: bool, position: int, project: str | None) -> BoardOut:
    columns: dict[str, list[CardOut]] = {column.value: [] for column in Column}
    for card in await cards(engine, project):
        columns[card.column].append(card)
    return BoardOut(columns=columns, auto_video=auto_video, position=position)


async def changed_since(engine: AsyncEngine, seq: int) -> list[str]:
    """Jobs with events after `seq` (what a reconnecting browser missed)."""
    query = select(t.job_events.c.job_id).where(t.job_events.c.seq > seq).distinct()
    async with engine.connect() as conn:
        return [row[0] for row in await conn.execute(query)]


async def get_artifact(engine: AsyncEngine, job_id: str, name: str, project: str | None) -> RowMapping:
    await check_job(engine, job_id, project)
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(t.artifacts).where(t.artifacts.c.job_id == job_id, t.artifacts.c.name == name)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"job {job_id} has no artifact named {name!r}")
    return row
