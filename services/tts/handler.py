"""The narration step: `outline.json` -> `narration.wav` + `cues.json` artifacts."""

from __future__ import annotations

from pydantic import ValidationError

from services.tts.narrate import Speech, narrate
from shared.errors import PermanentError
from shared.script import Script
from shared.worker import StepContext


class NarrationStep:
    def __init__(self, speech: Speech) -> None:
        self.speech = speech

    async def __call__(self, ctx: StepContext) -> dict[str, float]:
        if ctx.job.config is None:
            raise PermanentError("the job has no configuration snapshot; create it again")
        outline = await ctx.fetch("outline.json")
        try:
            script = Script.model_validate_json(outline.read_bytes())
        except ValidationError as err:
            raise PermanentError("outline.json is not a valid script; retry the script step") from err
        wav = ctx.workdir / "narration.wav"
        cues = await narrate(script, ctx.job.config.voice, self.speech, wav, ctx.progress)
        cues_path = ctx.workdir / "cues.json"
        cues_path.write_text(cues.model_dump_json(indent=1), encoding="utf-8")
        meta = {
            "duration_s": round(cues.duration, 3),
            "voice": cues.voice,
            "engine": ctx.job.config.voice.engine,
        }
        await ctx.save(wav, "narration.wav", "audio", "audio/wav", meta)
        await ctx.save(cues_path, "cues.json", "cues", "application/json", meta)
        characters = sum(len(cue.text) for cue in cues.cues)
        return {
            "audio_s": round(cues.duration, 3),
            "characters": float(characters),
            "cues": float(len(cues.cues)),
        }
