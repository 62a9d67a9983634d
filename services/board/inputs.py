"""From the New-video form (or a template, a batch row, an edit) to a command for `decide`.

Precedence: the request's own fields, then the template's, then the defaults. Everything that can
be checked before an event is written is checked here, each refusal naming its field.
"""

from __future__ import annotations

from typing import Any

from services.board import uploads
from services.board.boardconfig import DEFAULT_RECIPE, Template
from services.board.context import BoardContext
from services.board.schemas import JobCreate, JobFields, JobUpdate
from shared import commands as cmd
from shared import names
from shared.config import UPLOAD_ID, JobConfig, Project, Recipe, config_key
from shared.errors import InvalidInput, NotFound
from shared.jobstate import JobState
from shared.options import JobOptions

OPTION_FIELDS = (
    "story_type",
    "duration_preset",
    "voice_preset",
    "visual_mode",
    "images_count",
    "shorts",
    "music",
    "step_by_step",
)


def _given(fields: JobFields) -> dict[str, Any]:
    return {
        name: getattr(fields, name) for name in fields.model_fields_set if getattr(fields, name) is not None
    }


async def _check_uploads(
    ctx: BoardContext, images: tuple[str, ...], options: JobOptions, project: str
) -> None:
    """The job's uploads exist for its project (another project's answer as if they did not)."""
    for image in images:
        if not await uploads.visible(ctx, names.upload_object(image), image, project):
            raise InvalidInput(
                "images", f"no upload with id {image}; upload it first with POST /api/v1/uploads"
            )
    if options.visual_mode == "manual_upload" and not images:
        raise InvalidInput(
            "images", "manual upload needs at least one image; upload some or choose automatic"
        )
    await check_music(ctx, options.music, project)


async def check_music(ctx: BoardContext, music: str | None, project: str) -> None:
    """An uploaded track chosen as music exists for the job's project."""
    if (
        music
        and UPLOAD_ID.fullmatch(music)
        and not await uploads.visible(ctx, names.music_object(music), music, project)
    ):
        raise InvalidInput(
            "music", f"no audio upload with id {music}; upload the music first with POST /api/v1/uploads"
        )


async def create_command(ctx: BoardContext, body: JobCreate, actor: str, project: str) -> cmd.CreateJob:
    template: dict[str, Any] = {}
    if body.template:
        try:
            saved = await ctx.board_config.template(body.template)
        except NotFound as err:
            raise InvalidInput("template", f"{err}; save it first or leave the field out") from err
        template = saved.model_dump(exclude={"slug", "name"}, exclude_none=True)
    found = await ctx.config.get(config_key("project", project), Project)
    if found is None:
        raise InvalidInput(
            "project", f"there is no project {project!r}; create it in Configuration → projects"
        )
    values = template | _given(body)
    values.setdefault("recipe", found[0].default_recipe or DEFAULT_RECIPE)
    recipe = await ctx.config.get(config_key("recipe", values["recipe"]), Recipe)
    if recipe is not None:  # what the recipe is made for, unless the form says otherwise
        values.setdefault("language", recipe[0].default_language)
        values.setdefault("duration_preset", recipe[0].default_duration)
    options = JobOptions(**{k: values[k] for k in OPTION_FIELDS if k in values})
    images = tuple(values.get("images", ()))
    await _check_uploads(ctx, images, options, project)
    language = values.get("language", "en-US")
    config = await ctx.config.resolve(values["recipe"], language, options.voice_preset)
    auto_video = values["auto_video"] if "auto_video" in values else await ctx.board_config.auto_video()
    return cmd.CreateJob(
        title=body.title,
        brief=body.brief,
        language=language,
        images=images,
        auto_video=auto_video,
        options=options,
        config=config,
        actor=actor,
        project=project,
    )


async def configure_command(ctx: BoardContext, job: JobState, body: JobUpdate, actor: str) -> cmd.Configure:
    current = job.options.model_dump() | {
        "title": job.title,
        "brief": job.brief,
        "language": job.language,
        "images": job.images,
        "auto_video": job.auto_video,
    }
    values = current | _given(body)
    options = JobOptions(**{k: values[k] for k in OPTION_FIELDS})
    images = tuple(values["images"])
    await _check_uploads(ctx, images, options, job.project)
    config = None
    if values["language"] != job.language or options.voice_preset != job.options.voice_preset:
        assert job.config is not None
        config = await ctx.config.resolve(job.config.recipe.slug, values["language"], options.voice_preset)
    return cmd.Configure(
        title=values["title"],
        brief=values["brief"],
        language=values["language"],
        images=images,
        auto_video=values["auto_video"],
        options=options,
        config=config,
        actor=actor,
    )


async def current_config(ctx: BoardContext, job: JobState) -> JobConfig:
    """The job's recipe resolved again: the current version of every item it uses."""
    assert job.config is not None
    return await ctx.config.resolve(job.config.recipe.slug, job.language, job.options.voice_preset)


async def duplicate_command(ctx: BoardContext, job: JobState, actor: str) -> cmd.CreateJob:
    """A new job from an old one's inputs (title, brief, options, uploads), in the same project,
    with the current configuration of its recipe."""
    await _check_uploads(ctx, job.images, job.options, job.project)
    return cmd.CreateJob(
        title=job.title,
        brief=job.brief,
        language=job.language,
        images=job.images,
        auto_video=job.auto_video,
        options=job.options,
        config=await current_config(ctx, job),
        actor=actor,
        project=job.project,
        duplicate_of=job.job_id,
    )


def template_from(slug: str, name: str, fields: JobFields) -> Template:
    """A template keeps the form's choices, not its images (those belong to one video)."""
    kept = {
        k: v for k, v in _given(fields).items() if k in Template.model_fields and k not in ("slug", "name")
    }
    return Template(slug=slug, name=name, **kept)
