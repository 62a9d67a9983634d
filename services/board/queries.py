"""Reads of the board tables (the projection). Writes go through the event store, never here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.board.eta import EtaInput, History, eta_seconds, recent_history
from services.board.projector import job_columns
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
from shared.events import RenderSettingsChanged
from shared.jobstate import Column, JobState, StepState
from shared.options import RenderSettings
from shared.pipeline import PIPELINE, RUNNING_STATES, Pipeline


def _columns(names: Iterable[str]) -> list[Any]:
    """The `jobs` columns of these API fields (`column` is stored as `board_column`)."""
    return [t.jobs.c["board_column" if name == "column" else name] for name in names]


DERIVED = ("eta_s",)  # computed, not stored
JOB_COLUMNS = _columns(name for name in JobOut.model_fields if name not in DERIVED)
# a card, and what its ETA reads
CARD_COLUMNS = [
    *_columns(name for name in CardOut.model_fields if name not in DERIVED),
    *_columns(("target", "recipe", "video_preset", "pipeline")),
    func.length(t.jobs.c.brief).label("brief_chars"),
]


def artifact_url(job_id: str, name: str) -> str:
    return f"/api/v1/jobs/{job_id}/artifacts/{name}"


def job_from_row(row: Mapping[str, Any]) -> JobOut:
    """The one mapper of a job for the API: from its `jobs` row (or the columns of one)."""
    return JobOut.model_validate(dict(row) | {"column": row["board_column"]})


def job_from_state(state: JobState) -> JobOut:
    """A job the projection has not shown yet, from its folded state: the row it will have."""
    return job_from_row(job_columns(state))


@lru_cache(maxsize=64)
def _pipeline(raw: str | None) -> Pipeline:
    """A job's `pipeline` column; None: a job from before the column, which runs the table's."""
    return Pipeline.model_validate_json(raw) if raw else PIPELINE


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _step_state(row: Mapping[str, Any]) -> StepState:
    return StepState.model_validate(
        dict(row) | {"started_at": aware(row["started_at"]), "metrics": json.loads(row["metrics"])}
    )


def eta_input(row: Mapping[str, Any], steps: Iterable[Mapping[str, Any]]) -> EtaInput:
    """What the ETA reads, from a job's row (with `brief_chars`, or `brief`) and its `job_steps` rows."""
    return EtaInput(
        state=row["state"],
        auto_video=row["auto_video"],
        target=Column(row["target"]) if row["target"] else None,
        brief_chars=row["brief_chars"] if "brief_chars" in row else len(row["brief"]),
        recipe=row["recipe"],
        video_preset=row["video_preset"],
        pipeline=_pipeline(row["pipeline"]),
        steps={s["step"]: _step_state(s) for s in steps},
    )


async def _steps_of(conn: AsyncConnection, job_ids: list[str]) -> dict[str, list[RowMapping]]:
    found: dict[str, list[RowMapping]] = {job_id: [] for job_id in job_ids}
    if job_ids:
        query = select(t.job_steps).where(t.job_steps.c.job_id.in_(job_ids))
        for row in (await conn.execute(query)).mappings():
            found[row["job_id"]].append(row)
    return found


async def list_jobs(
    engine: AsyncEngine,
    state: str | None,
    limit: int,
    offset: int,
    project: str | None,
    waiting_review: bool = False,
) -> JobList:
    """A page of jobs, newest first; `project` None means every project; `waiting_review`: only the
    jobs paused until a person moves them on."""
    query = select(*JOB_COLUMNS)
    count = select(func.count()).select_from(t.jobs)
    if state:
        query, count = query.where(t.jobs.c.state == state), count.where(t.jobs.c.state == state)
    if waiting_review:
        query, count = query.where(t.jobs.c.waiting_review), count.where(t.jobs.c.waiting_review)
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
        steps = (await _steps_of(conn, [job_id]))[job_id]
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
        history = await recent_history(engine, conn) if row["state"] in RUNNING_STATES else History()
    order = {name: n for n, name in enumerate(_pipeline(row["pipeline"]).names)}
    return JobDetail(
        **job_from_row(row).model_dump(),
        options=json.loads(row["options"]),
        target=row["target"],
        images=json.loads(row["images"]),
        eta_s=eta_seconds(eta_input(row, steps), history, datetime.now(UTC)),
        steps=sorted(
            (StepOut.model_validate(dict(s)) for s in steps), key=lambda s: order.get(s.step, len(order))
        ),
        artifacts=[
            ArtifactOut.model_validate(
                dict(a) | {"metadata": json.loads(a["meta"]), "url": artifact_url(job_id, a["name"])}
            )
            for a in arts
        ],
        events=[EventOut.model_validate(dict(e) | {"payload": json.loads(e["payload"])}) for e in events],
        config=json.loads(row["config"]) if row["config"] else {},
        render_settings=_render_settings(events),
    )


def _render_settings(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What a person changed of the render, from the job's `render_settings_changed` events."""
    settings = RenderSettings()
    for event in events:
        if event["type"] == RenderSettingsChanged.type:
            changed = json.loads(event["payload"]).get("settings") or {}
            settings = settings.merged(RenderSettings.model_validate(changed))
    return settings.model_dump(exclude_none=True)


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
        running = [row["id"] for row in rows if row["state"] in RUNNING_STATES]
        history = await recent_history(engine, conn) if running else History()
        steps = await _steps_of(conn, running)
    return [
        CardOut.model_validate(
            dict(row)
            | {
                "column": row["board_column"],
                "eta_s": eta_seconds(eta_input(row, steps[row["id"]]), history, now)
                if row["id"] in steps
                else None,
            }
        )
        for row in rows
    ]


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
