"""Doing part of a job again: render again with changed render settings, and duplicate a job."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, status

from services.board import api_jobs, inputs, queries
from services.board.context import Ctx
from services.board.schemas import DuplicateRequest, JobCreate, JobOut, RenderRequest
from shared import commands as cmd
from shared.auth import Caller, Role, requires
from shared.httpapi import refusals
from shared.options import RenderSettings

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[requires(Role.OPERATOR)])


@router.post("/{job_id}/render", responses=api_jobs.REFUSALS)
async def render_job(
    job_id: uuid.UUID, ctx: Ctx, caller: Caller, body: Annotated[RenderRequest | None, Body()] = None
) -> JobOut:
    """Render at RENDER_READY, or again on a finished video, after changing what only the render
    uses (music, captions, end card). Script and narration are not redone; the old video stays
    downloadable until the new one replaces it. 409 while a step runs, or when nothing changed."""
    await queries.check_job(ctx.engine, str(job_id), caller.scope)
    settings = RenderSettings.model_validate((body or RenderRequest()).model_dump(exclude_none=True))
    job = (await ctx.store.load(str(job_id))).state
    await inputs.check_music(ctx, settings.music, job.project)
    return await api_jobs.run_command(ctx, caller, job_id, cmd.Render(settings=settings, actor=caller.name))


@router.post(
    "/{job_id}/duplicate", status_code=status.HTTP_201_CREATED, responses=api_jobs.REFUSALS | refusals(503)
)
async def duplicate_job(
    job_id: uuid.UUID, ctx: Ctx, caller: Caller, body: Annotated[DuplicateRequest | None, Body()] = None
) -> JobOut:
    """A new job from this one's inputs (title, brief, options, uploads), in its project, with the
    recipe's current configuration; the old job stays as it is."""
    await queries.check_job(ctx.engine, str(job_id), caller.scope)
    job = (await ctx.store.load(str(job_id))).state
    create = await inputs.duplicate_command(ctx, job, caller.name)
    start = body.start if body else None
    fields = JobCreate(title=job.title, brief=job.brief, start=start)
    state = await api_jobs.create_and_start(ctx, fields, create)
    return await api_jobs.settled(ctx, state)
