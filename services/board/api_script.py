"""The person at the pauses (issue 14): the script studio and the narration's review.

`GET/PUT /api/v1/jobs/{id}/script` (the current version, and a new one), its versions, the diff
of two, the restoring of one; re-recording one section of the narration; approving a review. An
edit is refused while a step runs (409), when it breaks one of the recipe's validators (422, with
the validator's message and the field), and for a version that does not exist (404).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from services.board import queries, studio, studio_diff
from services.board.api_jobs import REFUSALS, _settled
from services.board.context import BoardContext, Ctx
from services.board.schemas import JobOut
from services.board.studio_schemas import (
    DiffOut,
    ScriptEdit,
    ScriptOut,
    ScriptView,
    SectionRecording,
    VersionOut,
)
from shared import commands as cmd
from shared.auth import Caller, Role, requires
from shared.errors import InvalidInput, NotFound, TransitionRefused
from shared.jobstate import JobState
from shared.pipeline import RUNNING_STATES
from shared.pipeline import JobStateName as S
from shared.review import RUNNING, edit_refusal

router = APIRouter(prefix="/api/v1/jobs", tags=["review"], dependencies=[requires(Role.OPERATOR)])
Version = Annotated[int, PathParam(ge=1, le=100_000, description="a version of the job's script")]
Section = Annotated[int, PathParam(ge=1, le=50, description="a section of the script, from 1")]


async def _job(ctx: BoardContext, caller: Caller, job_id: uuid.UUID) -> JobState:
    """The job as the event store has it (404 for unknown ids and other projects' jobs)."""
    await queries.check_job(ctx.engine, str(job_id), caller.scope)
    return (await ctx.store.load(str(job_id))).state


def _voice(job: JobState) -> str:
    return job.config.voice.slug if job.config else ""


async def _answer(ctx: BoardContext, job: JobState) -> ScriptOut:
    version = studio.current(job)
    refusal = edit_refusal(job)
    return ScriptOut(
        version=version.version,
        editable=refusal is None,
        reason=refusal,
        versions=[
            VersionOut(
                version=v.version, actor=v.actor, at=v.at, restored_from=v.restored_from, section=v.section
            )
            for v in job.versions()
        ],
        script=studio.view(await studio.load(ctx, version), _voice(job)),
    )


@router.get("/{job_id}/script", responses=REFUSALS)
async def get_script(job_id: uuid.UUID, ctx: Ctx, caller: Caller) -> ScriptOut:
    """The script's current version, its sentences (for scene markers) and every version's author
    and time; `editable` says whether it can be edited now, `reason` why not."""
    return await _answer(ctx, await _job(ctx, caller, job_id))


@router.put("/{job_id}/script", responses=REFUSALS)
async def edit_script(job_id: uuid.UUID, body: ScriptEdit, ctx: Ctx, caller: Caller) -> ScriptOut:
    """Save a new version (at the script's review; at the narration's review the narration is
    recorded again). Refused: while a step runs (409), when `base_version` is not the current one
    (409), when the edit breaks one of the recipe's validators (422, naming the field)."""
    job = await _job(ctx, caller, job_id)
    studio.refuse_edit(job)
    version = studio.current(job)
    base = await studio.load(ctx, version)
    draft = await studio.edited(ctx, job, base, body.script)
    revision = studio.Revision(caller.name, base_version=body.base_version)
    state = await studio.save(ctx, job, (version, base), draft, revision)
    await _settled(ctx, state)
    return await _answer(ctx, state)


@router.get("/{job_id}/script/versions/{version}", responses=REFUSALS)
async def get_script_version(job_id: uuid.UUID, version: Version, ctx: Ctx, caller: Caller) -> ScriptView:
    """One version of the script as it was saved."""
    job = await _job(ctx, caller, job_id)
    return studio.view(await studio.load(ctx, studio.version_of(job, version)), _voice(job))


@router.get("/{job_id}/script/diff", responses=REFUSALS)
async def diff_script(
    job_id: uuid.UUID,
    ctx: Ctx,
    caller: Caller,
    from_version: Annotated[int, Query(alias="from", ge=1, le=100_000)],
    to_version: Annotated[
        int | None, Query(alias="to", ge=1, le=100_000, description="unset: the current")
    ] = None,
) -> DiffOut:
    """What changed from one version to another: a sentence a line, scene markers and voices marked."""
    job = await _job(ctx, caller, job_id)
    older = studio.version_of(job, from_version)
    newer = studio.version_of(job, to_version) if to_version else studio.current(job)
    lines, unified = studio_diff.diff(
        await studio.load(ctx, older),
        await studio.load(ctx, newer),
        (f"version {older.version}", f"version {newer.version}"),
    )
    return DiffOut(from_version=older.version, to_version=newer.version, lines=lines, unified=unified)


@router.post("/{job_id}/script/versions/{version}/restore", responses=REFUSALS)
async def restore_script(job_id: uuid.UUID, version: Version, ctx: Ctx, caller: Caller) -> ScriptOut:
    """Make an older version the current one again (as a new version)."""
    job = await _job(ctx, caller, job_id)
    studio.refuse_edit(job)
    old = studio.version_of(job, version)
    if old.files == studio.current(job).files:
        raise InvalidInput("version", f"version {version} is what the script says now; nothing to restore")
    restore = studio.Revision(caller.name, restored_from=version).command(list(old.files))
    state = await studio.record(ctx, job, restore)
    await _settled(ctx, state)
    return await _answer(ctx, state)


@router.post("/{job_id}/narration/sections/{section}", responses=REFUSALS)
async def rerecord_section(
    job_id: uuid.UUID, section: Section, body: SectionRecording, ctx: Ctx, caller: Caller
) -> JobOut:
    """At the narration's review: record one section again, with new text or another voice preset
    (a new script version); only that section is synthesized again."""
    job = await _job(ctx, caller, job_id)
    if job.state != S.TTS_DONE:
        waiting = "a section is re-recorded while the job waits for its narration's review (TTS_DONE)"
        reason = RUNNING if job.state in RUNNING_STATES else waiting
        raise TransitionRefused(str(job.state), "re-record a section of", reason)
    version = studio.current(job)
    base = await studio.load(ctx, version)
    sections = base.script.sections
    if section > len(sections):
        raise NotFound(f"section {section} does not exist; the script has sections 1-{len(sections)}")
    if body.paragraphs is None and body.voice_preset is None:
        raise InvalidInput("paragraphs", "give the section's new paragraphs, a voice_preset, or both")
    draft = await studio.with_section(ctx, job, base, section, body.paragraphs, body.voice_preset)
    if draft.script.sections[section - 1] == sections[section - 1]:
        raise InvalidInput(
            "paragraphs", f"nothing changed in section {section}; edit its text or choose another voice"
        )
    revision = studio.Revision(caller.name, base_version=body.base_version, section=section)
    state = await studio.save(ctx, job, (version, base), draft, revision)
    return await _settled(ctx, state)


@router.post("/{job_id}/approve", responses=REFUSALS)
async def approve_job(job_id: uuid.UUID, ctx: Ctx, caller: Caller) -> JobOut:
    """Approve the review the job waits for (script, narration or render) and go on."""
    await queries.check_job(ctx.engine, str(job_id), caller.scope)
    state, _ = await ctx.store.execute(str(job_id), cmd.Approve(actor=caller.name), join_job_trace=True)
    return await _settled(ctx, state)
