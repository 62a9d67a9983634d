"""The board as a whole: `GET /api/v1/board`, its live stream, the global Auto video switch, templates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi import Path as PathParam
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from services.board import inputs, queries
from services.board.boardconfig import DEFAULT_RECIPE, Template
from services.board.context import BoardContext, Ctx
from services.board.schemas import AutoVideo, BoardOut, ErrorOut, JobFields
from shared.auth import SAFE_METHODS, Caller
from shared.config import LANGUAGES, MUSIC_BEDS, Project, Recipe, config_key
from shared.options import DurationPreset, StoryType, VisualMode
from shared.pipeline import (
    COLUMN_ORDER,
    PAUSED_STATES,
    PIPELINE,
    RUNNING_STATES,
    JobStateName,
    Pipeline,
)


async def _guard(request: Request, caller: Caller) -> None:
    """Everyone reads the board; its switch and templates are every project's, so changing them
    takes an admin of every project."""
    if request.method in SAFE_METHODS:
        return
    caller.require_every_project("changing the board's settings and templates")


router = APIRouter(prefix="/api/v1", tags=["board"], dependencies=[Depends(_guard)])


async def _board(ctx: BoardContext, project: str | None) -> BoardOut:
    return await queries.board(ctx.engine, await ctx.board_config.auto_video(), ctx.hub.position, project)


@router.get("/board")
async def get_board(ctx: Ctx, caller: Caller) -> BoardOut:
    """Every job (of the caller's project), by column, and the global Auto video switch."""
    return await _board(ctx, caller.scope)


@router.get("/board/stream", response_class=EventSourceResponse)
async def board_stream(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    last_event_id: Annotated[str | None, Header()] = None,
    since: Annotated[int | None, Query(ge=0)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: `board` (everything) on connect, then `card` for every change.

    A browser that reconnects sends `Last-Event-ID`; it gets only the cards that changed since.
    """
    queue = ctx.hub.subscribe()
    try:
        resume = (
            since if since is not None else (int(last_event_id) if (last_event_id or "").isdigit() else None)
        )
        if resume is None or resume > ctx.hub.position:
            board = await _board(ctx, caller.scope)
            yield ServerSentEvent(event="board", data=board.model_dump(mode="json"), id=str(board.position))
        else:
            position = ctx.hub.position
            changed = await queries.changed_since(ctx.engine, resume)
            for card in await queries.cards(ctx.engine, caller.scope, changed):
                yield ServerSentEvent(event="card", data=card.model_dump(mode="json"), id=str(position))
        while not await request.is_disconnected():
            try:
                first = await asyncio.wait_for(queue.get(), timeout=5.0)
            except TimeoutError:
                continue
            changed, last = {first.job_id}, first.seq
            await asyncio.sleep(0.01)  # let a burst land, then send each card once
            while not queue.empty():
                applied = queue.get_nowait()
                changed.add(applied.job_id)
                last = max(last, applied.seq)
            for card in await queries.cards(ctx.engine, caller.scope, changed):
                yield ServerSentEvent(event="card", data=card.model_dump(mode="json"), id=str(last))
    finally:
        ctx.hub.unsubscribe(queue)


class RecipeChoice(BaseModel):
    slug: str
    name: str
    format: str
    checkpoints: list[str] = Field(description="steps after which its jobs pause for review")


class FormOptions(BaseModel):
    """What the New-video form offers, so the page hard-codes none of it."""

    recipes: list[RecipeChoice] = Field(description="the recipes the caller's project may use")
    default_recipe: str
    languages: list[str]
    story_types: list[str]
    duration_presets: list[str]
    visual_modes: list[str]
    voice_presets: list[str]
    music: list[str] = Field(description="the built-in music beds; audio uploads are chosen by id")
    templates: list[Template]
    auto_video: bool
    lifecycle: Lifecycle


class StepRow(BaseModel):
    """A row of the pipeline table, as the pages need it."""

    name: str
    column: str
    running: str
    done: str
    needs: list[str]
    weight: float


class Lifecycle(BaseModel):
    """The job lifecycle and the pipeline table (shared/pipeline.py): the pages copy none of it."""

    states: list[str]
    columns: list[str]
    running_states: list[str] = Field(description="a step runs: the card shows progress")
    paused_states: list[str] = Field(description="waiting for a person, or for Auto video")
    steps: list[StepRow]

    @classmethod
    def of(cls, pipeline: Pipeline) -> Lifecycle:
        return cls(
            states=list(JobStateName),
            columns=list(COLUMN_ORDER),
            running_states=list(RUNNING_STATES),
            paused_states=list(PAUSED_STATES),
            steps=[
                StepRow(
                    name=s.name,
                    column=s.column,
                    running=s.running,
                    done=s.done,
                    needs=list(s.needs),
                    weight=s.weight,
                )
                for s in pipeline
            ],
        )


async def _recipes(ctx: BoardContext, project: str | None) -> tuple[list[RecipeChoice], str]:
    """The recipes published (a project that lists its own: those) and the one chosen first."""
    allowed: tuple[str, ...] = ()
    default = DEFAULT_RECIPE
    found = await ctx.config.get(config_key("project", project), Project) if project else None
    if found is not None:
        allowed, default = found[0].recipes, found[0].default_recipe or DEFAULT_RECIPE
    choices = []
    for slug in await ctx.config.names("recipe"):
        recipe = await ctx.config.get(config_key("recipe", slug), Recipe)
        if recipe is not None and (not allowed or slug in allowed):
            item = recipe[0]
            checkpoints = [str(step) for step in item.checkpoints]
            choices.append(
                RecipeChoice(slug=slug, name=item.name or slug, format=item.format, checkpoints=checkpoints)
            )
    if choices and default not in [c.slug for c in choices]:
        default = choices[0].slug
    return choices, default


@router.get("/options")
async def form_options(ctx: Ctx, caller: Caller) -> FormOptions:
    recipes, default_recipe = await _recipes(ctx, caller.scope)
    return FormOptions(
        recipes=recipes,
        default_recipe=default_recipe,
        languages=list(LANGUAGES),
        story_types=list(get_args(StoryType)),
        duration_presets=list(get_args(DurationPreset)),
        visual_modes=list(get_args(VisualMode)),
        voice_presets=await ctx.config.names("preset.voice"),
        music=list(MUSIC_BEDS),
        templates=await ctx.board_config.templates(),
        auto_video=await ctx.board_config.auto_video(),
        lifecycle=Lifecycle.of(PIPELINE),
    )


@router.get("/settings/auto-video")
async def get_auto_video(ctx: Ctx) -> AutoVideo:
    return AutoVideo(enabled=await ctx.board_config.auto_video())


@router.put("/settings/auto-video")
async def put_auto_video(body: AutoVideo, ctx: Ctx) -> AutoVideo:
    """The board's default for new jobs: ON advances after each step, OFF pauses at each *_DONE."""
    await ctx.board_config.set_auto_video(body.enabled)
    return body


class TemplateIn(JobFields):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=120)]
    recipe: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None


class TemplateList(BaseModel):
    items: list[Template]


@router.get("/templates")
async def list_templates(ctx: Ctx) -> TemplateList:
    return TemplateList(items=await ctx.board_config.templates())


TemplateSlug = Annotated[
    str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="lowercase letters, digits, dashes")
]


@router.get("/templates/{slug}", responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}})
async def get_template(slug: TemplateSlug, ctx: Ctx) -> Template:
    return await ctx.board_config.template(slug)


@router.put("/templates/{slug}", responses={422: {"model": ErrorOut}})
async def save_template(slug: TemplateSlug, body: TemplateIn, ctx: Ctx) -> Template:
    """Save the form's choices (not title, brief or images) under a name, to create jobs from."""
    template = inputs.template_from(slug, body.name, body)
    await ctx.config.resolve(
        template.recipe, template.language, template.voice_preset
    )  # refuse what cannot run
    await ctx.board_config.save_template(template)
    return template


@router.delete(
    "/templates/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def delete_template(slug: TemplateSlug, ctx: Ctx) -> None:
    await ctx.board_config.delete_template(slug)
