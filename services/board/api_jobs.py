"""`/api/v1/jobs`: create (one, or a batch), list, read, edit, drive and follow jobs; render one
again with changed render settings, duplicate one."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, UploadFile, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.board import batch, inputs, queries
from services.board.context import BoardContext, Ctx
from services.board.schemas import (
    AutoVideo,
    BatchOut,
    DuplicateRequest,
    JobCreate,
    JobDetail,
    JobList,
    JobOut,
    JobUpdate,
    MoveRequest,
    RenderRequest,
    ResumeRequest,
)
from shared import commands as cmd
from shared import telemetry
from shared.auth import PROJECT_PATTERN, Caller, Role, requires
from shared.errors import InvalidInput, TransitionRefused
from shared.httpapi import refusals
from shared.jobstate import Column, JobState, JobStateName
from shared.options import RenderSettings

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[requires(Role.OPERATOR)])
REFUSALS = refusals(401, 403, 404, 409, 422, 429)
BATCH_MAX_BYTES = 5 * 2**20
FINAL = ("DONE", "FAILED", "CANCELLED")
OFFSET_MAX = 10**9  # what a database's 64-bit OFFSET holds, with room to spare


async def _settled(ctx: BoardContext, state: JobState) -> JobOut:
    """Wait (briefly) until the projection shows this write, so a following GET sees it."""
    stream = await ctx.store.load(state.job_id)
    await ctx.hub.wait_for(stream.last_seq, timeout=2.0)
    return queries.job_from_state(stream.state)


async def _create(ctx: BoardContext, body: JobCreate, create: cmd.CreateJob) -> JobState:
    job_id = str(uuid.uuid4())
    with telemetry.span("create job", ctx.store.bus.service, job_id=job_id):
        state, _ = await ctx.store.execute(job_id, create)
        if body.start:
            state, _ = await ctx.store.execute(
                job_id, cmd.MoveToColumn(column=body.start, actor=create.actor)
            )
    return state


@router.post("", status_code=status.HTTP_201_CREATED, responses=REFUSALS | refusals(503))
async def create_job(body: JobCreate, ctx: Ctx, caller: Caller) -> JobOut:
    """Create a job (DRAFT -> READY). With `start`, run it until that column right away."""
    create = await inputs.create_command(ctx, body, caller.name, caller.project_for(body.project))
    state = await _create(ctx, body, create)
    return await _settled(ctx, state)


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    responses=REFUSALS | refusals(413),
    max_body_size=BATCH_MAX_BYTES + 64 * 1024,
)
async def import_batch(
    file: UploadFile, ctx: Ctx, caller: Caller, start: Annotated[Column | None, Query()] = None
) -> BatchOut:
    """Create many jobs from a JSONL or CSV file (title, brief, language, ... per row).

    Every row is checked first; if any is wrong, nothing is created and each error names its row.
    """
    raw = await file.read(BATCH_MAX_BYTES + 1)
    if len(raw) > BATCH_MAX_BYTES:
        raise InvalidInput("file", f"is larger than {BATCH_MAX_BYTES // 2**20} MB; split it")
    bodies, errors = batch.validate(batch.parse(raw, file.filename or ""), start)
    commands = []
    for number, body in bodies:
        try:
            project = caller.project_for(body.project)
            commands.append((body, await inputs.create_command(ctx, body, caller.name, project)))
        except InvalidInput as err:
            errors.append({"field": f"row {number}: {err.field}", "message": err.message})
    if errors:
        raise InvalidInput.of(errors, f"{len(errors)} problem(s); nothing was imported")
    ids = [(await _create(ctx, body, create)).job_id for body, create in commands]
    await ctx.hub.wait_for((await ctx.store.load(ids[-1])).last_seq, timeout=2.0)
    return BatchOut(count=len(ids), created=ids)


@router.post("/retry-failed")
async def retry_failed(ctx: Ctx, caller: Caller) -> BatchOut:
    """Retry every failed job (of the caller's project) from its failed step."""
    failed = await queries.list_jobs(ctx.engine, "FAILED", 500, 0, caller.scope)
    retried = []
    for job in failed.items:
        with contextlib.suppress(TransitionRefused):  # it moved on since the list was read
            state, _ = await ctx.store.execute(job.id, cmd.Resume(actor=caller.name), join_job_trace=True)
            retried.append(job.id)
            await _settled(ctx, state)
    return BatchOut(count=len(retried), created=retried)


@router.get("")
async def list_jobs(
    ctx: Ctx,
    caller: Caller,
    state: JobStateName | None = None,
    project: Annotated[
        str | None, Query(pattern=PROJECT_PATTERN, description="every-project keys only: one project's jobs")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
    waiting_review: Annotated[
        bool, Query(description="only the jobs paused until a person reviews them and moves them on")
    ] = False,
) -> JobList:
    """Jobs, newest first, a page at a time (`limit`, `offset`; `total` counts every match)."""
    scope = caller.scope if caller.scope is not None else project
    value = state.value if state else None
    return await queries.list_jobs(ctx.engine, value, limit, offset, scope, waiting_review)


@router.get("/{job_id}", responses=REFUSALS)
async def get_job(job_id: uuid.UUID, ctx: Ctx, caller: Caller) -> JobDetail:
    return await queries.get_job(ctx.engine, str(job_id), caller.scope)


@router.patch("/{job_id}", responses=REFUSALS)
async def edit_job(job_id: uuid.UUID, body: JobUpdate, ctx: Ctx, caller: Caller) -> JobOut:
    """Change a job that has not started (DRAFT or READY); 409 once it has."""
    await queries.check_job(ctx.engine, str(job_id), caller.scope)
    job = (await ctx.store.load(str(job_id))).state
    command = await inputs.configure_command(ctx, job, body, caller.name)
    state, _ = await ctx.store.execute(str(job_id), command, join_job_trace=True)
    return await _settled(ctx, state)


async def _command(ctx: BoardContext, caller: Caller, job_id: uuid.UUID, command: cmd.Command) -> JobOut:
    # 404 for unknown ids, and for other projects' jobs, before anything is decided
    await queries.check_job(ctx.engine, str(job_id), caller.scope)
    state, _ = await ctx.store.execute(str(job_id), command, join_job_trace=True)
    return await _settled(ctx, state)


@router.put("/{job_id}/auto-video", responses=REFUSALS)
async def set_job_auto_video(job_id: uuid.UUID, body: AutoVideo, ctx: Ctx, caller: Caller) -> JobOut:
    """Auto video for this job; switching it on moves a paused job along."""
    return await _command(ctx, caller, job_id, cmd.SetAutoVideo(enabled=body.enabled, actor=caller.name))


@router.post("/{job_id}/move", responses=REFUSALS)
async def move_job(job_id: uuid.UUID, body: MoveRequest, ctx: Ctx, caller: Caller) -> JobOut:
    """Drag a card: run the job until the column's step (refused with 409 when not allowed)."""
    return await _command(ctx, caller, job_id, cmd.MoveToColumn(column=body.column, actor=caller.name))


@router.post("/{job_id}/cancel", responses=REFUSALS)
async def cancel_job(job_id: uuid.UUID, ctx: Ctx, caller: Caller) -> JobOut:
    """Stop the running step (a render in progress is killed within a second or two)."""
    return await _command(ctx, caller, job_id, cmd.Cancel(actor=caller.name))


@router.post("/{job_id}/resume", responses=REFUSALS)
async def resume_job(job_id: uuid.UUID, ctx: Ctx, caller: Caller) -> JobOut:
    return await _command(ctx, caller, job_id, cmd.Resume(actor=caller.name))


@router.post("/{job_id}/retry", responses=REFUSALS | refusals(503))
async def retry_job(job_id: uuid.UUID, ctx: Ctx, caller: Caller, body: ResumeRequest | None = None) -> JobOut:
    """Retry from the failed step; `instruction` is handed to a retried script step. With
    `current_config`, the recipe's items are resolved again first (a preset fixed since the job
    failed), and the new versions are recorded in the job's events."""
    config = None
    if body is not None and body.current_config:
        await queries.check_job(ctx.engine, str(job_id), caller.scope)
        job = (await ctx.store.load(str(job_id))).state
        if job.state not in (JobStateName.FAILED, JobStateName.CANCELLED):
            raise TransitionRefused(str(job.state), "retry", "only failed or cancelled jobs can be retried")
        config = await inputs.current_config(ctx, job)
    resume = cmd.Resume(instruction=body.instruction if body else None, config=config, actor=caller.name)
    return await _command(ctx, caller, job_id, resume)


@router.post("/{job_id}/render", responses=REFUSALS)
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
    return await _command(ctx, caller, job_id, cmd.Render(settings=settings, actor=caller.name))


@router.post("/{job_id}/duplicate", status_code=status.HTTP_201_CREATED, responses=REFUSALS | refusals(503))
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
    state = await _create(ctx, fields, create)
    return await _settled(ctx, state)


async def _visible(job_id: uuid.UUID, ctx: Ctx, caller: Caller) -> None:
    """A 404 before a stream starts (an error inside a started stream could only cut it)."""
    await queries.check_job(ctx.engine, str(job_id), caller.scope)


@router.get(
    "/{job_id}/stream",
    response_class=EventSourceResponse,
    responses=REFUSALS,
    dependencies=[Depends(_visible)],
)
async def follow_job(
    job_id: uuid.UUID,
    request: Request,
    ctx: Ctx,
    caller: Caller,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: the job as it is now, then again after every change."""
    key = str(job_id)
    queue = ctx.hub.subscribe()
    try:
        job = await queries.get_job(ctx.engine, key, caller.scope)
        last_sent = job.events[-1].seq if job.events else 0
        if last_event_id != str(last_sent):
            yield ServerSentEvent(event="job", data=job.model_dump(mode="json"), id=str(last_sent))
        while job.state not in FINAL and not await request.is_disconnected():
            try:
                applied = await asyncio.wait_for(queue.get(), timeout=5.0)
            except TimeoutError:
                continue
            if applied.job_id != key:
                continue
            while not queue.empty():  # coalesce a burst of progress into one update
                queue.get_nowait()
            job = await queries.get_job(ctx.engine, key, caller.scope)
            yield ServerSentEvent(event="job", data=job.model_dump(mode="json"), id=str(job.events[-1].seq))
    finally:
        ctx.hub.unsubscribe(queue)
