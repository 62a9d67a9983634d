"""The narration step: `outline.json` -> `narration.wav` + `cues.json` artifacts.

The voice preset picks the engine. Azure's neural voices need AZURE_SPEECH_KEY and
AZURE_SPEECH_REGION; an Azure preset's next voice is the offline voice of the language (a voice
preset names no other; see shared.config.VoicePreset). It narrates when the settings are unset;
when Azure refuses (a rejected key, a refused document), at once; when Azure is unavailable, on the
work item's last delivery (before that the error goes up and the worker asks again later). The
job's log says which voice failed and why, and the artifacts' metadata name the engine that spoke.

The offline voice narrates section by section and keeps each section (`section-<n>.wav`): after a
person re-records one section at the narration's review, only that one is synthesized again. A
section given its own voice there is spoken by it (a neural preset by its language's offline voice,
and then the whole narration is the offline engine's).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from services.tts import azure
from services.tts.narrate import Speech, narrate, narrate_ssml
from services.tts.sections import EarlierSections
from shared import names
from shared.config import LANGUAGES, VoicePreset
from shared.cues import Cues
from shared.errors import PermanentError, RetryableError
from shared.script import Script
from shared.worker import Output, StepInput, StepMetrics, StepResult


def offline_voice(voice: VoicePreset, language: str) -> VoicePreset:
    """The offline voice that takes over from a neural preset that cannot narrate."""
    return VoicePreset(slug=voice.slug, voice=LANGUAGES.get(language, "en-us"))


class NarrationStep:
    def __init__(
        self, speech: Speech, neural: Callable[[], azure.Synthesizer] = azure.AzureSynthesizer
    ) -> None:
        self.speech = speech
        self.neural = neural

    async def __call__(self, step: StepInput) -> StepResult:
        config, progress = step.config, step.run.progress
        try:
            script = Script.model_validate_json(step.read(names.OUTLINE).read_bytes())
        except ValidationError as err:
            raise PermanentError(f"{names.OUTLINE} is not a valid script; retry the script step") from err
        wav = step.workdir / names.NARRATION
        voice, skipped, cues = config.voice, None, None
        own = {n: s.voice for n, s in enumerate(script.sections, start=1) if s.voice is not None}
        if voice.engine == "azure" and not own:
            cues, skipped = await self._neural(step, script, wav)
        if voice.engine == "azure" and cues is None:
            voice = offline_voice(voice, script.language)
        if cues is None:
            voices = {
                n: offline_voice(v, script.language) if v.engine == "azure" else v for n, v in own.items()
            }
            kept = step.run.spec.writes_artifact(names.section_audio(0))  # (not in a job of before)
            cache = EarlierSections(step) if kept else None
            cues = await narrate(script, voice, self.speech, wav, progress, cache, voices)
        cues_path = step.workdir / names.CUES
        cues_path.write_text(cues.model_dump_json(indent=1), encoding="utf-8")
        meta: dict[str, str | float] = {
            "duration_s": round(cues.duration, 3),
            "voice": cues.voice,
            "engine": voice.engine,
        }
        if skipped:
            meta["skipped"] = skipped
        characters = sum(len(cue.text) for cue in cues.cues)
        cost = (
            round(characters * azure.USD_PER_MILLION_CHARACTERS / 1e6, 6) if voice.engine == "azure" else None
        )
        return StepResult(
            outputs=(
                Output(wav, names.NARRATION, "audio", "audio/wav", meta),
                Output(cues_path, names.CUES, "cues", "application/json", meta),
            ),
            metrics=StepMetrics(
                audio_s=round(cues.duration, 3),
                characters=float(characters),
                cues=float(len(cues.cues)),
                cost_usd=cost,
            ),
        )

    async def _neural(self, step: StepInput, script: Script, wav: Path) -> tuple[Cues | None, str | None]:
        """The neural voice's cues, or None and why the offline voice narrates instead."""
        config, progress = step.config, step.run.progress
        offline = offline_voice(config.voice, script.language).voice
        if reason := azure.missing():
            said = f"the neural voice is skipped ({reason}); the offline voice {offline} narrates"
            await progress(1, said, log=True)
            return None, f"azure: {reason}"
        try:
            return await narrate_ssml(script, config.voice, config.ssml, self.neural(), wav, progress), None
        except azure.Refused as err:
            failed = f"azure failed: {err.message}"
        except RetryableError as err:
            if not step.last_delivery:
                raise  # the worker says so in the job's log, and asks Azure again later
            failed = f"azure failed on try {step.delivery} of {step.deliveries}: {err.message}"
        await progress(1, f"{failed}; the offline voice {offline} narrates instead", log=True)
        return None, failed
