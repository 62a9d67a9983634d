"""The script studio: a job's script versions read from and written to the object store, a
person's edit checked like a model's script (the recipe's validators) and saved as a new version.

A version is a set of files (`outline.json`, `script.md`, and `ideas.md`, `outline.md`,
`metadata.json` when there are any); an edited file is stored under a name made of its content, an
unchanged one is the same object as before. Saving records `script_revised` (who, when, which
files) through `decide`, which refuses an edit while a step runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import ValidationError

from services.board.context import BoardContext
from services.board.studio_schemas import (
    MetadataOut,
    ScriptDoc,
    ScriptView,
    SectionOut,
    SentenceOut,
)
from shared import commands as cmd
from shared import names
from shared.config import VoicePreset, config_key
from shared.errors import InvalidInput, NotFound, TransitionRefused
from shared.events import VersionFile
from shared.jobstate import JobState, ScriptVersion
from shared.review import edit_refusal
from shared.script import Metadata, Script, Section, failed_fields

KINDS = {
    names.OUTLINE: ("outline", "application/json"),
    names.SCRIPT_MD: ("script", "text/markdown; charset=utf-8"),
    names.IDEAS_MD: ("ideas", "text/markdown; charset=utf-8"),
    names.OUTLINE_MD: ("outline-draft", "text/markdown; charset=utf-8"),
    names.METADATA: ("metadata", "application/json"),
}


@dataclass(frozen=True)
class Draft:
    """One version's content."""

    script: Script
    ideas: str = ""
    outline: str = ""
    metadata: Metadata | None = None


def version_of(state: JobState, number: int) -> ScriptVersion:
    versions = state.versions()
    found = next((v for v in versions if v.version == number), None)
    if found is None:
        have = f"versions 1-{len(versions)}" if versions else "no script yet"
        raise NotFound(f"version {number} of this job's script does not exist; it has {have}")
    return found


def current(state: JobState) -> ScriptVersion:
    versions = state.versions()
    if not versions:
        raise NotFound("this job has no script yet; it is written in the Script column")
    return versions[-1]


async def load(ctx: BoardContext, version: ScriptVersion) -> Draft:
    async def text(name: str) -> str:
        file = version.file(name)
        return (await ctx.artifacts.get_bytes(file.object_name)).decode() if file else ""

    script = Script.model_validate_json(await text(names.OUTLINE))
    metadata = None
    if raw := await text(names.METADATA):
        try:
            metadata = Metadata.model_validate_json(raw)
        except ValidationError:
            metadata = None  # shown as none; a person may write it again
    return Draft(script, await text(names.IDEAS_MD), await text(names.OUTLINE_MD), metadata)


def view(draft: Draft, job_voice: str) -> ScriptView:
    script = draft.script
    scenes = set(script.scenes)
    return ScriptView(
        title=script.title,
        language=script.language,
        generator=script.generator,
        sections=[
            SectionOut(
                heading=s.heading,
                paragraphs=list(s.paragraphs),
                voice_preset=s.voice.slug if s.voice and s.voice.slug != job_voice else None,
            )
            for s in script.sections
        ],
        scenes=sorted(scenes),
        sentences=[
            SentenceOut(index=n, section=section, text=text, scene=n in scenes)
            for n, (section, text) in enumerate(script.narration())
        ],
        ideas=draft.ideas,
        outline=draft.outline,
        metadata=MetadataOut.model_validate(draft.metadata.model_dump()) if draft.metadata else None,
    )


def _places(script: Script) -> list[tuple[int, int]]:
    """Each narration sentence as (section, its position in the section)."""
    counts: dict[int, int] = {}
    out = []
    for section, _ in script.narration():
        out.append((section, counts.get(section, 0)))
        counts[section] = counts.get(section, 0) + 1
    return out


def remap_scenes(before: Script, after: Script) -> tuple[int, ...]:
    """The scene markers of `before`, kept at the same sentence of the same section in `after`."""
    was, now = _places(before), {place: n for n, place in enumerate(_places(after))}
    kept = (now.get(was[n]) for n in before.scenes if n < len(was))
    return tuple(sorted({n for n in kept if n}))


def _scenes(asked: list[int], script: Script) -> tuple[int, ...]:
    last = len(script.narration()) - 1
    for n, index in enumerate(asked):
        if not 1 <= index <= last:
            raise InvalidInput(
                f"script.scenes.{n}",
                f"sentence {index} is not one the picture can change at; use 1-{last}"
                " (0 is the spoken title, under the title card)",
            )
    return tuple(sorted(set(asked)))


async def _voice(
    ctx: BoardContext, job: JobState, slug: str | None, before: Section | None, field: str
) -> VoicePreset | None:
    """A section's voice: None for the job's own; the one it had when unchanged; else resolved."""
    assert job.config is not None
    if slug is None or slug == job.config.voice.slug:
        return None
    if before is not None and before.voice is not None and before.voice.slug == slug:
        return before.voice
    found = await ctx.config.get(config_key("preset.voice", slug), VoicePreset)
    if found is None:
        known = ", ".join(await ctx.config.names("preset.voice"))
        raise InvalidInput(field, f"unknown voice preset {slug!r}; use one of {known}")
    return found[0]


async def edited(ctx: BoardContext, job: JobState, base: Draft, doc: ScriptDoc) -> Draft:
    """The draft a person's edit makes of `base`, checked by the recipe's validators."""
    sections = []
    for n, section in enumerate(doc.sections):
        before = base.script.sections[n] if n < len(base.script.sections) else None
        voice = await _voice(ctx, job, section.voice_preset, before, f"script.sections.{n}.voice_preset")
        sections.append(Section(heading=section.heading, paragraphs=tuple(section.paragraphs), voice=voice))
    script = base.script.model_copy(update={"sections": tuple(sections), "scenes": ()})
    scenes = remap_scenes(base.script, script) if doc.scenes is None else _scenes(doc.scenes, script)
    script = _checked(job, base.script, script.model_copy(update={"scenes": scenes}))
    metadata = Metadata.model_validate(doc.metadata.model_dump()) if doc.metadata else None
    return Draft(script, doc.ideas, doc.outline, metadata)


async def with_section(
    ctx: BoardContext,
    job: JobState,
    base: Draft,
    number: int,
    paragraphs: list[str] | None,
    voice: str | None,
) -> Draft:
    """`base` with section `number` (from 1) written again or given another voice (the job's own
    voice when `voice` names it), checked by the recipe's validators; the rest as it was."""
    before = base.script.sections[number - 1]
    field = "voice_preset"
    section = before.model_copy(
        update={
            "paragraphs": tuple(paragraphs) if paragraphs is not None else before.paragraphs,
            "voice": await _voice(ctx, job, voice, before, field) if voice is not None else before.voice,
        }
    )
    sections = list(base.script.sections)
    sections[number - 1] = section
    script = base.script.model_copy(update={"sections": tuple(sections)})
    script = _checked(
        job, base.script, script.model_copy(update={"scenes": remap_scenes(base.script, script)})
    )
    return Draft(script, base.ideas, base.outline, base.metadata)


def _checked(job: JobState, before: Script, script: Script) -> Script:
    """`script`, unless it breaks one of the recipe's validators; one that the version edited
    already failed (an offline draft is not held to a model's word counts) does not refuse it."""
    assert job.config is not None
    failing = {slug for slug, _, _ in failed_fields(before, job.config.validators)}
    problems = [p for p in failed_fields(script, job.config.validators) if p[0] not in failing]
    if problems:
        errors = [{"field": f"script.{where}", "message": message} for _, where, message in problems]
        raise InvalidInput.of(errors, "; ".join(message for _, _, message in problems))
    return script


def _content(draft: Draft) -> dict[str, bytes]:
    files = {
        names.OUTLINE: draft.script.model_dump_json(indent=2).encode(),
        names.SCRIPT_MD: draft.script.to_markdown().encode(),
    }
    if draft.ideas:
        files[names.IDEAS_MD] = draft.ideas.encode()
    if draft.outline:
        files[names.OUTLINE_MD] = draft.outline.encode()
    if draft.metadata is not None:
        files[names.METADATA] = draft.metadata.model_dump_json(indent=2).encode()
    return files


@dataclass(frozen=True)
class Revision:
    """Who saves, on which version, and why (a restore, a section re-recorded)."""

    actor: str
    base_version: int | None = None
    restored_from: int | None = None
    section: int | None = None

    def command(self, files: list[VersionFile]) -> cmd.ReviseScript:
        return cmd.ReviseScript(
            files=tuple(files),
            base_version=self.base_version,
            restored_from=self.restored_from,
            section=self.section,
            actor=self.actor,
        )


async def save(
    ctx: BoardContext, job: JobState, base: tuple[ScriptVersion, Draft], draft: Draft, revision: Revision
) -> JobState:
    """Store the draft's changed files and record the new version (refused while a step runs)."""
    refuse_edit(job)
    version, before = base
    unchanged = {
        names.OUTLINE: draft.script == before.script,
        names.SCRIPT_MD: draft.script.to_markdown() == before.script.to_markdown(),
        names.IDEAS_MD: draft.ideas == before.ideas,
        names.OUTLINE_MD: draft.outline == before.outline,
        names.METADATA: draft.metadata == before.metadata,
    }
    if all(unchanged.values()):
        raise InvalidInput("script", f"nothing changed since version {version.version}; edit something first")
    files = []
    for name, data in _content(draft).items():
        kept = version.file(name)
        if kept is not None and unchanged[name]:
            files.append(kept)
            continue
        object_name = names.script_version_object(job.job_id, hashlib.sha256(data).hexdigest(), name)
        size, sha = await ctx.artifacts.put_bytes(object_name, data)
        kind, mime = KINDS[name]
        files.append(
            VersionFile(
                name=name, kind=kind, object_name=object_name, mime_type=mime, size_bytes=size, sha256=sha
            )
        )
    return await record(ctx, job, revision.command(files))


async def record(ctx: BoardContext, job: JobState, command: cmd.ReviseScript) -> JobState:
    state, _ = await ctx.store.execute(job.job_id, command, join_job_trace=True)
    return state


def refuse_edit(job: JobState) -> None:
    refusal = edit_refusal(job)
    if refusal:
        raise TransitionRefused(str(job.state), "edit the script of", refusal)
