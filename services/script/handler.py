"""The script step: job -> `script.md` + `outline.json` artifacts."""

from __future__ import annotations

from services.script.writer import ScriptRequest, ScriptWriter
from shared.errors import PermanentError
from shared.options import SECTIONS
from shared.worker import StepContext


class ScriptStep:
    def __init__(self, writer: ScriptWriter) -> None:
        self.writer = writer

    async def __call__(self, ctx: StepContext) -> dict[str, float]:
        job = ctx.job
        if job.config is None:
            raise PermanentError("the job has no configuration snapshot; create it again")
        request = ScriptRequest(
            title=job.title,
            brief=job.brief,
            language=job.language,
            sections=SECTIONS[job.options.duration_preset],
            story_type=job.options.story_type,
            instruction=ctx.item.instruction,
        )
        await ctx.progress(5, "writing the script")
        script = await self.writer.write(request)
        outline = ctx.workdir / "outline.json"
        outline.write_text(script.model_dump_json(indent=2), encoding="utf-8")
        markdown = ctx.workdir / "script.md"
        markdown.write_text(script.to_markdown(), encoding="utf-8")
        meta = {"generator": script.generator, "sections": len(script.sections)}
        await ctx.save(markdown, "script.md", "script", "text/markdown; charset=utf-8", meta)
        await ctx.save(outline, "outline.json", "outline", "application/json", meta)
        words = sum(len(sentence.split()) for _, sentence in script.narration())
        return {"words": float(words), "sections": float(len(script.sections))}
